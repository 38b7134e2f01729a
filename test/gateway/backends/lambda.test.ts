import type { EmbedRequest } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda, type LambdaHandler, type LocalLambdaStats } from '../../../functions/lambda-local/server';
import { LambdaTransport, RemoteBackend, type RemoteBackendOptions } from '../../../gateway/backends';
import { flushPromises, ManualClock, settled, until } from '../../helpers/clock';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const RETRY_BASE_MS = 5;
const RETRY_MAX_MS = 20;

/**
 * The real handler, except that the next invocations can be made to hang (a function stuck in
 * its work) until the test lets them go. LocalLambda's `delay` fault would do the same with a
 * real timer, but nothing can cancel that timer, and a long one keeps the test process alive.
 */
class HangingHandler {
  private toHang = 0;
  private readonly held: (() => void)[] = [];

  readonly handler: LambdaHandler = async (event) => {
    if (this.toHang > 0) {
      this.toHang--;
      await new Promise<void>((resolve) => this.held.push(resolve));
    }
    return handler(event);
  };

  /** The next `times` invocations that reach the function hang. */
  hang(times = 1): void {
    this.toHang += times;
  }

  /** Invocations hanging now. */
  get holding(): number {
    return this.held.length;
  }

  releaseOne(): void {
    this.held.shift()?.();
  }

  releaseAll(): void {
    this.toHang = 0;
    this.held.splice(0).forEach((release) => release());
  }
}

/**
 * The Lambda backend through the real AWS SDK against a local endpoint that speaks Lambda's Invoke
 * API and runs the real handler, with faults injected the way the service produces them. The
 * gateway's deadlines, backoff waits and circuit cooldown run on a clock the tests move by hand.
 */
describe('RemoteBackend over Lambda', () => {
  const fn = new HangingHandler();
  let lambda: LocalLambda;
  let origin: string;
  let model: ClipModel;
  let clock: ManualClock;
  const logs: string[] = [];
  const backends: RemoteBackend[] = [];

  beforeAll(async () => {
    lambda = new LocalLambda(fn.handler);
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
    clock = new ManualClock();
  });
  afterEach(async () => {
    // Hung invocations finish now, so that every test starts from a quiet endpoint.
    fn.releaseAll();
    await until(() => lambda.inFlight === 0, 'the function to go quiet');
  });

  async function startBackend(options: Partial<RemoteBackendOptions> = {}, endpoint = origin): Promise<RemoteBackend> {
    const log = (message: string, error?: unknown) => logs.push(`${message}${error ? `\n${String(error)}` : ''}`);
    const backend = new RemoteBackend(
      new LambdaTransport({ functionName: 'clip', client: { endpoint, region: 'us-east-1', credentials }, log }),
      {
        timeoutMs: 2_000,
        retryBaseMs: RETRY_BASE_MS,
        retryMaxMs: RETRY_MAX_MS,
        circuit: { failureThreshold: 3, cooldownMs: 10_000 },
        log,
        clock,
        ...options,
      },
    );
    backends.push(backend);
    await backend.start();
    return backend;
  }

  /** Runs `work` and returns what it gave and the invocations it caused. */
  async function measure<T>(work: () => Promise<T>, stats: LocalLambdaStats = lambda.stats) {
    const before = stats.invocations;
    const result = await work();
    return { result, invocations: stats.invocations - before };
  }

  const retryLines = () => logs.filter((line) => /, retrying\): /.test(line));

  /**
   * Awaits a call that must not be retried. A retry would wait for its backoff on the gateway's
   * clock, which nobody moves here, so this fails at once on the retry's log line instead.
   */
  async function withoutRetry<T>(work: Promise<T>): Promise<T> {
    const done = settled(work);
    await until(() => done() || retryLines().length > 0, 'the call to end');
    expect(retryLines()).toEqual([]);
    return work;
  }

  /**
   * Waits (in real time, for the function's answer) until the `n`th attempt has failed and its
   * backoff is scheduled on the gateway's clock, checks the wait is within the jittered bound and
   * that no retry went out before it, then moves the clock past it.
   */
  async function backOff(n: number, invocationsBefore: number): Promise<void> {
    await until(() => retryLines().length >= n, `failed attempt ${n}`);
    expect(lambda.stats.invocations - invocationsBefore).toBe(n);
    expect(clock.pending).toHaveLength(1);
    const [wait] = clock.pending;
    expect(wait).toBeGreaterThanOrEqual(0);
    expect(wait).toBeLessThanOrEqual(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (n - 1)));
    await clock.advance(wait);
  }

  const text = (items: string[]): EmbedRequest => ({ kind: 'text', items });

  it('describes the function and embeds like the core does (cosine ≥ 0.9999)', async () => {
    const backend = await startBackend();
    const items = await backend.embed(text(reference.texts.map((t) => t.text)));
    expect(items).toHaveLength(reference.texts.length);
    items.forEach((item, i) => expect(item.ok && cosine(item.vector, reference.texts[i].embedding)).toBeGreaterThanOrEqual(0.9999));
    const crops = await backend.embed({ kind: 'crops', items: reference.images.map((i) => i.crop) });
    expect(crops).toHaveLength(reference.images.length);
    crops.forEach((item, i) => expect(item.ok && cosine(item.vector, reference.images[i].embedding)).toBeGreaterThanOrEqual(0.9999));
  });

  it('retries throttling with backoff and succeeds when it clears', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'throttle' }, 2);
    const before = lambda.stats.invocations;
    const throttledBefore = lambda.stats.throttled;
    const running = measure(() => backend.embed(text(['a red circle'])));
    await backOff(1, before);
    await backOff(2, before);
    const { result, invocations } = await running;
    expect(result[0].ok).toBe(true);
    expect(invocations).toBe(3);
    expect(lambda.stats.throttled - throttledBefore).toBe(2);
    expect(retryLines()).toEqual([
      expect.stringContaining('(attempt 1/3, retrying): BACKEND_UNAVAILABLE: TooManyRequestsException'),
      expect.stringContaining('(attempt 2/3, retrying): BACKEND_UNAVAILABLE: TooManyRequestsException'),
    ]);
  });

  it('gives up on a throttling storm after maxAttempts, with a per-item error, within the backoff bounds', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'throttle' }, 50);
    const before = lambda.stats.invocations;
    const running = measure(() => backend.embed(text(['a', 'b'])));
    await backOff(1, before);
    await backOff(2, before);
    const { result, invocations } = await running;
    expect(result).toEqual([
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function is throttled (too many requests); try again shortly.' },
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function is throttled (too many requests); try again shortly.' },
    ]);
    expect(invocations).toBe(3);
    // It gave up without waiting for anything but the two jittered backoffs: no further timer,
    // and the gateway's clock moved no more than their bounds (5 + 10 ms).
    expect(clock.pending).toEqual([]);
    expect(clock.now()).toBeLessThanOrEqual(RETRY_BASE_MS + RETRY_BASE_MS * 2);
    expect(logs.at(-1)).toContain('(attempt 3/3, giving up): BACKEND_UNAVAILABLE: TooManyRequestsException');
    // Throttling says the function is busy, not broken: the circuit stays closed.
    expect(backend.breaker.state).toBe('closed');
  });

  it('abandons a hung function at the deadline and does not retry it', async () => {
    const backend = await startBackend({ timeoutMs: 300 });
    fn.hang();
    const before = lambda.stats.invocations;
    const running = measure(() => backend.embed(text(['a blue star'])));
    const done = settled(running);
    await until(() => fn.holding === 1, 'the invocation to hang');
    expect(clock.pending).toEqual([300]);
    await clock.advance(299);
    expect(done()).toBe(false);
    await clock.advance(1);
    // A timed-out call is never repeated: no retry, no backoff scheduled.
    const { result, invocations } = await withoutRetry(running);
    expect(clock.pending).toEqual([]);
    expect(result).toEqual([{ ok: false, code: 'BACKEND_TIMEOUT', message: 'The CLIP function did not answer within 300 ms.' }]);
    expect(invocations).toBe(1);
    expect(lambda.stats.invocations - before).toBe(1);
    expect(logs).toEqual([
      expect.stringContaining('(attempt 1/3, giving up): BACKEND_TIMEOUT: The CLIP function did not answer within 300 ms.'),
    ]);
    // The function is still working on it: the gateway abandoned the call, it did not end it.
    expect(fn.holding).toBe(1);
  });

  it('reports a function error by code, keeps its trace in the log only, and does not retry', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'error', message: 'Segfault-ish failure in /opt/model/onnx/vision_model.onnx' });
    const { result, invocations } = await withoutRetry(measure(() => backend.embed(text(['x']))));
    expect(result).toEqual([{ ok: false, code: 'INFERENCE_FAILED', message: 'The CLIP function failed on this batch.' }]);
    expect(invocations).toBe(1);
    expect(clock.pending).toEqual([]);
    expect(logs.join('\n')).toMatch(/CLIP function error Error: Segfault-ish failure[\s\S]*at /);
  });

  it('does not retry a 413 and maps it to INPUT_TOO_LARGE', async () => {
    const small = new LocalLambda(handler, { payloadLimitBytes: 50_000 });
    const smallOrigin = await small.listen();
    try {
      const backend = await startBackend({}, smallOrigin);
      const crops = Array.from({ length: 10 }, () => reference.images[0].crop);
      const { result, invocations } = await withoutRetry(measure(() => backend.embed({ kind: 'crops', items: crops }), small.stats));
      expect(invocations).toBe(1);
      expect(result).toHaveLength(10);
      expect(result.every((r) => !r.ok && r.code === 'INPUT_TOO_LARGE')).toBe(true);
      expect(clock.pending).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('treats a malformed answer as INFERENCE_FAILED without retrying', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'malformed' });
    const { result, invocations } = await withoutRetry(measure(() => backend.embed(text(['x']))));
    expect(result).toEqual([{ ok: false, code: 'INFERENCE_FAILED', message: 'The CLIP function returned a malformed answer.' }]);
    expect(invocations).toBe(1);
    expect(clock.pending).toEqual([]);
  });

  it("reports Lambda's response-size error as INPUT_TOO_LARGE", async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'oversize' });
    const { result, invocations } = await withoutRetry(measure(() => backend.embed(text(['x']))));
    expect(result).toEqual([
      { ok: false, code: 'INPUT_TOO_LARGE', message: "The CLIP function's answer exceeded Lambda's payload limit." },
    ]);
    expect(invocations).toBe(1);
  });

  it('retries a 5xx from the service', async () => {
    const backend = await startBackend();
    lambda.inject({ kind: 'status', status: 503, errorType: 'ServiceException' });
    const before = lambda.stats.invocations;
    const running = measure(() => backend.embed(text(['x'])));
    await backOff(1, before);
    const { result, invocations } = await running;
    expect(result[0].ok).toBe(true);
    expect(invocations).toBe(2);
    expect(retryLines()).toEqual([expect.stringContaining('(attempt 1/3, retrying): BACKEND_UNAVAILABLE: ServiceException')]);
  });

  it('opens the circuit while the function is down, fails fast, then probes and recovers', async () => {
    const backend = await startBackend({ maxAttempts: 1 });
    lambda.inject({ kind: 'status', status: 502, errorType: 'EC2ThrottledException' }, 100);
    for (let i = 0; i < 3; i++) {
      const { result, invocations } = await measure(() => backend.embed(text([`down ${i}`])));
      expect(invocations).toBe(1);
      expect(result[0]).toMatchObject({ ok: false, code: 'BACKEND_UNAVAILABLE' });
    }
    expect(backend.breaker.state).toBe('open');
    expect(await backend.ready()).toBe(false);
    const fast = await measure(() => backend.embed(text(['while open'])));
    expect(fast.invocations).toBe(0);
    expect(fast.result).toEqual([
      {
        ok: false,
        code: 'BACKEND_UNAVAILABLE',
        message: 'The CLIP function is failing; calls are paused for 10 s while it recovers.',
      },
    ]);

    // Still open a millisecond before the cooldown ends.
    await clock.advance(9_999);
    const almost = await measure(() => backend.embed(text(['almost'])));
    expect(almost.invocations).toBe(0);
    expect(almost.result[0]).toMatchObject({ ok: false, message: expect.stringContaining('calls are paused for 1 s') });

    lambda.clearFaults();
    await clock.advance(1);
    const probe = await measure(() => backend.embed(text(['probe'])));
    expect(probe.invocations).toBe(1);
    expect(probe.result[0].ok).toBe(true);
    expect(backend.breaker.state).toBe('closed');
    expect(await backend.ready()).toBe(true);
  });

  it('answers ready from a describe probe: true, false within the cache period once the function dies, true when it is back', async () => {
    // An endpoint of its own, to kill and bring back on the same port.
    const own = new LocalLambda(handler);
    const ownOrigin = await own.listen();
    try {
      const backend = await startBackend({ readyCacheMs: 5_000, readyTimeoutMs: 2_000 }, ownOrigin);
      const probes = async (work: () => Promise<boolean>) => measure(work, own.stats);
      expect(await probes(() => backend.ready())).toEqual({ result: true, invocations: 1 });
      // Asked again within the period: the cached answer, no invocation.
      await clock.advance(4_999);
      expect(await probes(() => backend.ready())).toEqual({ result: true, invocations: 0 });

      // The service fails: within one period readiness says so.
      own.inject({ kind: 'status', status: 500 }, 2);
      await clock.advance(1);
      expect(await probes(() => backend.ready())).toEqual({ result: false, invocations: 1 });
      expect(await probes(() => backend.ready())).toEqual({ result: false, invocations: 0 });
      expect(logs).toEqual([
        expect.stringMatching(/^lambda readiness probe of function clip failed: BACKEND_UNAVAILABLE: ServiceException: /),
      ]);
      // Probes are not user traffic: the circuit breaker did not count them.
      expect(backend.breaker.state).toBe('closed');
      own.clearFaults();
      await clock.advance(5_000);
      expect(await probes(() => backend.ready())).toEqual({ result: true, invocations: 1 });

      // The endpoint goes away altogether: connection refused.
      const port = Number(new URL(ownOrigin).port);
      await own.close();
      expect(await backend.ready()).toBe(true);
      await clock.advance(5_000);
      expect(await backend.ready()).toBe(false);
      // Refused, or reset if the SDK tried a keep-alive socket the closing endpoint had just cut.
      expect(logs.at(-1)).toMatch(/readiness probe of function clip failed: BACKEND_UNAVAILABLE: .*(ECONNREFUSED|socket hang up)/);
      // Readiness answers from cache and from the clock: no retries, no waits on the real clock.
      expect(clock.pending).toEqual([]);

      // Back on the same port.
      await own.listen(port);
      expect(await backend.ready()).toBe(false);
      await clock.advance(5_000);
      expect(await probes(() => backend.ready())).toEqual({ result: true, invocations: 1 });
      expect(logs.at(-1)).toBe('lambda function at function clip is ready again');
    } finally {
      await own.close();
    }
  });

  it('gives a hung probe readyTimeoutMs on the clock, and shares one probe among concurrent checks', async () => {
    const backend = await startBackend({ readyTimeoutMs: 2_000, timeoutMs: 30_000 });
    fn.hang();
    const before = lambda.stats.invocations;
    const checks = Promise.all([backend.ready(), backend.ready(), backend.ready()]);
    const done = settled(checks);
    await until(() => fn.holding === 1, 'the probe to hang');
    expect(clock.pending).toEqual([2_000]);
    await clock.advance(1_999);
    expect(done()).toBe(false);
    await clock.advance(1);
    expect(await checks).toEqual([false, false, false]);
    expect(lambda.stats.invocations - before).toBe(1);
  });

  it('answers false at once while the circuit is open, without invoking the function', async () => {
    const backend = await startBackend({ maxAttempts: 1 });
    lambda.inject({ kind: 'status', status: 502, errorType: 'EC2ThrottledException' }, 3);
    for (let i = 0; i < 3; i++) await backend.embed(text([`down ${i}`]));
    expect(backend.breaker.state).toBe('open');
    const { result, invocations } = await measure(() => backend.ready());
    expect(result).toBe(false);
    expect(invocations).toBe(0);
  });

  it('splits a batch whose images exceed 6 MB into several invocations, all answered', async () => {
    // No item cap to speak of (the default, 256, would cut 400 crops in two anyway): the byte budget splits.
    const backend = await startBackend({ maxItemsPerCall: 1_000 });
    // 400 crops of 64×64×3 bytes: 6.6 MB once base64-encoded, over Lambda's 6 MiB.
    const crops = Array.from({ length: 400 }, (_, i) => {
      const crop = Uint8Array.from(reference.images[i % reference.images.length].crop);
      crop[i] ^= 1;
      return crop;
    });
    const payloadBytes = crops.reduce((sum, c) => sum + Math.ceil(c.length / 3) * 4, 0);
    expect(payloadBytes).toBeGreaterThan(6 * 1024 * 1024);
    const { result, invocations } = await measure(() => backend.embed({ kind: 'crops', items: crops }));
    expect(invocations).toBeGreaterThanOrEqual(2);
    expect(result).toHaveLength(400);
    expect(result.every((r) => r.ok)).toBe(true);
    const local = await model.embedCrops(crops.slice(0, 50).concat(crops.slice(350)));
    const picked = result.slice(0, 50).concat(result.slice(350));
    picked.forEach((item, i) => {
      const expected = local[i];
      expect(item.ok && expected.ok && cosine(item.vector, expected.vector)).toBeGreaterThanOrEqual(0.9999);
    });
  });

  it('caps invocations in flight (the bulkhead)', async () => {
    const backend = await startBackend({ maxInFlight: 2 });
    lambda.stats.peakConcurrency = 0;
    const before = lambda.stats.invocations;
    fn.hang(6);
    const all = Promise.all(Array.from({ length: 6 }, (_, i) => backend.embed(text([`concurrent ${i}`]))));
    // The function holds every invocation it gets until the test lets one go; the gateway must
    // keep the rest waiting on its side, so the function never holds more than two.
    for (let released = 0; released < 6; released++) {
      const expected = Math.min(2, 6 - released);
      await until(() => fn.holding === expected && lambda.inFlight === expected, `${expected} invocations at the function`);
      expect(lambda.stats.invocations - before).toBe(released + expected);
      fn.releaseOne();
      await flushPromises();
    }
    const results = await all;
    expect(results.every(([r]) => r.ok)).toBe(true);
    expect(lambda.stats.invocations - before).toBe(6);
    expect(lambda.stats.peakConcurrency).toBe(2);
  });
});
