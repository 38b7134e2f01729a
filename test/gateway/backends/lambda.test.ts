import { ClipModel } from '../../../functions/clip';
import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda, type LocalLambdaStats } from '../../../functions/lambda-local/server';
import { LambdaTransport, RemoteBackend, type RemoteBackendOptions } from '../../../gateway/backends';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The Lambda backend through the real AWS SDK against a local endpoint that speaks Lambda's Invoke
 * API and runs the real handler, with faults injected the way the service produces them.
 */
describe('RemoteBackend over Lambda', () => {
  let lambda: LocalLambda;
  let origin: string;
  let model: ClipModel;
  const logs: string[] = [];
  const backends: RemoteBackend[] = [];

  beforeAll(async () => {
    lambda = new LocalLambda(handler);
    origin = await lambda.listen();
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await lambda.close();
    await model.release();
    await (await warm()).release();
  });
  beforeEach(() => {
    lambda.clearFaults();
    logs.length = 0;
  });

  async function startBackend(options: Partial<RemoteBackendOptions> = {}, endpoint = origin): Promise<RemoteBackend> {
    const log = (message: string, error?: unknown) => logs.push(`${message}${error ? `\n${String(error)}` : ''}`);
    const backend = new RemoteBackend(
      new LambdaTransport({ functionName: 'clip', client: { endpoint, region: 'us-east-1', credentials }, log }),
      {
        timeoutMs: 2_000,
        retryBaseMs: 5,
        retryMaxMs: 20,
        circuit: { failureThreshold: 3, cooldownMs: 300 },
        log,
        ...options,
      },
    );
    backends.push(backend);
    await backend.start();
    return backend;
  }

  /** Runs `work` and returns what it gave, how long it took and the invocations it caused. */
  async function measure<T>(work: () => Promise<T>, stats: LocalLambdaStats = lambda.stats) {
    const before = stats.invocations;
    const started = performance.now();
    const result = await work();
    return { result, ms: performance.now() - started, invocations: stats.invocations - before };
  }

  const text = (texts: string[]) => ({ kind: 'text' as const, texts });

  it('describes the function and embeds like the core does (cosine ≥ 0.9999)', async () => {
    const backend = await startBackend();
    const items = await backend.embed(text(reference.texts.map((t) => t.text)));
    items.forEach((item, i) => expect(item.ok && cosine(item.vector, reference.texts[i].embedding)).toBeGreaterThanOrEqual(0.9999));
    const crops = await backend.embed({ kind: 'crops', crops: reference.images.map((i) => i.crop) });
    crops.forEach((item, i) => expect(item.ok && cosine(item.vector, reference.images[i].embedding)).toBeGreaterThanOrEqual(0.9999));
  });

  it('retries throttling with backoff and succeeds when it clears', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'throttle' }, 2);
    const { result, invocations } = await measure(() => backend.embed(text(['a red circle'])));
    expect(result[0].ok).toBe(true);
    expect(invocations).toBe(3);
  });

  it('gives up on a throttling storm after maxAttempts, with a per-item error, quickly', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'throttle' }, 50);
    const { result, invocations, ms } = await measure(() => backend.embed(text(['a', 'b'])));
    expect(result).toEqual([
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function is throttled (too many requests); try again shortly.' },
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function is throttled (too many requests); try again shortly.' },
    ]);
    expect(invocations).toBe(3);
    expect(ms).toBeLessThan(2_000);
    // Throttling says the function is busy, not broken: the circuit stays closed.
    expect(backend.breaker.state).toBe('closed');
  });

  it('abandons a hung function at the deadline and does not retry it', async () => {
    const backend = await startBackend({ timeoutMs: 300 });
    lambda.inject({ kind: 'delay', ms: 1_500 });
    const { result, invocations, ms } = await measure(() => backend.embed(text(['a blue star'])));
    expect(result).toEqual([{ ok: false, code: 'BACKEND_TIMEOUT', message: 'The CLIP function did not answer within 300 ms.' }]);
    expect(invocations).toBe(1);
    expect(ms).toBeLessThan(1_000);
  });

  it('reports a function error by code, keeps its trace in the log only, and does not retry', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'error', message: 'Segfault-ish failure in /opt/model/onnx/vision_model.onnx' });
    const { result, invocations } = await measure(() => backend.embed(text(['x'])));
    expect(result).toEqual([{ ok: false, code: 'INFERENCE_FAILED', message: 'The CLIP function failed on this batch.' }]);
    expect(invocations).toBe(1);
    expect(logs.join('\n')).toMatch(/CLIP function error Error: Segfault-ish failure[\s\S]*at /);
  });

  it('does not retry a 413 and maps it to INPUT_TOO_LARGE', async () => {
    const small = new LocalLambda(handler, { payloadLimitBytes: 50_000 });
    const smallOrigin = await small.listen();
    try {
      const backend = await startBackend({}, smallOrigin);
      const crops = Array.from({ length: 10 }, () => reference.images[0].crop);
      const { result, invocations } = await measure(() => backend.embed({ kind: 'crops', crops }), small.stats);
      expect(invocations).toBe(1);
      expect(result.every((r) => !r.ok && r.code === 'INPUT_TOO_LARGE')).toBe(true);
    } finally {
      await small.close();
    }
  });

  it('treats a malformed answer as INFERENCE_FAILED without retrying', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'malformed' });
    const { result, invocations } = await measure(() => backend.embed(text(['x'])));
    expect(result).toEqual([{ ok: false, code: 'INFERENCE_FAILED', message: 'The CLIP function returned a malformed answer.' }]);
    expect(invocations).toBe(1);
  });

  it("reports Lambda's response-size error as INPUT_TOO_LARGE", async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'oversize' });
    const { result } = await measure(() => backend.embed(text(['x'])));
    expect(result).toEqual([
      { ok: false, code: 'INPUT_TOO_LARGE', message: "The CLIP function's answer exceeded Lambda's payload limit." },
    ]);
  });

  it('retries a 5xx from the service', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'status', status: 503, errorType: 'ServiceException' });
    const { result, invocations } = await measure(() => backend.embed(text(['x'])));
    expect(result[0].ok).toBe(true);
    expect(invocations).toBe(2);
  });

  it('opens the circuit while the function is down, fails fast, then probes and recovers', async () => {
    const backend = await startBackend({ maxAttempts: 1 });
    lambda.inject({ kind: 'status', status: 502, errorType: 'EC2ThrottledException' }, 100);
    for (let i = 0; i < 3; i++) {
      const [item] = await backend.embed(text([`down ${i}`]));
      expect(item).toMatchObject({ ok: false, code: 'BACKEND_UNAVAILABLE' });
    }
    expect(backend.breaker.state).toBe('open');
    expect(await backend.ready()).toBe(false);
    const fast = await measure(() => backend.embed(text(['while open'])));
    expect(fast.invocations).toBe(0);
    expect(fast.result[0]).toMatchObject({
      ok: false,
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringMatching(/calls are paused for \d+ s while it recovers/),
    });

    lambda.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, 350));
    const probe = await measure(() => backend.embed(text(['probe'])));
    expect(probe.invocations).toBe(1);
    expect(probe.result[0].ok).toBe(true);
    expect(backend.breaker.state).toBe('closed');
    expect(await backend.ready()).toBe(true);
  });

  it('splits a batch whose images exceed 6 MB into several invocations, all answered', async () => {
    const backend = await startBackend();
    // 400 crops of 64×64×3 bytes: 6.6 MB once base64-encoded, over Lambda's 6 MiB.
    const crops = Array.from({ length: 400 }, (_, i) => {
      const crop = Uint8Array.from(reference.images[i % reference.images.length].crop);
      crop[i] ^= 1;
      return crop;
    });
    const payloadBytes = crops.reduce((sum, c) => sum + Math.ceil(c.length / 3) * 4, 0);
    expect(payloadBytes).toBeGreaterThan(6 * 1024 * 1024);
    const { result, invocations } = await measure(() => backend.embed({ kind: 'crops', crops }));
    expect(invocations).toBeGreaterThanOrEqual(2);
    expect(result).toHaveLength(400);
    const local = await model.embedCrops(crops.slice(0, 50).concat(crops.slice(350)));
    const picked = result.slice(0, 50).concat(result.slice(350));
    picked.forEach((item, i) => {
      const expected = local[i];
      expect(item.ok && expected.ok && cosine(item.vector, expected.vector)).toBeGreaterThanOrEqual(0.9999);
    });
  });

  it('caps invocations in flight (the bulkhead)', async () => {
    const backend = await startBackend({ maxInFlight: 2 });
    // Earlier tests leave abandoned (hung) invocations running; start from a quiet endpoint.
    while (lambda.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    lambda.stats.peakConcurrency = 0;
    lambda.inject({ kind: 'delay', ms: 100 }, 6);
    await Promise.all(Array.from({ length: 6 }, (_, i) => backend.embed(text([`concurrent ${i}`]))));
    expect(lambda.stats.peakConcurrency).toBe(2);
  });
});
