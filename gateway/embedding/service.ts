import { createHash } from 'node:crypto';

import { decodeAndCrop, type EmbedRequest, type EmbedResult, type ImageLimits, type ModelDescription } from '../../functions/clip';
import { check, positiveInt } from '../../functions/options';
import type { InferenceBackend } from '../backends';
import { ErrorCode, errorFromCode, GatewayError } from '../common/errors';
import type { Logger } from '../common/log';
import type { GatewayMetrics } from '../common/metrics';
import { Batcher, type BatcherOptions } from './batcher';
import { SharedCache } from './shared-cache';

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
}

type Kind = 'text' | 'image';

/**
 * The shared, cross-request half of embedding: caches and in-flight work (SharedCache), image
 * crops, and the batchers that coalesce inputs from concurrent requests into backend batches.
 * Per-request deduplication happens before this, in the DataLoaders. What comes back from the
 * backend becomes a vector or a GatewayError here, and only here.
 */
export class EmbeddingService {
  private readonly texts: SharedCache<Float32Array>;
  private readonly images: SharedCache<Float32Array>;
  private readonly textBatcher: Batcher<string, EmbedResult>;
  private readonly cropBatcher: Batcher<Uint8Array, EmbedResult>;
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
    this.textBatcher = new Batcher((items) => this.runBatch({ kind: 'text', items }), batching, this.batchEvents('text'));
    const imageBatching = { ...batching, maxBatchSize: options.imageMaxBatchSize ?? batching.maxBatchSize };
    this.cropBatcher = new Batcher((items) => this.runBatch({ kind: 'crops', items }), imageBatching, this.batchEvents('image'));
  }

  /** `signal`: the caller has gone (its client hung up); see SharedCache. */
  embedText(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return this.shared('text', `t|${this.modelKey}|${text}`, (abandoned) => this.textBatcher.submit(text, abandoned), signal);
  }

  /** Encoded image bytes in; decoded and cropped here, so only the compact crop goes to the backend. */
  embedImage(bytes: Uint8Array, signal?: AbortSignal): Promise<Float32Array> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    return this.shared(
      'image',
      `i|${this.modelKey}|${digest}`,
      async (abandoned) => {
        const started = performance.now();
        const crop = await decodeAndCrop(bytes, this.model.preprocess, this.options.imageLimits);
        this.metrics.imagePreprocess.observe((performance.now() - started) / 1000);
        return this.cropBatcher.submit(crop.data, abandoned);
      },
      signal,
    );
  }

  /** Sends whatever is queued and waits for every batch to come back (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.textBatcher.drain(), this.cropBatcher.drain()]);
  }

  private shared(
    kind: Kind,
    key: string,
    compute: (abandoned: AbortSignal) => Promise<EmbedResult>,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    const { hit, value } = (kind === 'text' ? this.texts : this.images).get(key, (abandoned) => compute(abandoned).then(vectorOf), signal);
    this.metrics.cacheLookups.inc({ cache: kind, result: hit ? 'hit' : 'miss' });
    return value;
  }

  private async runBatch(request: EmbedRequest): Promise<EmbedResult[]> {
    const kind: Kind = request.kind === 'text' ? 'text' : 'image';
    const started = performance.now();
    try {
      const results = await this.backend.embed(request);
      this.metrics.inference.observe({ kind, outcome: 'ok' }, (performance.now() - started) / 1000);
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
    };
  }
}

/** A backend's answer for one input, as a vector or the error a client sees. */
function vectorOf(result: EmbedResult): Float32Array {
  if (result.ok) return result.vector;
  throw errorFromCode(result.code, result.message);
}
