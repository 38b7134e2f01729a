import {
  failure,
  withItems,
  type EmbedRequest,
  type EmbedRequestItem,
  type EmbedResult,
  type ModelDescription,
} from '../../functions/clip';
import { ProtocolError, type DescribeAnswer } from '../../functions/protocol';
import { sleep, systemClock } from '../common/clock';
import { ErrorCode } from '../common/errors';
import type { BackendKind, BackendStatus, EmbedOptions, InferenceBackend, TierState } from './backend';
import { CallError, deadlineFailure, describeError, withdrawnFailure, type CallFailure } from './call-failure';
import { checkOptions, DEFAULT_REMOTE_CALL_OPTIONS, type CallOutcome, type RemoteBackendOptions } from './remote-options';
import { backoffMs, CircuitBreaker, Semaphore } from './resilience';
import type { Transport } from './transport';
import { codecFor, decodeDescribeMessage, decodeEmbedAnswer, JSON_CODEC, type WireCodec, type WireMessage } from './wire-codec';

export type { CallOutcome, RemoteBackendOptions, RemoteCallOptions } from './remote-options';
export { DEFAULT_REMOTE_CALL_OPTIONS } from './remote-options';
export type { Transport } from './transport';

/**
 * CLIP in a function elsewhere (AWS Lambda, an HTTP service), called through a Transport.
 *
 * Every call is an idempotent read (embeddings of the inputs it carries), so repeating one is
 * safe; it is repeated only when the failure says nothing ran or the service asked us to back
 * off (throttling, 5xx, connection errors). A call that timed out is never repeated: the
 * function may still be working on it, and retrying would multiply the load on a struggling
 * function (a retry storm). Failures become per-input errors; embed() itself never rejects.
 */
export class RemoteBackend implements InferenceBackend {
  readonly concurrency: number;
  readonly breaker: CircuitBreaker;
  private readonly bulkhead: Semaphore;
  private readonly options: RemoteBackendOptions;
  private readonly closing = new AbortController();
  private description?: ModelDescription;
  /** Version 1 until the function's describe answer says it speaks 2 (and the transport can carry it). */
  private codec: WireCodec = JSON_CODEC;
  /** The last readiness probe's answer and when it came (on the clock). */
  private readiness?: { ready: boolean; why: string; at: number };
  /** The probe under way, shared by every ready() asked meanwhile. */
  private probing?: Promise<boolean>;
  /** What the last call said of the function (see TierState). */
  private state: TierState = 'unknown';

  constructor(
    private readonly transport: Transport,
    options: Partial<RemoteBackendOptions> = {},
  ) {
    this.options = { ...DEFAULT_REMOTE_CALL_OPTIONS, log: () => {}, clock: systemClock, ...options };
    checkOptions(this.options);
    const { clock } = this.options;
    this.breaker = new CircuitBreaker(this.options.circuit, () => clock.now());
    this.bulkhead = new Semaphore(this.options.maxInFlight);
    this.concurrency = this.options.maxInFlight;
  }

  get kind(): Exclude<BackendKind, 'local'> {
    return this.transport.kind;
  }

  async start(): Promise<ModelDescription> {
    try {
      this.adopt(await this.observed(() => this.call(JSON_CODEC.encode({ kind: 'describe' }), decodeDescribeMessage)));
    } catch (error) {
      const reason =
        error instanceof CallError ? `${error.failure.message}${error.failure.detail ? ` (${error.failure.detail})` : ''}` : String(error);
      throw new Error(`The ${this.kind} backend at ${this.transport.target} did not describe its model: ${reason}`, { cause: error });
    }
    return this.description!;
  }

  /** The wire protocol version calls are written in: 2 when the function and the transport both can. */
  get protocol(): number {
    return this.codec.version;
  }

  /** `options.deadline`: no call or retry outlasts it; what is not done by then fails with DEADLINE_EXCEEDED. */
  async embed(request: EmbedRequest, options: EmbedOptions = {}): Promise<EmbedResult[]> {
    const dim = this.description?.info.dim;
    if (dim === undefined) throw new Error('embed() before start()');
    const answers = await Promise.all(
      this.split(request).map((call) => (call.ok ? this.embedCall(call.request, dim, options) : [call.result])),
    );
    return answers.flat();
  }

  /**
   * One `describe` call, once, outside the circuit and the bulkhead like a readiness probe: what
   * a tiered backend sends a cold function now and then, both to learn when it has capacity again
   * and to count as the failed invocation that makes the platform scale it out from zero. The
   * first description it gets is kept (a backend started cold has none). Rejects with CallError.
   */
  async wake(): Promise<ModelDescription> {
    const answer = await this.observed(async () =>
      decodeAnswer(
        await this.callWithDeadline(JSON_CODEC.encode({ kind: 'describe' }), this.options.readyTimeoutMs),
        decodeDescribeMessage,
      ),
    );
    if (!this.description) this.adopt(answer);
    return answer.description;
  }

  /** What a describe answer says: the model, and the protocol calls are written in from now on. */
  private adopt(answer: DescribeAnswer): void {
    this.description = answer.description;
    this.codec = codecFor(answer.protocols, this.transport.binary);
  }

  /**
   * Whether the function answers: false at once before start(), after close() and while the
   * circuit is open (cooling down); otherwise the answer of a `describe` probe with its own
   * deadline (`readyTimeoutMs`), reused for `readyCacheMs`, one probe at a time.
   *
   * Probes stay out of the circuit breaker and the bulkhead. They are not user traffic: a probe
   * that failed on an idle gateway would open the circuit for requests that might have
   * succeeded, a successful one would reset the count of failing embed calls (describe does not
   * run the model, so it can succeed while inference fails) or take the one call a half-open
   * circuit lets through; and a probe queued behind busy calls in the bulkhead would measure
   * this gateway's queue, not the function. Once the cooldown is over the probe decides again,
   * so that a gateway taken out of rotation while its circuit was open can come back without
   * user traffic to close the circuit.
   */
  async ready(): Promise<boolean> {
    if (this.description === undefined || this.closing.signal.aborted) return false;
    if (this.breaker.state === 'open' && this.breaker.retryInMs > 0) return false;
    if (this.transport.probes === false) return true;
    if (this.probing) return this.probing;
    const { clock, readyCacheMs } = this.options;
    if (this.readiness && clock.now() - this.readiness.at < readyCacheMs) return this.readiness.ready;
    this.probing = this.probe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** One tier: its state as the last call left it, `failing` while the circuit is open. */
  status(): BackendStatus {
    const state = this.breaker.state === 'open' ? 'failing' : this.state;
    return {
      serving: 'primary',
      tiers: [{ role: 'primary', kind: this.kind, state, ...(this.description ? { device: this.description.info.device } : {}) }],
    };
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.transport.close();
  }

  /**
   * One `describe` call, without retries, the circuit breaker or the bulkhead (see ready()). A
   * failure that says nothing about the function's health (throttling: it is busy, not broken)
   * still counts as ready. Logs when the answer changes.
   */
  private async probe(): Promise<boolean> {
    let ready: boolean;
    let why = '';
    try {
      decodeAnswer(
        await this.callWithDeadline(JSON_CODEC.encode({ kind: 'describe' }), this.options.readyTimeoutMs),
        decodeDescribeMessage,
      );
      ready = true;
    } catch (error) {
      const failure = error instanceof CallError ? error.failure : undefined;
      ready = failure !== undefined && !failure.unhealthy;
      why = failure ? `${failure.code}: ${failure.detail ?? failure.message}` : describeError(error);
    }
    // Once per change, not once per probe: a dead function would otherwise log every few seconds.
    const before = this.readiness;
    if (ready && before && !before.ready) this.options.log(`${this.kind} function at ${this.transport.target} is ready again`);
    if (why && why !== before?.why) {
      this.options.log(`${this.kind} readiness probe of ${this.transport.target} failed${ready ? ' (still ready)' : ''}: ${why}`);
    }
    this.readiness = { ready, why, at: this.options.clock.now() };
    return ready;
  }

  /** One call's results: its items' vectors and errors, or the call's failure for each of its items. */
  private async embedCall(request: EmbedRequest, dim: number, options: EmbedOptions): Promise<EmbedResult[]> {
    const count = request.items.length;
    try {
      return await this.observed(() =>
        this.call(this.codec.encode(request), (answer) => decodeEmbedAnswer(answer, count, dim), options.deadline, options.signal),
      );
    } catch (error) {
      const { code, message } =
        error instanceof CallError
          ? error.failure
          : { code: ErrorCode.BACKEND_UNAVAILABLE, message: 'The CLIP function could not be called.' };
      return Array.from({ length: count }, () => failure(code, message));
    }
  }

  /** Runs one logical call, keeps what it said of the function's state, and tells `observe`. */
  private async observed<T>(run: () => Promise<T>): Promise<T> {
    let outcome: CallOutcome = 'ok';
    try {
      return await run();
    } catch (error) {
      const failure = error instanceof CallError ? error.failure : undefined;
      outcome = failure?.cold ? 'cold' : failure && !failure.unhealthy ? 'neutral' : 'unhealthy';
      throw error;
    } finally {
      if (outcome !== 'neutral') this.state = outcome === 'ok' ? 'warm' : outcome === 'cold' ? 'cold' : 'unknown';
      this.options.observe?.(outcome);
    }
  }

  /**
   * Cuts a request into calls that fit the payload budget and the item cap, keeping the order:
   * the one place where the budget is enforced. An input that cannot fit any call fails alone.
   */
  private split(request: EmbedRequest): ({ ok: true; request: EmbedRequest } | { ok: false; result: EmbedResult })[] {
    const { codec } = this;
    const budget = this.options.maxRequestBytes - codec.overheadBytes;
    const calls: ({ ok: true; request: EmbedRequest } | { ok: false; result: EmbedResult })[] = [];
    let current: EmbedRequestItem[] = [];
    let bytes = 0;
    const flush = () => {
      if (current.length > 0) calls.push({ ok: true, request: withItems(request, current) });
      current = [];
      bytes = 0;
    };
    for (const item of request.items) {
      const size = codec.sizeOf(request.kind, item);
      if (size > budget) {
        flush();
        calls.push({
          ok: false,
          result: failure(
            ErrorCode.INPUT_TOO_LARGE,
            `The input is too large for one call to the CLIP function (${this.options.maxRequestBytes} bytes).`,
          ),
        });
        continue;
      }
      if (current.length === this.options.maxItemsPerCall || bytes + size > budget) flush();
      current.push(item);
      bytes += size;
    }
    flush();
    return calls;
  }

  /**
   * One logical call: circuit check, bulkhead, deadline, and retries for what may be retried. The
   * answer is decoded before the attempt counts as a success, so that an answer outside the
   * protocol counts against the function's health like any other failure (and fails a probe).
   * `deadline` (ms since the epoch): each attempt gets at most the time left before it, and none
   * starts after it; a call cut short by it says nothing about the function's health.
   */
  private async call<T>(
    payload: WireMessage,
    decode: (answer: WireMessage) => T,
    deadline = Number.POSITIVE_INFINITY,
    signal?: AbortSignal,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new CallError(withdrawnFailure());
      const left = deadline - Date.now();
      if (left <= 0) throw new CallError(deadlineFailure(attempt));
      if (!this.breaker.tryAcquire()) {
        throw new CallError({
          code: ErrorCode.BACKEND_UNAVAILABLE,
          message:
            this.breaker.state === 'open'
              ? `The CLIP function is failing; calls are paused for ${Math.ceil(this.breaker.retryInMs / 1000)} s while it recovers.`
              : 'The CLIP function is failing; one call is testing whether it has recovered, and the others wait for its answer.',
          retry: false,
          unhealthy: false,
        });
      }
      try {
        const answer = decodeAnswer(
          await this.bulkhead.run(() => {
            // Time spent waiting for a place in the bulkhead counts against the deadline too.
            const remaining = deadline - Date.now();
            if (remaining <= 0) throw new CallError(deadlineFailure(attempt));
            return this.callWithDeadline(
              payload,
              Math.min(this.options.timeoutMs, Math.ceil(remaining)),
              remaining < this.options.timeoutMs,
              signal,
            );
          }),
          decode,
        );
        this.breaker.success();
        return answer;
      } catch (error) {
        const failure: CallFailure =
          error instanceof CallError
            ? error.failure
            : {
                code: ErrorCode.BACKEND_UNAVAILABLE,
                message: 'The CLIP function could not be called.',
                retry: false,
                unhealthy: true,
                detail: describeError(error),
              };
        if (failure.unhealthy) this.breaker.failure();
        else this.breaker.neutral();
        // Withdrawn by the caller: nobody waits for it, and nothing went wrong.
        if (signal?.aborted) throw new CallError(withdrawnFailure());
        const last = !failure.retry || attempt + 1 >= this.options.maxAttempts || this.closing.signal.aborted;
        this.options.log(
          `${this.kind} call to ${this.transport.target} failed (attempt ${attempt + 1}/${this.options.maxAttempts}, ${last ? 'giving up' : 'retrying'}): ${failure.code}: ${failure.detail ?? failure.message}`,
        );
        if (last) throw new CallError(failure);
        await sleep(this.options.clock, backoffMs(attempt, this.options.retryBaseMs, this.options.retryMaxMs));
      }
    }
  }

  /**
   * One attempt, abandoned after `timeoutMs` or when the backend closes. `forRequests`: the time
   * is what the waiting requests have left, shorter than the function's own timeout, so running
   * out of it is their deadline passing, not the function failing to answer.
   */
  private async callWithDeadline(
    payload: WireMessage,
    timeoutMs = this.options.timeoutMs,
    forRequests = false,
    withdrawn?: AbortSignal,
  ): Promise<WireMessage> {
    const { clock } = this.options;
    const deadline = new AbortController();
    const timer = clock.setTimeout(() => deadline.abort(new Error(`deadline of ${timeoutMs} ms passed`)), timeoutMs);
    const signals = [deadline.signal, this.closing.signal, ...(withdrawn ? [withdrawn] : [])];
    try {
      return await this.transport.call(payload, AbortSignal.any(signals), timeoutMs);
    } catch (error) {
      if (withdrawn?.aborted) throw new CallError(withdrawnFailure());
      if (forRequests && deadline.signal.aborted && error instanceof CallError && error.failure.code === ErrorCode.BACKEND_TIMEOUT) {
        throw new CallError(deadlineFailure(1));
      }
      throw error;
    } finally {
      clock.clearTimeout(timer);
    }
  }
}

/** A function's answer decoded; one outside the protocol is a malformed answer (not retried: it would repeat). */
function decodeAnswer<T>(answer: WireMessage, decode: (answer: WireMessage) => T): T {
  try {
    return decode(answer);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new CallError({
      code: ErrorCode.INFERENCE_FAILED,
      message: 'The CLIP function returned a malformed answer.',
      retry: false,
      unhealthy: true,
      detail: String(error),
    });
  }
}
