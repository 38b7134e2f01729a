import { createHash } from 'node:crypto';

import { decodeAndCrop, failure, type EmbedRequest, type EmbedResult, type ImageLimits, type ModelDescription } from '../../functions/clip';
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
   * batches take and how often texts are cached (its estimate of queued work). The gateway's
   * admission control. Default: no bound.
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
  /** A text was looked up in the cache (label prompts cost the model only when it misses). */
  observeTextLookup(hit: boolean): void;
}

/**
 * One input's embedding, or why it could not be made: a GatewayError, the CLIP core's
 * ClipInputError (an image it cannot decode), the reason its request's signal aborted with, or
 * (a bug) anything else. Failures stay values from the backend's answer to the resolver, which
 * names the input (toInputError); only callers that want an exception get one (embedText).
 */
export type Embedded = { ok: true; vector: Float32Array } | { ok: false; error: unknown };

/** A text, or encoded image bytes with their SHA-256 (hex) when the caller has it already. */
export type EmbeddingInput = { kind: 'text'; text: string } | { kind: 'image'; bytes: Uint8Array; sha256?: string };

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
 * backend becomes an Embedded value here, and only here: a vector, or the failure a client sees.
 */
export class EmbeddingService {
  private readonly texts: SharedCache<EmbedResult>;
  private readonly images: SharedCache<EmbedResult>;
  private readonly textBatcher: Batcher<Queued<string>, EmbedResult>;
  private readonly cropBatcher: Batcher<Queued<Uint8Array>, EmbedResult>;
  private readonly modelKey: string;

  constructor(
    private readonly backend: InferenceBackend,
    readonly model: ModelDescription,
    private readonly options: EmbeddingServiceOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    // Only vectors are kept: a failed input is tried again by the next request that wants it.
    this.texts = new SharedCache(check('textCacheSize', options.textCacheSize, positiveInt), succeeded);
    this.images = new SharedCache(check('imageCacheSize', options.imageCacheSize, positiveInt), succeeded);
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
   * The embedding of one input, failures included: never rejects. `signal`: the caller has gone
   * (its client hung up, or its deadline passed); see SharedCache. The deadline it carries
   * (common/deadline.ts) goes with the input to the backend. Images are decoded and cropped here,
   * so only the compact crop goes to the backend.
   */
  embed(input: EmbeddingInput, signal?: AbortSignal): Promise<Embedded> {
    if (input.kind === 'text') {
      const { text } = input;
      return this.shared(
        'text',
        `t|${this.modelKey}|${text}`,
        (abandoned, deadline) => this.textBatcher.submit({ input: text, deadline }, abandoned),
        signal,
      );
    }
    const { bytes } = input;
    const digest = input.sha256 ?? createHash('sha256').update(bytes).digest('hex');
    return this.shared('image', `i|${this.modelKey}|${digest}`, (abandoned, deadline) => this.cropped(bytes, abandoned, deadline), signal);
  }

  /** A text's vector; rejects with the failure (see Embedded) for callers whose own flow throws. */
  embedText(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return this.embed({ kind: 'text', text }, signal).then(vectorOrThrow);
  }

  /** An encoded image's vector (`sha256`: its hash, when known); rejects with the failure (see Embedded). */
  embedImage(bytes: Uint8Array, signal?: AbortSignal, sha256?: string): Promise<Float32Array> {
    return this.embed({ kind: 'image', bytes, sha256 }, signal).then(vectorOrThrow);
  }

  /** Sends whatever is queued and waits for every batch to come back (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.textBatcher.drain(), this.cropBatcher.drain()]);
  }

  private shared(kind: Kind, key: string, compute: Compute<EmbedResult>, signal?: AbortSignal): Promise<Embedded> {
    const { hit, value } = (kind === 'text' ? this.texts : this.images).get(key, compute, signal, deadlineOf(signal));
    this.metrics.cacheLookups.inc({ cache: kind, result: hit ? 'hit' : 'miss' });
    if (kind === 'text') this.options.budget?.observeTextLookup(hit);
    // What rejects up to here fails for a reason that is not this input's own answer: its batch
    // failed as a whole, its request went or ran out of time, or it could not be decoded.
    return value.then(embedded, (error: unknown): Embedded => ({ ok: false, error }));
  }

  /** Decodes and crops one image within the budget for image bytes, then queues the crop. */
  private async cropped(bytes: Uint8Array, abandoned: AbortSignal, deadline: () => number): Promise<EmbedResult> {
    const { budget } = this.options;
    const release = budget ? budget.holdImageBytes(bytes.byteLength) : () => {};
    if (!release) {
      this.metrics.inputsDropped.inc({ kind: 'image', reason: 'overloaded' });
      return failure(
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

/** A backend's answer for one input, its failure as the error a client sees. */
function embedded(result: EmbedResult): Embedded {
  return result.ok ? { ok: true, vector: result.vector } : { ok: false, error: errorFromCode(result.code, result.message) };
}

function succeeded(result: EmbedResult): boolean {
  return result.ok;
}

function vectorOrThrow(result: Embedded): Float32Array {
  if (result.ok) return result.vector;
  throw result.error;
}
