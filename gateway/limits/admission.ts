import { check, positiveInt } from '../../functions/options';

/** The inference inputs an operation may need, counted from its arguments before it runs (see demand.ts); what admission reserves. */
export interface Demand {
  texts: number;
  images: number;
}

export type InputKind = keyof Demand;
const KINDS: readonly InputKind[] = ['texts', 'images'];

export interface AdmissionLimits {
  /** Most image inputs admitted and not yet answered, over all requests (env ADMISSION_MAX_IMAGES). */
  maxImages: number;
  /** Most text inputs admitted and not yet answered (env ADMISSION_MAX_TEXTS). */
  maxTexts: number;
  /** Most bytes of encoded images held for embedding at once (env ADMISSION_MAX_IMAGE_BYTES). */
  maxImageBytes: number;
}

/**
 * Defaults for the local backend on the benchmark's machine (BENCHMARKS.md, RELIABILITY.md). 32
 * images are two batches of 16: one running, one forming, which keeps the model busy, and an
 * admitted image waits at most for the batch ahead before its own, about 2.3 s of ViT-B/32 at
 * 14 images/s. Texts share the workers with images: under a mixed load a text batch waits for
 * the image batch ahead of it, and the soak served about 20 texts a second while images ran, so
 * with 256 admitted texts waited 9 s at p50; 64 is two text batches, about 3 s behind images and
 * next to nothing on texts alone. (Label prompts are not reserved: see OperationDemand.prompts.)
 * 256 MiB of encoded images is well above what 32 photographs take and below what a small
 * container holds.
 */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  maxImages: 32,
  maxTexts: 64,
  maxImageBytes: 256 * 1024 * 1024,
};

export function checkAdmissionLimits(limits: AdmissionLimits): void {
  check('maxImages', limits.maxImages, positiveInt);
  check('maxTexts', limits.maxTexts, positiveInt);
  check('maxImageBytes', limits.maxImageBytes, positiveInt);
}

export type Admitted = { ok: true; release(): void } | { ok: false; kind: InputKind; retryAfterSeconds: number; message: string };

/**
 * Admission control: a bound on the inference inputs in the gateway (admitted, not yet answered),
 * by kind, so that under overload the queue stays short and the excess is refused at once,
 * cheaply, with a time to come back, instead of every client waiting into its timeout.
 *
 * Requests reserve their demand before they run and release it when answered. A request is
 * admitted while its kinds' reservations plus its own stay within the bound, or when nothing of
 * that kind is reserved at all: a single request as large as the request limits allow is always
 * served on an idle gateway (its inputs queue behind one another: that is its own service time,
 * not overload). Demand is an upper bound (duplicates and cached inputs count), which errs on
 * the side of a shorter queue.
 */
export class Admission {
  private readonly reserved: Demand = { texts: 0, images: 0 };
  private heldImageBytes = 0;
  /** Seconds of inference per input of each kind, smoothed over recent batches: what Retry-After is made from. */
  private readonly secondsPerInput: Demand = { texts: 0.002, images: 0.07 };

  /** `concurrency`: batches the backend runs at once, which divides the wait. */
  constructor(
    readonly limits: AdmissionLimits,
    private readonly concurrency = 1,
  ) {
    checkAdmissionLimits(limits);
    check('concurrency', concurrency, positiveInt);
  }

  /** Inputs reserved now, by kind. */
  get load(): Readonly<Demand> {
    return { ...this.reserved };
  }

  /** Whether a request needing one input of some kind would be refused now (for /readyz). */
  get overloaded(): boolean {
    return this.reserved.images >= this.limits.maxImages || this.reserved.texts >= this.limits.maxTexts;
  }

  admit(demand: Demand): Admitted {
    for (const kind of KINDS) {
      const max = kind === 'images' ? this.limits.maxImages : this.limits.maxTexts;
      const wanted = demand[kind];
      if (wanted > 0 && this.reserved[kind] > 0 && this.reserved[kind] + wanted > max) {
        return {
          ok: false,
          kind,
          retryAfterSeconds: this.retryAfterSeconds(kind),
          message: `The gateway is overloaded: ${this.reserved[kind]} ${kind === 'images' ? 'images' : 'texts'} are waiting for the model and this request would add ${wanted}, over its bound of ${max}. Retry after the time in the Retry-After header.`,
        };
      }
    }
    for (const kind of KINDS) this.reserved[kind] += demand[kind];
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        for (const kind of KINDS) this.reserved[kind] -= demand[kind];
      },
    };
  }

  /**
   * Holds `bytes` of one encoded image until the returned release is called; undefined when that
   * would go over maxImageBytes (unless nothing is held: one image within the size limit always fits).
   */
  holdImageBytes(bytes: number): (() => void) | undefined {
    if (this.heldImageBytes > 0 && this.heldImageBytes + bytes > this.limits.maxImageBytes) return undefined;
    this.heldImageBytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.heldImageBytes -= bytes;
    };
  }

  get imageBytesHeld(): number {
    return this.heldImageBytes;
  }

  /** A batch of `size` inputs took `seconds` of inference: updates the estimate Retry-After uses. */
  observeBatch(kind: InputKind, size: number, seconds: number): void {
    if (size <= 0 || !(seconds >= 0)) return;
    this.secondsPerInput[kind] = 0.8 * this.secondsPerInput[kind] + 0.2 * (seconds / size);
  }

  /** About how long until what is reserved of `kind` has been served, in whole seconds (1 to 60). */
  retryAfterSeconds(kind: InputKind): number {
    return Math.min(60, Math.max(1, Math.ceil((this.reserved[kind] * this.secondsPerInput[kind]) / this.concurrency)));
  }
}
