import { check, positiveInt, positiveNumber } from '../../functions/options';
import { releaseOnce } from '../common/release';
import { BatchCost, secondsFor, type BatchTime } from './batch-cost';

/** The inference inputs an operation may need, counted from its arguments before it runs (see demand.ts); what admission reserves. */
export interface Demand {
  texts: number;
  images: number;
  /** Label prompts (labels × templates of a classify or a facet): texts, but nearly always in the text cache. */
  prompts: number;
}

export type InputKind = keyof Demand;
const KINDS: readonly InputKind[] = ['texts', 'images', 'prompts'];

/** Seconds of inference one input takes, by the kind of batch the backend runs. */
export interface InputCost {
  texts: number;
  images: number;
}

export interface AdmissionLimits {
  /**
   * Longest an admitted request may wait for the work admitted ahead of it, in ms (env
   * ADMISSION_MAX_WAIT_MS). Default: none; its deadline alone bounds the wait.
   */
  maxWaitMs?: number;
  /** Most bytes of encoded images held for embedding at once (env ADMISSION_MAX_IMAGE_BYTES). Default 256 MiB. */
  maxImageBytes: number;
}

/**
 * 256 MiB of encoded images is well above what a full queue of photographs takes and below what
 * a small container holds.
 */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = { maxImageBytes: 256 * 1024 * 1024 };

/**
 * What the estimate starts from where nothing has been timed yet (a remote backend, before its
 * first batch): ViT-B/32 on two CPU cores in ONNX Runtime (BENCHMARKS.md: 14.9 images/s, 173
 * texts/s). A GPU is far faster, so the first requests are judged cautiously until batches come back.
 */
export const DEFAULT_INPUT_COST: InputCost = { images: 1 / 14.9, texts: 1 / 173 };

/**
 * The share of a deadline kept back from admission for what the estimate leaves out: decoding,
 * the store, the HTTP and GraphQL work, and the estimate's own error.
 */
const DEADLINE_MARGIN = 0.1;
/** Weight of the newest text-cache lookup in the share of label prompts that need the model. */
const PROMPT_SMOOTHING = 0.02;

export interface AdmissionOptions {
  /** Batches the backend runs at once, which share out the queued work. Default 1. */
  concurrency?: number;
  /** Most images in one batch (IMAGE_BATCH_MAX_SIZE): an input may wait for a whole batch already running. Default 16. */
  imageBatchSize?: number;
  /** Most texts in one batch (BATCH_MAX_SIZE). Default 64. */
  textBatchSize?: number;
  /** The deadline of a request that carries none of its own (REQUEST_TIMEOUT_MS), in ms: what /readyz judges by. Default 30000. */
  requestTimeoutMs?: number;
  /** Cost per input before any batch has been timed: measured at warm-up where that is free. Default DEFAULT_INPUT_COST. */
  prior?: InputCost;
  /** The backend tier that serves new batches now: costs are learned per tier (a GPU and its CPU spillover differ). */
  servingTier?: () => string;
}

export type Admitted = { ok: true; release(): void } | { ok: false; retryAfterSeconds: number; message: string };

const seconds = (s: number) => `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;

/**
 * Admission control by time: a request is admitted while the inference admitted ahead of it
 * plus its own, at the measured cost per input, can be done within its deadline less a margin
 * (and within maxWaitMs when set); otherwise it is refused at once, cheaply, with a Retry-After
 * from the same estimate, instead of queueing into its timeout. So a burst the model can serve
 * in time is served whatever its size, and the queue under overload is as long as deadlines
 * allow, not a fixed count that fits one model and not another.
 *
 * Requests reserve their demand before they run and release it when answered. The time of the
 * work is counted in batches, from a fit of recent batches' times to their sizes (batch-cost.ts),
 * per backend tier and kind, starting from a prior cost per input; label prompts count as texts
 * by the share of text lookups the cache did not answer. A request on an idle
 * gateway is always admitted (its inputs queue behind one another: its own service time, not
 * overload). Demand is an upper bound (duplicates and cached inputs count), which errs on the
 * side of a shorter queue. Encoded image bytes held are bounded separately (memory).
 */
export class Admission {
  private readonly reserved: Demand = { texts: 0, images: 0, prompts: 0 };
  private heldImageBytes = 0;
  private readonly learned = new Map<string, Record<keyof InputCost, BatchCost>>();
  private prior: InputCost;
  private promptMissShare = 1;
  private readonly concurrency: number;
  private readonly batchSize: InputCost;
  private readonly requestTimeoutMs: number;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly options: AdmissionOptions = {},
  ) {
    check('maxImageBytes', limits.maxImageBytes, positiveInt);
    if (limits.maxWaitMs !== undefined) check('maxWaitMs', limits.maxWaitMs, positiveInt);
    this.concurrency = check('concurrency', options.concurrency ?? 1, positiveInt);
    this.batchSize = {
      images: check('imageBatchSize', options.imageBatchSize ?? 16, positiveInt),
      texts: check('textBatchSize', options.textBatchSize ?? 64, positiveInt),
    };
    this.requestTimeoutMs = check('requestTimeoutMs', options.requestTimeoutMs ?? 30_000, positiveInt);
    this.prior = { ...(options.prior ?? DEFAULT_INPUT_COST) };
  }

  /** Inputs reserved now, by kind. */
  get load(): Readonly<Demand> {
    return { ...this.reserved };
  }

  /** Seconds of inference the admitted work needs at the current estimate, shared over the backend's concurrency. */
  get queuedSeconds(): number {
    return this.secondsOf(this.reserved);
  }

  /** Seconds per input of a full batch, as the estimate stands now (the serving tier's); a label prompt's by how often the cache misses. */
  get cost(): Readonly<InputCost> & { prompts: number } {
    const images = secondsFor(this.batchTime('images'), this.batchSize.images, this.batchSize.images) / this.batchSize.images;
    const texts = secondsFor(this.batchTime('texts'), this.batchSize.texts, this.batchSize.texts) / this.batchSize.texts;
    return { images, texts, prompts: texts * this.promptMissShare };
  }

  /** Whether a one-image request with the gateway's own deadline would be refused now (for /readyz). */
  get overloaded(): boolean {
    return !this.decide({ texts: 0, images: 1, prompts: 0 }, this.requestTimeoutMs).ok;
  }

  /** `deadlineMs`: the time the request has left. */
  admit(demand: Demand, deadlineMs = this.requestTimeoutMs): Admitted {
    const decision = this.decide(demand, deadlineMs);
    if (!decision.ok) return decision;
    for (const kind of KINDS) this.reserved[kind] += demand[kind];
    return {
      ok: true,
      release: releaseOnce(() => {
        for (const kind of KINDS) this.reserved[kind] -= demand[kind];
      }),
    };
  }

  /** Replaces the prior (the cost before anything has been timed), e.g. with the warm-up's measurement. */
  setPrior(cost: InputCost): void {
    check('prior.images', cost.images, positiveNumber);
    check('prior.texts', cost.texts, positiveNumber);
    this.prior = { ...cost };
  }

  /** A batch of `size` inputs took `seconds` of inference on the tier serving now: updates that tier's fit. */
  observeBatch(kind: keyof InputCost, size: number, seconds: number): void {
    if (size <= 0 || !(seconds >= 0)) return;
    const tier = this.tier();
    let costs = this.learned.get(tier);
    if (!costs) this.learned.set(tier, (costs = { images: new BatchCost(), texts: new BatchCost() }));
    costs[kind].observe(size, seconds);
  }

  /** A text was looked up in the cache: how often label prompts are likely to need the model. */
  observeTextLookup(hit: boolean): void {
    this.promptMissShare = (1 - PROMPT_SMOOTHING) * this.promptMissShare + PROMPT_SMOOTHING * (hit ? 0 : 1);
  }

  /**
   * Holds `bytes` of one encoded image until the returned release is called; undefined when that
   * would go over maxImageBytes (unless nothing is held: one image within the size limit always fits).
   */
  holdImageBytes(bytes: number): (() => void) | undefined {
    if (!this.hasRoomForImageBytes(bytes)) return undefined;
    this.heldImageBytes += bytes;
    return releaseOnce(() => {
      this.heldImageBytes -= bytes;
    });
  }

  /** Whether `bytes` more of encoded images would be held now (checked before a request's body is read, from its length). */
  hasRoomForImageBytes(bytes: number): boolean {
    return this.heldImageBytes === 0 || this.heldImageBytes + bytes <= this.limits.maxImageBytes;
  }

  /** About how long until the admitted work has been served, in whole seconds (1 to 60): the Retry-After of refusals made before a request's demand is known. */
  get retryAfterSeconds(): number {
    return retryAfter(this.queuedSeconds);
  }

  get imageBytesHeld(): number {
    return this.heldImageBytes;
  }

  private tier(): string {
    return this.options.servingTier?.() ?? 'primary';
  }

  /** The serving tier's fitted batch time, or the prior as a cost per input before it has been timed. */
  private batchTime(kind: keyof InputCost): BatchTime {
    return this.learned.get(this.tier())?.[kind].time ?? { fixed: 0, perInput: this.prior[kind] };
  }

  /** Seconds to run `demand`'s inputs in full batches, shared over the backend's concurrency. */
  private secondsOf(demand: Demand): number {
    const images = secondsFor(this.batchTime('images'), demand.images, this.batchSize.images);
    const texts = secondsFor(this.batchTime('texts'), demand.texts + demand.prompts * this.promptMissShare, this.batchSize.texts);
    return (images + texts) / this.concurrency;
  }

  private decide(demand: Demand, deadlineMs: number): Admitted {
    const idle = KINDS.every((kind) => this.reserved[kind] === 0);
    if (idle || KINDS.every((kind) => demand[kind] === 0)) return { ok: true, release: () => {} };
    const ahead = this.queuedSeconds;
    const own = this.secondsOf(sum(this.reserved, demand)) - ahead;
    // An input may also wait for a whole image batch that is already running.
    const budget =
      (deadlineMs / 1000) * (1 - DEADLINE_MARGIN) - secondsFor(this.batchTime('images'), this.batchSize.images, this.batchSize.images);
    const { maxWaitMs } = this.limits;
    if (ahead + own > budget) {
      return this.refusal(
        ahead + own - budget,
        `the work admitted ahead of this request needs about ${seconds(ahead)} of the model and this request about ${seconds(own)}, more than the ${Math.round(deadlineMs)} ms left before its deadline allow`,
      );
    }
    if (maxWaitMs !== undefined && ahead * 1000 > maxWaitMs) {
      return this.refusal(
        ahead - maxWaitMs / 1000,
        `the work admitted ahead of this request needs about ${seconds(ahead)} of the model, longer than its most, ${maxWaitMs} ms (ADMISSION_MAX_WAIT_MS)`,
      );
    }
    return { ok: true, release: () => {} };
  }

  private refusal(excessSeconds: number, why: string): Admitted {
    return {
      ok: false,
      retryAfterSeconds: retryAfter(excessSeconds),
      message: `The gateway is overloaded: ${why}. Retry after the time in the Retry-After header.`,
    };
  }
}

/** A Retry-After in whole seconds, 1 to 60. */
function retryAfter(seconds: number): number {
  return Math.min(60, Math.max(1, Math.ceil(seconds)));
}

function sum(a: Demand, b: Demand): Demand {
  return { texts: a.texts + b.texts, images: a.images + b.images, prompts: a.prompts + b.prompts };
}
