import { createHash } from 'node:crypto';

import { LRUCache } from 'lru-cache';

import { decodeAndCrop, type ImageLimits } from '../../functions/clip';
import type { EmbedItem, EmbedRequest, ModelDescription } from '../../functions/protocol';
import type { InferenceBackend } from '../backends/backend';
import { ErrorCode, GatewayError } from '../errors';
import type { GatewayMetrics } from '../metrics';
import { Batcher, type BatcherOptions, type BatchResult } from './batcher';

export interface EmbeddingServiceOptions {
  batching: Pick<BatcherOptions, 'maxBatchSize' | 'maxDelayMs'> & Partial<Pick<BatcherOptions, 'maxBatchBytes'>>;
  /** Text embeddings kept (label prompts are embedded once). */
  textCacheSize: number;
  /** Image embeddings kept, keyed by the SHA-256 of the encoded bytes. */
  imageCacheSize: number;
  imageLimits: ImageLimits;
  log: (message: string, error?: unknown) => void;
}

type Kind = 'text' | 'image';

interface InFlight {
  key: string;
  promise: Promise<Float32Array>;
  waiters: number;
  abandon: AbortController;
}

/**
 * The shared, cross-request half of embedding: caches, in-flight deduplication and the batchers
 * that coalesce inputs from concurrent requests into backend batches. Per-request deduplication
 * happens before this, in the DataLoaders.
 */
export class EmbeddingService {
  private readonly textCache: LRUCache<string, Float32Array>;
  private readonly imageCache: LRUCache<string, Float32Array>;
  /**
   * Inputs being computed right now: a second request for one joins the first instead of
   * repeating it. The work is abandoned (if it has not reached the model yet) only when every
   * request waiting for it has gone.
   */
  private readonly inFlight = new Map<string, InFlight>();
  private readonly textBatcher: Batcher<string, Float32Array>;
  private readonly imageBatcher: Batcher<Uint8Array, Float32Array>;
  private readonly modelKey: string;

  constructor(
    private readonly backend: InferenceBackend,
    readonly model: ModelDescription,
    private readonly options: EmbeddingServiceOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    this.textCache = new LRUCache({ max: options.textCacheSize });
    this.imageCache = new LRUCache({ max: options.imageCacheSize });
    this.modelKey = `${model.info.name}|${model.info.dtype}`;
    // A remote backend has a payload budget per call: batches are cut to fit it, so one call
    // carries one batch (the backend still splits anything that does not fit).
    const budget = backend.requestBudget;
    const batcherOptions = {
      ...options.batching,
      maxConcurrentBatches: backend.concurrency,
      ...(budget ? { maxBatchBytes: budget.maxBytes } : {}),
    };
    this.textBatcher = new Batcher(
      (texts) => this.runBatch('text', { kind: 'text', texts }),
      batcherOptions,
      budget ? (text) => budget.sizeOf('text', text) : undefined,
      this.batchEvents('text'),
    );
    this.imageBatcher = new Batcher(
      (crops) => this.runBatch('image', { kind: 'crops', crops }),
      batcherOptions,
      budget ? (crop) => budget.sizeOf('crops', crop) : undefined,
      this.batchEvents('image'),
    );
  }

  /** `signal`: the caller has gone (its client hung up); see `inFlight`. */
  embedText(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return this.cached('text', `t|${this.modelKey}|${text}`, (abandoned) => this.textBatcher.submit(text, abandoned), signal);
  }

  /** Encoded image bytes in; decoded and cropped here, so only the compact crop goes to the backend. */
  embedImage(bytes: Uint8Array, signal?: AbortSignal): Promise<Float32Array> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    return this.cached(
      'image',
      `i|${this.modelKey}|${digest}`,
      async (abandoned) => {
        const started = performance.now();
        const crop = await decodeAndCrop(bytes, this.model.preprocess, this.options.imageLimits);
        this.metrics.imagePreprocess.observe((performance.now() - started) / 1000);
        return this.imageBatcher.submit(crop.data, abandoned);
      },
      signal,
    );
  }

  /** Sends whatever is queued and waits for every batch to come back (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.textBatcher.drain(), this.imageBatcher.drain()]);
  }

  private cached(
    kind: Kind,
    key: string,
    compute: (abandoned: AbortSignal) => Promise<Float32Array>,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    const cache = kind === 'text' ? this.textCache : this.imageCache;
    const hit = cache.get(key);
    this.metrics.cacheLookups.inc({ cache: kind, result: hit ? 'hit' : 'miss' });
    if (hit) return Promise.resolve(hit);
    let entry = this.inFlight.get(key);
    if (!entry) {
      const abandon = new AbortController();
      const promise = compute(abandon.signal).then((vector) => {
        cache.set(key, vector);
        return vector;
      });
      const created: InFlight = { key, promise, waiters: 0, abandon };
      this.inFlight.set(key, created);
      const forget = () => {
        if (this.inFlight.get(key) === created) this.inFlight.delete(key);
      };
      promise.then(forget, forget);
      entry = created;
    }
    const shared = entry;
    shared.waiters++;
    if (!signal) return shared.promise;
    if (signal.aborted) return this.leave(shared, signal);
    return new Promise<Float32Array>((resolve, reject) => {
      const onAbort = () => this.leave(shared, signal).catch(reject);
      signal.addEventListener('abort', onAbort, { once: true });
      shared.promise.then(
        (vector) => {
          signal.removeEventListener('abort', onAbort);
          resolve(vector);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** One waiter has gone; the last one to go abandons the work. */
  private leave(entry: InFlight, signal: AbortSignal): Promise<never> {
    entry.waiters--;
    if (entry.waiters === 0) {
      // Forget it at once, so that a later request for the same input starts afresh.
      if (this.inFlight.get(entry.key) === entry) this.inFlight.delete(entry.key);
      entry.abandon.abort(signal.reason);
    }
    return Promise.reject(signal.reason);
  }

  private async runBatch(kind: Kind, request: EmbedRequest): Promise<BatchResult<Float32Array>[]> {
    const started = performance.now();
    let items: EmbedItem[];
    try {
      items = await this.backend.embed(request);
    } catch (error) {
      this.metrics.inference.observe({ kind, outcome: 'failed' }, (performance.now() - started) / 1000);
      if (error instanceof GatewayError) throw error;
      this.options.log(`${kind} batch failed in the ${this.backend.kind} backend`, error);
      throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'The inference backend could not run this input; try again later.', {
        cause: error,
      });
    }
    this.metrics.inference.observe({ kind, outcome: 'ok' }, (performance.now() - started) / 1000);
    return items.map((item) =>
      item.ok ? { ok: true, value: item.vector } : { ok: false, error: new GatewayError(item.code as ErrorCode, item.message) },
    );
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
