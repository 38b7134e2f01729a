import { createHash } from 'node:crypto';

import { decodeAndCrop, type EmbedRequest, type EmbedResult, type ImageLimits, type ModelDescription } from '../../functions/clip';
import { check, positiveInt } from '../../functions/options';
import type { InferenceBackend } from '../backends';
import { deadlineOf } from '../common/deadline';
import { ErrorCode, errorFromCode, GatewayError } from '../common/errors';
import type { Logger } from '../common/log';
import type { GatewayMetrics } from '../common/metrics';
import { Batcher, type BatcherOptions } from './batcher';
import { SharedCache, type Compute } from './shared-cache';

export interface EmbeddingServiceOptions {
  batching: Pick<BatcherOptions, 'maxBatchSize' | 'maxDelayMs'> & Partial<Pick<BatcherOptions, 'dispatchWhenIdle'>>;
  /** Most images in one batch, when it differs from batching.maxBatchSize (which texts use). */
  imageMaxBatchSize?: number;
  /** Text embeddings kept (label prompts are embedded once). */
  textCacheSize: number;
  /** Image embeddings kept, keyed by the SHA-256 of the encoded bytes. */
  imageCacheSize: number;
  imageLimits: ImageLimits;
  log: Logger;
  /**
   * The bound on image bytes held (an image over it fails alone with OVERLOADED), told how long
   * batches take (for its Retry-After). The gateway's admission control. Default: no bound.
   */
  budget?: InferenceBudget;
}

/**
 * What the embedding service needs of admission control (limits/admission.ts satisfies it; the
 * gateway wires one to the other), declared here so that embedding depends on no layer above it.
 */
export interface InferenceBudget {
  /** Holds `bytes` of one encoded image until the returned release is called; undefined when that would go over the bound. */
  holdImageBytes(bytes: number): (() => void) | undefined;
  /** Bytes of images held now. */
  readonly imageBytesHeld: number;
  readonly limits: { readonly maxImageBytes: number };
  /** A batch of `size` inputs took `seconds` of inference. */
  observeBatch(kind: 'texts' | 'images', size: number, seconds: number): void;
}

type Kind = 'text' | 'image';

/** One input waiting for a batch, with the latest deadline of the requests that want it. */
interface Queued<T> {
  input: T;
  deadline: () => number;
}

/**
 * The shared, cross-request half of embedding: caches and in-flight work (SharedCache), image
 * crops, and the batchers that coalesce inputs from concurrent requests into backend batches.
 * Per-request deduplication happens before this, in the DataLoaders. What comes back from the
 * backend becomes a vector or a GatewayError here, and only here.
 */
export class EmbeddingService {
  private readonly texts: SharedCache<Float32Array>;
  private readonly images: SharedCache<Float32Array>;
  private readonly textBatcher: Batcher<Queued<string>, EmbedResult>;
  private readonly cropBatcher: Batcher<Queued<Uint8Array>, EmbedResult>;
  private readonly modelKey: string;

  constructor(
    private readonly backend: InferenceBackend,
    readonly model: ModelDescription,
    private readonly options: EmbeddingServiceOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    this.texts = new SharedCache(check('textCacheSize', options.textCacheSize, positiveInt));
    this.images = new SharedCache(check('imageCacheSize', options.imageCacheSize, positiveInt));
    this.modelKey = `${model.info.name}|${model.info.dtype}`;
    const batching = { ...options.batching, maxConcurrentBatches: backend.concurrency };
    this.textBatcher = new Batcher(
      (queued) => this.runBatch({ kind: 'text', items: queued.map((q) => q.input) }, latest(queued)),
      batching,
      this.batchEvents('text'),
    );
    const imageBatching = { ...batching, maxBatchSize: options.imageMaxBatchSize ?? batching.maxBatchSize };
    this.cropBatcher = new Batcher(
      (queued) => this.runBatch({ kind: 'crops', items: queued.map((q) => q.input) }, latest(queued)),
      imageBatching,
      this.batchEvents('image'),
    );
  }

  /**
   * `signal`: the caller has gone (its client hung up, or its deadline passed); see SharedCache.
   * The deadline it carries (common/deadline.ts) goes with the input to the backend.
   */
  embedText(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return this.shared(
      'text',
      `t|${this.modelKey}|${text}`,
      (abandoned, deadline) => this.textBatcher.submit({ input: text, deadline }, abandoned),
      signal,
    );
  }

  /** Encoded image bytes in; decoded and cropped here, so only the compact crop goes to the backend. */
  embedImage(bytes: Uint8Array, signal?: AbortSignal): Promise<Float32Array> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    return this.shared(
      'image',
      `i|${this.modelKey}|${digest}`,
      async (abandoned, deadline) => {
        const { budget } = this.options;
        const release = budget ? budget.holdImageBytes(bytes.byteLength) : () => {};
        if (!release) {
          this.metrics.inputsDropped.inc({ kind: 'image', reason: 'overloaded' });
          throw new GatewayError(
            ErrorCode.OVERLOADED,
            `The gateway is overloaded: it holds ${budget?.imageBytesHeld} bytes of images waiting for the model, and this one's ${bytes.byteLength} would go over its bound of ${budget?.limits.maxImageBytes}. Retry shortly.`,
          );
        }
        try {
          const started = performance.now();
          const crop = await decodeAndCrop(bytes, this.model.preprocess, this.options.imageLimits);
          this.metrics.imagePreprocess.observe((performance.now() - started) / 1000);
          return await this.cropBatcher.submit({ input: crop.data, deadline }, abandoned);
        } finally {
          release();
        }
      },
      signal,
    );
  }

  /** Sends whatever is queued and waits for every batch to come back (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.textBatcher.drain(), this.cropBatcher.drain()]);
  }

  private shared(kind: Kind, key: string, compute: Compute<EmbedResult>, signal?: AbortSignal): Promise<Float32Array> {
    const { hit, value } = (kind === 'text' ? this.texts : this.images).get(
      key,
      (abandoned, deadline) => compute(abandoned, deadline).then(vectorOf),
      signal,
      deadlineOf(signal),
    );
    this.metrics.cacheLookups.inc({ cache: kind, result: hit ? 'hit' : 'miss' });
    return value;
  }

  private async runBatch(request: EmbedRequest, deadline: number): Promise<EmbedResult[]> {
    const kind: Kind = request.kind === 'text' ? 'text' : 'image';
    const started = performance.now();
    try {
      const results = await this.backend.embed(request, Number.isFinite(deadline) ? { deadline } : {});
      const seconds = (performance.now() - started) / 1000;
      this.metrics.inference.observe({ kind, outcome: 'ok' }, seconds);
      this.options.budget?.observeBatch(kind === 'text' ? 'texts' : 'images', request.items.length, seconds);
      return results;
    } catch (error) {
      this.metrics.inference.observe({ kind, outcome: 'failed' }, (performance.now() - started) / 1000);
      if (error instanceof GatewayError) throw error;
      this.options.log(`${kind} batch failed in the ${this.backend.kind} backend`, error);
      throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'The inference backend could not run this input; try again later.', {
        cause: error,
      });
    }
  }

  private batchEvents(kind: Kind) {
    return {
      dispatched: (size: number, waitedMs: number[]) => {
        this.metrics.batchSize.observe({ kind }, size);
        for (const ms of waitedMs) this.metrics.queueDelay.observe({ kind }, ms / 1000);
      },
      left: (reason: unknown) => {
        const deadline = reason instanceof GatewayError && reason.code === ErrorCode.DEADLINE_EXCEEDED;
        this.metrics.inputsDropped.inc({ kind, reason: deadline ? 'deadline' : 'gone' });
      },
    };
  }
}

/** The latest deadline among a batch's inputs: the batch is wanted until then. */
function latest(queued: readonly Queued<unknown>[]): number {
  return Math.max(...queued.map((q) => q.deadline()));
}

/** A backend's answer for one input, as a vector or the error a client sees. */
function vectorOf(result: EmbedResult): Float32Array {
  if (result.ok) return result.vector;
  throw errorFromCode(result.code, result.message);
}
