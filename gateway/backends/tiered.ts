import type { EmbedRequest, EmbedResult, ModelDescription } from '../../functions/clip';
import { check, nonNegativeInt, timeoutMs } from '../../functions/options';
import { systemClock, type Clock } from '../common/clock';
import { ErrorCode } from '../common/errors';
import type { Logger } from '../common/log';
import type { BackendKind, BackendStatus, EmbedOptions, InferenceBackend, SpillReason, TierState } from './backend';
import { describeError, isColdError } from './call-failure';
import { modelDifference } from './model-match';
import type { CallOutcome, RemoteBackend } from './remote';
import { TierCounters } from './tier-counters';

export interface TieredBackendOptions {
  /**
   * How long a call to a primary whose state is unknown may go unanswered before the batch is
   * also sent to the spillover, in ms (env SPILL_AFTER_MS); the first answer wins. Default 1000.
   */
  spillAfterMs: number;
  /** Least time between two wake calls to a primary that cannot serve, in ms (env GPU_WAKE_INTERVAL_MS). Default 20000. */
  wakeIntervalMs: number;
}

export const DEFAULT_TIERED_OPTIONS: TieredBackendOptions = { spillAfterMs: 1_000, wakeIntervalMs: 20_000 };

/** Failures of a call, not of an input: worth sending the same input to the other tier. */
const CALL_FAILURES: ReadonlySet<string> = new Set([ErrorCode.BACKEND_UNAVAILABLE, ErrorCode.BACKEND_TIMEOUT]);

/**
 * A GPU tier that scales to zero (the primary: SageMaker, or any HTTP GPU host) in front of a tier
 * that is always there (the spillover: the CPU Lambda, or CLIP in this process).
 *
 * - While the primary is cold (no capacity: scaled to zero, copies starting) or cannot serve
 *   (never described its model, serves another model, circuit open), batches go to the
 *   spillover, and the primary gets at most one small wake call per `wakeIntervalMs`, and only
 *   while there is traffic: on SageMaker that call is the failed invocation its scale-out alarm
 *   counts, so user batches never have to fail at it. When a wake call is answered, traffic
 *   moves back.
 * - Inputs whose primary call failed as a call (unavailable, timed out; never an input's own
 *   error) are sent to the spillover while their deadline allows.
 * - A call to a primary in doubt (it failed since it last answered, or has been quiet for a wake
 *   interval and may have scaled in) that has not answered within `spillAfterMs` is also sent
 *   to the spillover. Every call is an idempotent read, so both may
 *   run: the first useful answer is the batch's, the other call is withdrawn, and the batch's
 *   promise settles once, so no result arrives twice. A local spillover runs a batch it was sent
 *   to its end (see LocalBackend.embed) and its answer is dropped.
 * - Both tiers must serve the same model (modelDifference): checked at start when both answer,
 *   and when a tier describes its model later; a tier that differs is never used.
 */
export class TieredBackend implements InferenceBackend {
  readonly concurrency: number;
  private readonly primary: RemoteBackend;
  private readonly options: TieredBackendOptions;
  private readonly counters: TierCounters;
  /** The model the gateway serves: the first tier's to describe it at start. */
  private model?: ModelDescription;
  private primaryModel?: ModelDescription;
  private spilloverModel?: ModelDescription;
  /** Why a tier cannot be used although it answers: it serves another model. */
  private primaryMismatch?: string;
  private primaryState: TierState = 'unknown';
  private lastWakeAt = Number.NEGATIVE_INFINITY;
  /** When the primary last answered a call (on the clock). */
  private lastAnswerAt = Number.NEGATIVE_INFINITY;
  private waking?: Promise<void>;
  private closed = false;

  /**
   * `primary` is made here from the callback that tells this backend how each of its calls
   * ended: the primary's state is read from its answers, not guessed.
   */
  constructor(
    makePrimary: (observe: (outcome: CallOutcome) => void) => RemoteBackend,
    private readonly spillover: InferenceBackend,
    options: Partial<TieredBackendOptions> = {},
    private readonly log: Logger = () => {},
    private readonly clock: Clock = systemClock,
  ) {
    this.options = { ...DEFAULT_TIERED_OPTIONS, ...options };
    check('spillAfterMs', this.options.spillAfterMs, nonNegativeInt);
    check('wakeIntervalMs', this.options.wakeIntervalMs, timeoutMs);
    this.primary = makePrimary((outcome) => this.observe(outcome));
    this.concurrency = Math.max(this.primary.concurrency, spillover.concurrency);
    this.counters = new TierCounters(() => clock.now());
  }

  /** The kind of the tier new batches go to now. */
  get kind(): BackendKind {
    return this.primaryServes() ? this.primary.kind : this.spillover.kind;
  }

  /**
   * Starts both tiers at once. Ready when either describes its model; when both do, they must
   * agree. A primary found cold is not a failure: it starts on the spillover.
   */
  async start(): Promise<ModelDescription> {
    const [primary, spillover] = await Promise.allSettled([this.primary.start(), this.spillover.start()]);
    if (primary.status === 'rejected' && spillover.status === 'rejected') {
      throw new Error(
        `Neither tier could start. Primary (${this.primary.kind}): ${reason(primary.reason)} Spillover (${this.spillover.kind}): ${reason(spillover.reason)}`,
      );
    }
    if (primary.status === 'fulfilled' && spillover.status === 'fulfilled') {
      const difference = modelDifference(primary.value, spillover.value);
      if (difference) {
        throw new Error(
          `The tiers serve different models, so their vectors could not be compared: primary (${this.primary.kind}) against spillover (${this.spillover.kind}): ${difference}.`,
        );
      }
    }
    if (primary.status === 'fulfilled') this.primaryModel = primary.value;
    else {
      // A cold start was seen by observe(); any other failure was a call too: the first wake call waits an interval.
      this.lastWakeAt = this.clock.now();
      if (!isColdError(primary.reason)) {
        this.log(
          `The primary tier (${this.primary.kind}) did not start; batches go to the spillover (${this.spillover.kind}) meanwhile, with a wake call at most every ${this.options.wakeIntervalMs / 1000} s while traffic lasts. ${reason(primary.reason)}`,
        );
      }
    }
    if (spillover.status === 'fulfilled') this.spilloverModel = spillover.value;
    else this.log(`The spillover tier (${this.spillover.kind}) did not start; batches stay on the primary. ${reason(spillover.reason)}`);
    this.model = this.primaryModel ?? this.spilloverModel;
    return this.model!;
  }

  async embed(request: EmbedRequest, options: EmbedOptions = {}): Promise<EmbedResult[]> {
    if (!this.model) throw new Error('embed() before start()');
    if (!this.primaryServes() && this.spilloverModel) {
      this.wakeIfDue();
      return this.onSpillover(request, options, this.primaryState === 'cold' ? 'cold' : 'unavailable');
    }
    if (this.primaryInDoubt() && this.spilloverModel) return this.hedged(request, options);
    return this.completed(request, await this.onPrimary(request, options), options);
  }

  /** Ready when either tier would serve a request sent now; the primary is asked only when the spillover cannot serve. */
  async ready(): Promise<boolean> {
    if (this.closed || !this.model) return false;
    if (this.spilloverModel && (await this.spillover.ready().catch(() => false))) return true;
    return this.primaryServes() && (await this.primary.ready().catch(() => false));
  }

  status(): BackendStatus {
    const primaryState: TierState = this.primaryMismatch || this.primary.breaker.state === 'open' ? 'failing' : this.primaryState;
    return {
      serving: this.primaryServes() ? 'primary' : 'spillover',
      tiers: [
        {
          role: 'primary',
          kind: this.primary.kind,
          state: primaryState,
          ...(this.primaryModel ? { device: this.primaryModel.info.device } : {}),
        },
        {
          role: 'spillover',
          kind: this.spillover.kind,
          // A remote spillover knows its own state (its circuit, its last call); CLIP in the gateway is warm once started.
          state: this.spilloverModel ? (this.spillover.status?.().tiers[0].state ?? 'warm') : 'failing',
          ...(this.spilloverModel ? { device: this.spilloverModel.info.device } : {}),
        },
      ],
      counters: this.counters.snapshot(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.primary.close(), this.spillover.close(), this.waking]);
  }

  /** Whether batches go to the primary: it described the same model, has capacity and its circuit lets calls through. */
  private primaryServes(): boolean {
    return (
      this.primaryModel !== undefined && !this.primaryMismatch && this.primaryState !== 'cold' && this.primary.breaker.state !== 'open'
    );
  }

  /**
   * Whether the primary's next call may hang: it failed since it last answered, or it has not
   * answered for a wake interval, long enough for a platform that scales to zero to have taken
   * its copy away (the next call would then wait for a cold start: Cloud Run and Modal hold it).
   */
  private primaryInDoubt(): boolean {
    return this.primaryState === 'unknown' || this.clock.now() - this.lastAnswerAt >= this.options.wakeIntervalMs;
  }

  private observe(outcome: CallOutcome): void {
    const before = this.primaryState;
    if (outcome === 'ok') {
      this.primaryState = 'warm';
      this.lastAnswerAt = this.clock.now();
    } else if (outcome === 'cold') this.primaryState = 'cold';
    else if (outcome === 'unhealthy') this.primaryState = 'unknown';
    if (before === this.primaryState) return;
    this.counters.primaryState(this.primaryState);
    if (this.primaryState === 'cold') {
      // The call that found it cold counts for the platform's scale-out as a wake call would.
      this.lastWakeAt = this.clock.now();
      this.log(
        `The primary tier (${this.primary.kind}) has no capacity: batches go to the spillover (${this.spillover.kind}), with a wake call at most every ${this.options.wakeIntervalMs / 1000} s while traffic lasts.`,
      );
    } else if (before === 'cold') {
      this.log(`The primary tier (${this.primary.kind}) answers again (${this.primaryState}).`);
    }
  }

  /** At most one wake call per interval, never two at once; its answer decides whether traffic moves back. */
  private wakeIfDue(): void {
    const now = this.clock.now();
    if (this.closed || this.waking || this.primaryMismatch || now - this.lastWakeAt < this.options.wakeIntervalMs) return;
    this.lastWakeAt = now;
    this.waking = this.primary
      .wake()
      .then(
        (description) => {
          this.counters.wake('ok');
          this.adoptPrimary(description);
        },
        (error: unknown) => this.counters.wake(isColdError(error) ? 'cold' : 'failed'),
      )
      .catch((error: unknown) => this.log('A wake call to the primary tier could not be handled', error))
      .finally(() => (this.waking = undefined));
  }

  /** The primary's model, first seen after start: used only if it is the gateway's. */
  private adoptPrimary(description: ModelDescription): void {
    if (this.primaryModel) return;
    const difference = modelDifference(description, this.model!);
    if (difference) {
      this.primaryMismatch = difference;
      this.log(
        `The primary tier (${this.primary.kind}) serves another model than this gateway (${this.model!.info.name}): ${difference}. It is not used; fix its model and restart the gateway.`,
      );
      return;
    }
    this.primaryModel = description;
    this.log(`The primary tier (${this.primary.kind}) described its model; batches move back to it.`);
  }

  private async onPrimary(request: EmbedRequest, options: EmbedOptions): Promise<EmbedResult[]> {
    this.counters.batch('primary', request.items.length);
    return this.primary.embed(request, options);
  }

  private async onSpillover(request: EmbedRequest, options: EmbedOptions, why: SpillReason): Promise<EmbedResult[]> {
    this.counters.batch('spillover', request.items.length);
    this.counters.spilled(why, request.items.length);
    return this.spillover.embed(request, options);
  }

  /** The primary's results, with the inputs whose call failed sent to the spillover while their deadline allows. */
  private async completed(request: EmbedRequest, results: EmbedResult[], options: EmbedOptions): Promise<EmbedResult[]> {
    const failed = results.flatMap((result, i) => (!result.ok && CALL_FAILURES.has(result.code) ? [i] : []));
    const timeLeft = options.deadline === undefined || options.deadline > Date.now();
    if (failed.length === 0 || !this.spilloverModel || !timeLeft || options.signal?.aborted) return results;
    const retried = await this.onSpillover(
      { kind: request.kind, items: failed.map((i) => request.items[i]) } as EmbedRequest,
      options,
      this.primaryState === 'cold' ? 'cold' : 'failover',
    );
    const merged = [...results];
    failed.forEach((inputIndex, k) => (merged[inputIndex] = retried[k]));
    return merged;
  }

  /**
   * The primary first; after `spillAfterMs` without its answer, the spillover too. The first
   * useful answer (no call failures in it) wins and the other call is withdrawn.
   */
  private async hedged(request: EmbedRequest, options: EmbedOptions): Promise<EmbedResult[]> {
    const primaryWithdrawn = new AbortController();
    const spilloverWithdrawn = new AbortController();
    const withSignal = (own: AbortController): EmbedOptions => ({
      ...options,
      signal: options.signal ? AbortSignal.any([own.signal, options.signal]) : own.signal,
    });
    const primaryCall = this.onPrimary(request, withSignal(primaryWithdrawn));
    let timer: unknown;
    const spillTime = new Promise<'spill'>((resolve) => (timer = this.clock.setTimeout(() => resolve('spill'), this.options.spillAfterMs)));
    const early = await Promise.race([primaryCall, spillTime]);
    if (early !== 'spill') {
      this.clock.clearTimeout(timer);
      return this.completed(request, early, options);
    }
    const spilloverCall = this.onSpillover(request, withSignal(spilloverWithdrawn), 'hedge');
    const useful = (results: EmbedResult[]) => results.every((r) => r.ok || !CALL_FAILURES.has(r.code));
    const outcome = await firstUseful([primaryCall, spilloverCall], useful);
    (outcome.index === 0 ? spilloverWithdrawn : primaryWithdrawn).abort();
    if (outcome.index === 1) this.counters.hedgeWon();
    return outcome.results;
  }
}

/**
 * The first of the calls whose results are useful; when none is, the last to settle (its
 * failures are the batch's). A call that rejects counts as settled without results.
 */
function firstUseful(
  calls: Promise<EmbedResult[]>[],
  useful: (results: EmbedResult[]) => boolean,
): Promise<{ index: number; results: EmbedResult[] }> {
  return new Promise((resolve, reject) => {
    let pending = calls.length;
    let last: { index: number; results: EmbedResult[] } | undefined;
    let lastError: unknown;
    calls.forEach((call, index) =>
      call.then(
        (results) => {
          pending--;
          if (useful(results)) return resolve({ index, results });
          last = { index, results };
          if (pending === 0) resolve(last);
        },
        (error: unknown) => {
          pending--;
          lastError = error;
          if (pending === 0) last ? resolve(last) : reject(lastError);
        },
      ),
    );
  });
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : describeError(error);
}
