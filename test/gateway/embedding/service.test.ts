import { createHash } from 'node:crypto';

import { readModelDirectory, type EmbedRequest, type EmbedResult, type ModelDescription } from '../../../functions/clip';
import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda } from '../../../functions/lambda-local/server';
import { LambdaTransport, RemoteBackend, type InferenceBackend } from '../../../gateway/backends';
import { GatewayError } from '../../../gateway/common/errors';
import { GatewayMetrics } from '../../../gateway/common/metrics';
import { EmbeddingService, type InferenceBudget } from '../../../gateway/embedding/service';
import { drawShape, loadReference, seededRandom, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

/**
 * Work for requests whose clients have gone is dropped before it reaches the model, unless
 * another request still waits for the same input. Real components: the Lambda backend through
 * the AWS SDK to a local Lambda endpoint, made slow with a delay fault so that work queues.
 */
describe('EmbeddingService and clients that hang up', () => {
  let lambda: LocalLambda;
  let backend: RemoteBackend;
  let service: EmbeddingService;
  const metrics = new GatewayMetrics();

  beforeAll(async () => {
    lambda = new LocalLambda(handler);
    const endpoint = await lambda.listen();
    const transport = new LambdaTransport({
      functionName: 'clip',
      client: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
      log: () => {},
    });
    // One call at a time, so that whatever arrives while it runs has to queue.
    backend = new RemoteBackend(transport, { maxInFlight: 1 });
    const model = await backend.start();
    service = new EmbeddingService(
      backend,
      model,
      {
        batching: { maxBatchSize: 8, maxDelayMs: 0 },
        textCacheSize: 100,
        imageCacheSize: 100,
        imageLimits: { maxBytes: 1 << 20, maxPixels: 1 << 22, fastShrinkOnLoad: false, iccProfiles: 'ignore', resampling: 'libvips' },
        log: () => {},
      },
      metrics,
    );
  });
  afterAll(async () => {
    await backend.close();
    await lambda.close();
    await (await warm()).release();
  });

  const invocations = () => lambda.stats.invocations;
  /** Texts sent to the backend so far: the sum of the text batch sizes. */
  const textsSent = async () =>
    (await metrics.batchSize.get()).values.find((v) => v.metricName === 'clip_gateway_batch_size_sum' && v.labels.kind === 'text')?.value ??
    0;

  it('drops queued work when its only requester goes, and keeps shared work for the one still waiting', async () => {
    lambda.inject({ kind: 'delay', ms: 400 });
    const busy = service.embedText('keeps the function busy');
    await new Promise((resolve) => setTimeout(resolve, 50));

    const gone = new AbortController();
    const stays = new AbortController();
    const abandoned = service.embedText('nobody waits for this any more', gone.signal);
    const sharedByGone = service.embedText('two requests want this', gone.signal);
    const sharedByStays = service.embedText('two requests want this', stays.signal);
    gone.abort(new Error('client went away'));
    await expect(abandoned).rejects.toThrow('client went away');
    await expect(sharedByGone).rejects.toThrow('client went away');

    const before = invocations();
    const sentBefore = await textsSent();
    await busy;
    const vector = await sharedByStays;
    expect(vector).toHaveLength(64);
    // After the busy call: exactly one more invocation, carrying only the shared text.
    expect(invocations() - before).toBe(1);
    expect((await textsSent()) - sentBefore).toBe(1);

    // The abandoned text was forgotten, not poisoned: asking again computes it.
    await expect(service.embedText('nobody waits for this any more')).resolves.toHaveLength(64);
  });
});

/** A backend that answers each batch from a script (a vector, or a failure) and records what it was sent. */
class ScriptedBackend implements InferenceBackend {
  readonly kind = 'lambda' as const;
  readonly concurrency = 1;
  readonly batches: EmbedRequest[] = [];
  /** What the next items answer, in order; an item past the script gets a vector. */
  script: (EmbedResult | 'throw')[] = [];
  async start(): Promise<ModelDescription> {
    return MODEL;
  }
  async embed(request: EmbedRequest): Promise<EmbedResult[]> {
    this.batches.push(request);
    return request.items.map(() => {
      const next = this.script.shift() ?? { ok: true, vector: Float32Array.of(1, 0) };
      if (next === 'throw') throw new Error('connection reset by the function');
      return next;
    });
  }
  async ready() {
    return true;
  }
  async close() {}
}

// Only the name, dtype and preprocessing matter to the service; the rest of the description is the backend's business.
const MODEL: ModelDescription = {
  info: { name: 'scripted', dtype: 'fp32' } as ModelDescription['info'],
  preprocess: readModelDirectory(TINY_CLIP_DIR).image,
};

describe('EmbeddingService: each input one Embedded value, failures included', () => {
  const limits = { maxBytes: 1 << 20, maxPixels: 1 << 22, fastShrinkOnLoad: false, iccProfiles: 'ignore', resampling: 'libvips' } as const;
  const make = (backend: InferenceBackend, budget?: InferenceBudget) =>
    new EmbeddingService(
      backend,
      MODEL,
      { batching: { maxBatchSize: 8, maxDelayMs: 0 }, textCacheSize: 10, imageCacheSize: 10, imageLimits: limits, log: () => {}, budget },
      new GatewayMetrics(),
    );
  let image: Buffer;
  beforeAll(async () => {
    image = await drawShape(loadReference(), 'red circle', seededRandom(3));
  });

  it("answers the model's failure of one input as a value with its code and message, and tries it again next time", async () => {
    const backend = new ScriptedBackend();
    const service = make(backend);
    backend.script = [{ ok: false, code: 'INFERENCE_FAILED', message: 'No output.' }];
    const failed = await service.embed({ kind: 'text', text: 'x' });
    expect(failed.ok).toBe(false);
    const error = (failed as { error: GatewayError }).error;
    expect(error).toBeInstanceOf(GatewayError);
    expect([error.code, error.message]).toEqual(['INFERENCE_FAILED', 'No output.']);
    // Not kept: the same text goes to the backend again, and its vector is kept this time.
    expect(await service.embed({ kind: 'text', text: 'x' })).toEqual({ ok: true, vector: Float32Array.of(1, 0) });
    await service.embed({ kind: 'text', text: 'x' });
    expect(backend.batches).toHaveLength(2);
    // The throwing form rejects with the same failure.
    backend.script = [{ ok: false, code: 'INFERENCE_FAILED', message: 'No output.' }];
    await expect(service.embedText('y')).rejects.toMatchObject({ code: 'INFERENCE_FAILED', message: 'No output.' });
  });

  it('answers a failed batch, an image it cannot decode and a request that went as values too', async () => {
    const backend = new ScriptedBackend();
    const service = make(backend);
    backend.script = ['throw'];
    const batch = await service.embed({ kind: 'text', text: 'a' });
    expect(batch).toEqual({ ok: false, error: expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }) });

    const undecodable = await service.embed({ kind: 'image', bytes: Uint8Array.of(1, 2, 3) });
    expect(undecodable).toEqual({ ok: false, error: expect.objectContaining({ code: 'UNSUPPORTED_IMAGE_FORMAT' }) });

    const gone = new AbortController();
    gone.abort(new Error('client went away'));
    expect(await service.embed({ kind: 'text', text: 'b' }, gone.signal)).toEqual({ ok: false, error: new Error('client went away') });
  });

  it('answers an image over the budget for image bytes with OVERLOADED, as a value, without decoding it', async () => {
    const backend = new ScriptedBackend();
    const held: number[] = [];
    const budget: InferenceBudget = {
      holdImageBytes: () => undefined,
      imageBytesHeld: 900,
      limits: { maxImageBytes: 1000 },
      observeBatch: (_kind, size) => held.push(size),
      observeTextLookup: () => {},
    };
    const refused = await make(backend, budget).embed({ kind: 'image', bytes: image });
    expect(refused.ok).toBe(false);
    expect((refused as { error: GatewayError }).error.code).toBe('OVERLOADED');
    expect((refused as { error: GatewayError }).error.message).toMatch(/holds 900 bytes .* over its bound of 1000/);
    expect(backend.batches).toEqual([]);
  });

  it("keys an image by the SHA-256 its caller gives, hashing nothing itself (the catalogue's images are hashed once)", async () => {
    const backend = new ScriptedBackend();
    const service = make(backend);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const first = await service.embed({ kind: 'image', bytes: image, sha256 });
    expect(first.ok).toBe(true);
    // The same hash answers from the cache whatever the bytes: the caller's hash is the key.
    await service.embedImage(Uint8Array.of(1, 2, 3), undefined, sha256);
    // Without one, the service hashes the bytes itself: the same key.
    await service.embedImage(image);
    expect(backend.batches).toHaveLength(1);
  });
});
