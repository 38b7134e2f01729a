import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda } from '../../../functions/lambda-local/server';
import { LambdaTransport, RemoteBackend } from '../../../gateway/backends';
import { GatewayMetrics } from '../../../gateway/common/metrics';
import { EmbeddingService } from '../../../gateway/embedding/service';

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
