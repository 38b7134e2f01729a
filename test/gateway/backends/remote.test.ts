import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

import { decodeRequest, encodeResults, WIRE_REQUEST_OVERHEAD_BYTES, wireSizeOf } from '../../../functions/protocol';
import type { EmbedRequest, EmbedRequestItem, EmbedResult } from '../../../functions/clip';
import { HttpTransport } from '../../../gateway/backends/http';
import { LambdaTransport } from '../../../gateway/backends/lambda';
import { CallError, connectionProblem, describeError, failureForStatus, timeoutFailure } from '../../../gateway/backends/call-failure';
import { RemoteBackend, type RemoteBackendOptions, type Transport } from '../../../gateway/backends/remote';
import { JSON_CODEC, textOf as messageText, type WireMessage } from '../../../gateway/backends/wire-codec';
import { builtEntry } from '../../helpers/build';
import { flushPromises, ManualClock, settled } from '../../helpers/clock';
import { SMALL_MODEL } from '../../helpers/remote-function';

const execFileAsync = promisify(execFile);

const DESCRIPTION = SMALL_MODEL;

/**
 * Inputs that carry a tag (a small number) and have an exact wire size, so that a test can see
 * which inputs went in which call and which result belongs to which input.
 */
const textOf = (tag: number, wireBytes: number): string => `${tag}:`.padEnd(wireBytes - 3, 'a');
const cropOf = (tag: number, wireBytes: number): Uint8Array => {
  const crop = new Uint8Array(((wireBytes - 3) / 4) * 3);
  crop[0] = tag;
  return crop;
};
const tagOf = (item: EmbedRequestItem): number => (typeof item === 'string' ? Number(item.split(':')[0]) : item[0]);

/** An answer as the function would send it: JSON. */
const jsonMessage = (answer: unknown): WireMessage => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(answer)) });

/** What came back, readably: the tag its vector carries, or its error code. */
const outcome = (result: EmbedResult): number | string => (result.ok ? result.vector[0] : result.code);

/** The function as this test's Transport: it records each embed call and answers with vectors [tag, 0]. */
class RecordingTransport implements Transport {
  readonly kind = 'http' as const;
  /** JSON only: these tests are about calls and their failures, the same in either protocol. */
  readonly binary = false;
  readonly target = 'http://clip.test';
  /** Embed calls in the order they were made, decoded. */
  readonly calls: EmbedRequest[] = [];
  /** Bytes of each embed call's payload. */
  readonly payloadBytes: number[] = [];
  /** Describe calls received (start() and readiness probes). */
  describes = 0;
  /** How describe calls after the first (start()'s) are answered: readiness probes. */
  probeAnswer: (signal: AbortSignal, timeoutMs: number) => unknown = () => ({ v: 1, description: DESCRIPTION });
  closed = false;

  constructor(
    private readonly answer: (request: EmbedRequest, signal: AbortSignal, timeoutMs: number) => unknown = (request) =>
      RecordingTransport.vectors(request),
  ) {}

  static vectors(request: EmbedRequest): unknown {
    return encodeResults(request.items.map((item) => ({ ok: true, vector: Float32Array.of(tagOf(item), 0) })));
  }

  async call(message: WireMessage, signal: AbortSignal, timeoutMs: number): Promise<WireMessage> {
    const request = decodeRequest(JSON.parse(messageText(message)));
    if (request.kind === 'describe')
      return jsonMessage(this.describes++ === 0 ? { v: 1, description: DESCRIPTION } : await this.probeAnswer(signal, timeoutMs));
    this.calls.push(request);
    this.payloadBytes.push(message.body.byteLength);
    return jsonMessage(await this.answer(request, signal, timeoutMs));
  }

  /** The tags of each call's inputs. */
  get tags(): number[][] {
    return this.calls.map((call) => call.items.map(tagOf));
  }

  close(): void {
    this.closed = true;
  }
}

async function started(transport: Transport, options: Partial<RemoteBackendOptions> = {}): Promise<RemoteBackend> {
  const backend = new RemoteBackend(transport, { clock: new ManualClock(), ...options });
  await backend.start();
  return backend;
}

describe('RemoteBackend splits a batch into calls', () => {
  /** Room for exactly 100 bytes of inputs in one call. */
  const maxRequestBytes = WIRE_REQUEST_OVERHEAD_BYTES + 100;

  it('cuts a call before the input that would exceed the byte budget', async () => {
    const transport = new RecordingTransport();
    const backend = await started(transport, { maxRequestBytes });
    const sizes = [40, 50, 30, 20, 60, 40];
    const items = sizes.map((size, tag) => textOf(tag, size));
    expect(items.map((item) => wireSizeOf('text', item))).toEqual(sizes);
    const results = await backend.embed({ kind: 'text', items });
    // 40 + 50 fit, + 30 would not; 30 + 20 fit, + 60 would not; 60 + 40 fill the budget exactly.
    expect(transport.tags).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(results.map(outcome)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const bytes of transport.payloadBytes) expect(bytes).toBeLessThanOrEqual(maxRequestBytes);
  });

  it('measures bytes as they travel (base64) for crops, and keeps the kind in every call', async () => {
    const transport = new RecordingTransport();
    const backend = await started(transport, { maxRequestBytes });
    const items = [cropOf(0, 47), cropOf(1, 47), cropOf(2, 47)];
    expect(items.map((item) => wireSizeOf('crops', item))).toEqual([47, 47, 47]);
    const results = await backend.embed({ kind: 'crops', items });
    expect(transport.tags).toEqual([[0, 1], [2]]);
    expect(transport.calls.map((call) => call.kind)).toEqual(['crops', 'crops']);
    expect(results.map(outcome)).toEqual([0, 1, 2]);
    for (const bytes of transport.payloadBytes) expect(bytes).toBeLessThanOrEqual(maxRequestBytes);
  });

  it('puts at most maxItemsPerCall inputs in a call', async () => {
    const transport = new RecordingTransport();
    const backend = await started(transport, { maxItemsPerCall: 2 });
    const results = await backend.embed({ kind: 'text', items: [0, 1, 2, 3, 4].map((tag) => textOf(tag, 10)) });
    expect(transport.tags).toEqual([[0, 1], [2, 3], [4]]);
    expect(results.map(outcome)).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps the input order across calls, whatever order they are answered in', async () => {
    const answers: (() => void)[] = [];
    const transport = new RecordingTransport(
      (request) => new Promise((resolve) => answers.push(() => resolve(RecordingTransport.vectors(request)))),
    );
    const backend = await started(transport, { maxItemsPerCall: 2, maxInFlight: 8 });
    const running = backend.embed({ kind: 'text', items: [0, 1, 2, 3, 4, 5].map((tag) => textOf(tag, 10)) });
    await flushPromises();
    expect(transport.tags).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    for (const answer of answers.reverse()) {
      answer();
      await flushPromises();
    }
    expect((await running).map(outcome)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('fails an input over the budget alone, with INPUT_TOO_LARGE, and still sends its neighbours', async () => {
    const transport = new RecordingTransport();
    const backend = await started(transport, { maxRequestBytes });
    const tooLarge = {
      ok: false,
      code: 'INPUT_TOO_LARGE',
      message: `The input is too large for one call to the CLIP function (${maxRequestBytes} bytes).`,
    };
    const items = [textOf(0, 101), textOf(1, 40), textOf(2, 101), textOf(3, 30), textOf(4, 100), textOf(5, 101)];
    const results = await backend.embed({ kind: 'text', items });
    expect(results).toEqual([tooLarge, expect.anything(), tooLarge, expect.anything(), expect.anything(), tooLarge]);
    expect(results.map(outcome)).toEqual(['INPUT_TOO_LARGE', 1, 'INPUT_TOO_LARGE', 3, 4, 'INPUT_TOO_LARGE']);
    // Only the inputs that fit were sent (one of exactly the budget included), each once.
    expect(transport.tags.flat()).toEqual([1, 3, 4]);
    for (const bytes of transport.payloadBytes) expect(bytes).toBeLessThanOrEqual(maxRequestBytes);

    // A batch of nothing but inputs too large makes no call at all.
    const callsBefore = transport.calls.length;
    await expect(backend.embed({ kind: 'crops', items: [cropOf(6, 103)] })).resolves.toEqual([tooLarge]);
    expect(transport.calls).toHaveLength(callsBefore);
  });
});

describe('RemoteBackend turns failed calls into failed inputs', () => {
  /** A transport whose call carrying input 2 fails as `fail` says; the others are answered. */
  const failingAt2 = (fail: (request: EmbedRequest) => unknown) =>
    new RecordingTransport((request) => (request.items.map(tagOf).includes(2) ? fail(request) : RecordingTransport.vectors(request)));
  const items = [0, 1, 2, 3, 4].map((tag) => textOf(tag, 10));

  it('fails each input of a failed call, and only those, with the call failure code and message', async () => {
    const logs: string[] = [];
    const transport = failingAt2(() => {
      throw new CallError(failureForStatus(404, '', 'ResourceNotFoundException: Function not found'));
    });
    const backend = await started(transport, { maxItemsPerCall: 2, log: (line) => logs.push(line) });
    const results = await backend.embed({ kind: 'text', items });
    const failed = { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function cannot be called; the gateway is misconfigured.' };
    expect(results).toEqual([expect.anything(), expect.anything(), failed, failed, expect.anything()]);
    expect(results.map(outcome)).toEqual([0, 1, 'BACKEND_UNAVAILABLE', 'BACKEND_UNAVAILABLE', 4]);
    // Not retried (retrying cannot help); the detail goes to the log, not to the client.
    expect(transport.tags).toEqual([[0, 1], [2, 3], [4]]);
    expect(logs).toEqual([
      'http call to http://clip.test failed (attempt 1/3, giving up): BACKEND_UNAVAILABLE: ResourceNotFoundException: Function not found',
    ]);
  });

  it('fails the inputs of a call that threw something other than a CallError, without rejecting', async () => {
    const backend = await started(
      failingAt2(() => {
        throw new TypeError('fetch failed');
      }),
      { maxItemsPerCall: 2 },
    );
    const results = await backend.embed({ kind: 'text', items });
    expect(results.slice(2, 4)).toEqual([
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function could not be called.' },
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function could not be called.' },
    ]);
    expect(results.map(outcome)).toEqual([0, 1, 'BACKEND_UNAVAILABLE', 'BACKEND_UNAVAILABLE', 4]);
  });

  it('fails the inputs of a call answered outside the protocol with INFERENCE_FAILED, logs why, and does not retry', async () => {
    const logs: string[] = [];
    const transport = failingAt2(() => ({ v: 1, items: [] }));
    const backend = await started(transport, { maxItemsPerCall: 2, log: (line) => logs.push(line) });
    const results = await backend.embed({ kind: 'text', items });
    expect(results[2]).toEqual({ ok: false, code: 'INFERENCE_FAILED', message: 'The CLIP function returned a malformed answer.' });
    expect(results.map(outcome)).toEqual([0, 1, 'INFERENCE_FAILED', 'INFERENCE_FAILED', 4]);
    expect(transport.tags).toEqual([[0, 1], [2, 3], [4]]);
    expect(logs).toEqual([
      'http call to http://clip.test failed (attempt 1/3, giving up): INFERENCE_FAILED: ProtocolError: the response has 0 items for 2 inputs',
    ]);
  });

  it("keeps the function's own per-input errors per input", async () => {
    const refused = { ok: false as const, code: 'BAD_USER_INPUT', message: 'The image could not be decoded.' };
    const transport = new RecordingTransport((request) =>
      encodeResults(request.items.map((item) => (tagOf(item) === 1 ? refused : { ok: true, vector: Float32Array.of(tagOf(item), 0) }))),
    );
    const backend = await started(transport);
    const results = await backend.embed({ kind: 'text', items: items.slice(0, 3) });
    expect(results[1]).toEqual(refused);
    expect(results.map(outcome)).toEqual([0, 'BAD_USER_INPUT', 2]);
  });
});

describe('RemoteBackend runs its deadline and backoff on its clock', () => {
  it('aborts a call when the clock reaches timeoutMs, and does not repeat it', async () => {
    const clock = new ManualClock();
    const signals: AbortSignal[] = [];
    // Like the real transports: wait for the answer or the signal, whichever comes first.
    const transport = new RecordingTransport(
      (_request, signal, timeoutMs) =>
        new Promise((_resolve, reject) => {
          signals.push(signal);
          signal.addEventListener('abort', () => reject(new CallError(timeoutFailure(timeoutMs))));
        }),
    );
    const backend = await started(transport, { clock, timeoutMs: 100 });
    const running = backend.embed({ kind: 'text', items: [textOf(0, 10)] });
    const done = settled(running);
    await flushPromises();
    await clock.advance(99);
    expect(signals.map((s) => s.aborted)).toEqual([false]);
    expect(done()).toBe(false);
    await clock.advance(1);
    expect(signals.map((s) => s.aborted)).toEqual([true]);
    // Given up at once: no backoff scheduled, no second call.
    expect(done()).toBe(true);
    expect(clock.pending).toEqual([]);
    await expect(running).resolves.toEqual([
      { ok: false, code: 'BACKEND_TIMEOUT', message: 'The CLIP function did not answer within 100 ms.' },
    ]);
    expect(transport.calls).toHaveLength(1);
  });

  it('waits a jittered backoff on the clock between attempts of a retryable failure', async () => {
    const clock = new ManualClock();
    let failures = 2;
    const transport = new RecordingTransport((request) => {
      if (failures-- > 0) throw new CallError(failureForStatus(503, '', 'ServiceException'));
      return RecordingTransport.vectors(request);
    });
    const backend = await started(transport, { clock, retryBaseMs: 100, retryMaxMs: 150 });
    const running = backend.embed({ kind: 'text', items: [textOf(7, 10)] });
    for (const [attempt, bound] of [
      [1, 100],
      [2, 150],
    ]) {
      await flushPromises();
      expect(transport.calls).toHaveLength(attempt);
      const [wait] = clock.pending;
      expect(clock.pending).toHaveLength(1);
      expect(wait).toBeLessThanOrEqual(bound);
      await clock.advance(wait);
    }
    expect((await running).map(outcome)).toEqual([7]);
    expect(transport.calls).toHaveLength(3);
  });
});

describe('RemoteBackend and its circuit breaker', () => {
  const malformed = { v: 1, items: [] };

  it('counts answers outside the protocol towards opening the circuit, then calls no more', async () => {
    const transport = new RecordingTransport(() => malformed);
    const backend = await started(transport, { maxAttempts: 1, circuit: { failureThreshold: 2, cooldownMs: 1_000 } });
    for (const tag of [0, 1]) {
      expect((await backend.embed({ kind: 'text', items: [textOf(tag, 10)] })).map(outcome)).toEqual(['INFERENCE_FAILED']);
    }
    expect(backend.breaker.state).toBe('open');
    expect(await backend.embed({ kind: 'text', items: [textOf(2, 10)] })).toEqual([
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function is failing; calls are paused for 1 s while it recovers.' },
    ]);
    expect(transport.tags).toEqual([[0], [1]]);
  });

  it('reopens the circuit when the probe is answered outside the protocol', async () => {
    const clock = new ManualClock();
    let answer: () => unknown = () => {
      throw new CallError(failureForStatus(502, '', 'EC2ThrottledException'));
    };
    const transport = new RecordingTransport(() => answer());
    const backend = await started(transport, { clock, maxAttempts: 1, circuit: { failureThreshold: 2, cooldownMs: 1_000 } });
    await backend.embed({ kind: 'text', items: [textOf(0, 10)] });
    await backend.embed({ kind: 'text', items: [textOf(1, 10)] });
    expect(backend.breaker.state).toBe('open');
    await clock.advance(1_000);
    answer = () => malformed;
    expect((await backend.embed({ kind: 'text', items: [textOf(2, 10)] })).map(outcome)).toEqual(['INFERENCE_FAILED']);
    expect(backend.breaker.state).toBe('open');
    expect(backend.breaker.retryInMs).toBe(1_000);
  });
});

describe('RemoteBackend.ready() probes the function', () => {
  /** A probe answer that waits for its deadline, like a function that hangs. */
  const hang = (signal: AbortSignal, timeoutMs: number) =>
    new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new CallError(timeoutFailure(timeoutMs)))));
  const unavailable = () => {
    throw new CallError(failureForStatus(503, '', 'ServiceException: down'));
  };

  it('is false before start() and after close(), without a call', async () => {
    const transport = new RecordingTransport();
    const backend = new RemoteBackend(transport, { clock: new ManualClock() });
    expect(await backend.ready()).toBe(false);
    await backend.start();
    await backend.close();
    expect(await backend.ready()).toBe(false);
    expect(transport.describes).toBe(1);
  });

  it('sends a describe, and reuses its answer for readyCacheMs on the clock', async () => {
    const clock = new ManualClock();
    const transport = new RecordingTransport();
    const backend = await started(transport, { clock, readyCacheMs: 5_000 });
    expect(await backend.ready()).toBe(true);
    expect(transport.describes).toBe(2);
    transport.probeAnswer = unavailable;
    await clock.advance(4_999);
    expect(await backend.ready()).toBe(true);
    expect(transport.describes).toBe(2);
    await clock.advance(1);
    expect(await backend.ready()).toBe(false);
    expect(transport.describes).toBe(3);
    transport.probeAnswer = () => ({ v: 1, description: DESCRIPTION });
    expect(await backend.ready()).toBe(false);
    await clock.advance(5_000);
    expect(await backend.ready()).toBe(true);
    expect(transport.describes).toBe(4);
    // Embed calls go to the function as before, and are not probes.
    await backend.embed({ kind: 'text', items: [textOf(1, 10)] });
    expect(transport.describes).toBe(4);
  });

  it('shares one probe among concurrent checks', async () => {
    const clock = new ManualClock();
    const transport = new RecordingTransport();
    const backend = await started(transport, { clock });
    let answer: (value: unknown) => void = () => {};
    transport.probeAnswer = () => new Promise((resolve) => (answer = resolve));
    const checks = [backend.ready(), backend.ready(), backend.ready()];
    await flushPromises();
    expect(transport.describes).toBe(2);
    answer({ v: 1, description: DESCRIPTION });
    expect(await Promise.all(checks)).toEqual([true, true, true]);
    expect(await backend.ready()).toBe(true);
    expect(transport.describes).toBe(2);
  });

  it('gives a probe readyTimeoutMs on the clock, then answers false', async () => {
    const clock = new ManualClock();
    const logs: string[] = [];
    const transport = new RecordingTransport();
    const backend = await started(transport, { clock, readyTimeoutMs: 2_000, timeoutMs: 30_000, log: (line) => logs.push(line) });
    transport.probeAnswer = hang;
    const check = backend.ready();
    const done = settled(check);
    await flushPromises();
    expect(clock.pending).toEqual([2_000]);
    await clock.advance(1_999);
    expect(done()).toBe(false);
    await clock.advance(1);
    expect(await check).toBe(false);
    expect(clock.pending).toEqual([]);
    expect(logs).toEqual([
      'http readiness probe of http://clip.test failed: BACKEND_TIMEOUT: The CLIP function did not answer within 2000 ms.',
    ]);
  });

  it('answers false at once while the circuit is open, and probes again once the cooldown is over', async () => {
    const clock = new ManualClock();
    const transport = new RecordingTransport(() => {
      throw new CallError(failureForStatus(502, '', 'EC2ThrottledException'));
    });
    const backend = await started(transport, { clock, maxAttempts: 1, circuit: { failureThreshold: 2, cooldownMs: 10_000 } });
    expect(await backend.ready()).toBe(true);
    await backend.embed({ kind: 'text', items: [textOf(0, 10)] });
    await backend.embed({ kind: 'text', items: [textOf(1, 10)] });
    expect(backend.breaker.state).toBe('open');
    await clock.advance(5_000);
    expect(await backend.ready()).toBe(false);
    await clock.advance(4_999);
    expect(await backend.ready()).toBe(false);
    expect(transport.describes).toBe(2);
    // The cooldown is over: a probe decides, so that a gateway out of rotation needs no user traffic to come back.
    await clock.advance(1);
    expect(await backend.ready()).toBe(true);
    expect(transport.describes).toBe(3);
    // The probe neither closed the circuit nor took the one call a half-open circuit lets through.
    expect(backend.breaker.state).toBe('open');
    expect(backend.breaker.tryAcquire()).toBe(true);
  });

  it('does not feed the circuit breaker: failed probes never open it, a good one does not reset its count', async () => {
    const clock = new ManualClock();
    let failEmbeds = false;
    const transport = new RecordingTransport((request) => {
      if (failEmbeds) throw new CallError(failureForStatus(502, '', 'EC2ThrottledException'));
      return RecordingTransport.vectors(request);
    });
    const backend = await started(transport, {
      clock,
      maxAttempts: 1,
      readyCacheMs: 0,
      circuit: { failureThreshold: 2, cooldownMs: 10_000 },
    });
    transport.probeAnswer = unavailable;
    for (let i = 0; i < 5; i++) expect(await backend.ready()).toBe(false);
    expect(backend.breaker.state).toBe('closed');
    expect((await backend.embed({ kind: 'text', items: [textOf(3, 10)] })).map(outcome)).toEqual([3]);

    failEmbeds = true;
    await backend.embed({ kind: 'text', items: [textOf(4, 10)] });
    transport.probeAnswer = () => ({ v: 1, description: DESCRIPTION });
    expect(await backend.ready()).toBe(true);
    await backend.embed({ kind: 'text', items: [textOf(5, 10)] });
    expect(backend.breaker.state).toBe('open');
  });

  it('counts a throttled probe as ready (the function is busy, not broken), and a misconfigured one as not', async () => {
    const transport = new RecordingTransport();
    const backend = await started(transport, { readyCacheMs: 0 });
    transport.probeAnswer = () => {
      throw new CallError(failureForStatus(429, '', 'TooManyRequestsException'));
    };
    expect(await backend.ready()).toBe(true);
    transport.probeAnswer = () => {
      throw new CallError(failureForStatus(404, '', 'ResourceNotFoundException'));
    };
    expect(await backend.ready()).toBe(false);
    transport.probeAnswer = () => ({ v: 1, description: 'not a description' });
    expect(await backend.ready()).toBe(false);
    transport.probeAnswer = () => {
      throw new TypeError('a transport bug');
    };
    expect(await backend.ready()).toBe(false);
  });

  it('logs when readiness is lost, why, and when it comes back, once per change', async () => {
    const logs: string[] = [];
    const transport = new RecordingTransport();
    const backend = await started(transport, { readyCacheMs: 0, log: (line) => logs.push(line) });
    transport.probeAnswer = unavailable;
    for (let i = 0; i < 3; i++) await backend.ready();
    transport.probeAnswer = () => ({ v: 1, description: DESCRIPTION });
    for (let i = 0; i < 3; i++) await backend.ready();
    expect(logs).toEqual([
      'http readiness probe of http://clip.test failed: BACKEND_UNAVAILABLE: ServiceException: down',
      'http function at http://clip.test is ready again',
    ]);
  });
});

describe('RemoteBackend options', () => {
  const thrown = (options: Partial<RemoteBackendOptions>): unknown => {
    try {
      new RemoteBackend(new RecordingTransport(), options);
    } catch (error) {
      return error;
    }
    throw new Error('no error');
  };

  it.each<[string, Partial<RemoteBackendOptions>]>([
    ['timeoutMs must be an integer from 1 to 2147483647, got 0', { timeoutMs: 0 }],
    ['timeoutMs must be an integer from 1 to 2147483647, got 2147483648', { timeoutMs: 2 ** 31 }],
    ['maxAttempts must be a positive integer, got 0', { maxAttempts: 0 }],
    ['maxInFlight must be a positive integer, got 1.5', { maxInFlight: 1.5 }],
    ['maxItemsPerCall must be a positive integer, got -1', { maxItemsPerCall: -1 }],
    ['maxRequestBytes must be an integer from 65 to 6291456, got 64', { maxRequestBytes: WIRE_REQUEST_OVERHEAD_BYTES }],
    ['maxRequestBytes must be an integer from 65 to 6291456, got 6291457', { maxRequestBytes: 6 * 1024 * 1024 + 1 }],
    ['retryBaseMs must be a non-negative number, got -1', { retryBaseMs: -1 }],
    ['retryMaxMs must be a non-negative number, got NaN', { retryMaxMs: Number.NaN }],
    ['failureThreshold must be a positive integer, got 0', { circuit: { failureThreshold: 0, cooldownMs: 1 } }],
    ['cooldownMs must be a non-negative number, got -5', { circuit: { failureThreshold: 1, cooldownMs: -5 } }],
    ['readyCacheMs must be a non-negative integer, got -1', { readyCacheMs: -1 }],
    ['readyTimeoutMs must be an integer from 1 to 2147483647, got 0', { readyTimeoutMs: 0 }],
  ])('refuses with a TypeError naming the option and the value: %s', (message, options) => {
    const error = thrown(options);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(message);
  });
});

describe('connectionProblem', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each<[string, unknown, string | undefined]>([
    ['ECONNREFUSED', coded('ECONNREFUSED'), 'connection refused'],
    ['ENOTFOUND', coded('ENOTFOUND'), 'host not found'],
    ['EAI_AGAIN', coded('EAI_AGAIN'), 'host not found'],
    ['ECONNRESET (the SDK renames it TimeoutError)', Object.assign(coded('ECONNRESET'), { name: 'TimeoutError' }), 'connection reset'],
    ['EPIPE', coded('EPIPE'), 'connection reset'],
    ["undici's closed socket", new TypeError('fetch failed', { cause: coded('UND_ERR_SOCKET') }), 'connection reset'],
    ['a self-signed certificate', coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 'TLS failure'],
    ['an expired certificate', coded('CERT_HAS_EXPIRED'), 'TLS failure'],
    ['an unverifiable chain', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'TLS failure'],
    ['a wrong host name', coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'TLS failure'],
    ['EPROTO (TLS through the SDK)', coded('EPROTO'), 'TLS failure'],
    ['ETIMEDOUT', coded('ETIMEDOUT'), 'connection timed out'],
    ["undici's connect timeout", new TypeError('fetch failed', { cause: coded('UND_ERR_CONNECT_TIMEOUT') }), 'connection timed out'],
    ['EHOSTUNREACH', coded('EHOSTUNREACH'), 'network unreachable'],
    [
      'a failed happy-eyeballs connect',
      new TypeError('fetch failed', { cause: new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]) }),
      'connection refused',
    ],
    ['no code', new Error('something'), undefined],
    ['an unknown code', coded('EWHATEVER'), undefined],
    ['not an error', 'boom', undefined],
  ])('%s', (_, error, expected) => {
    expect(connectionProblem(error)).toBe(expected);
  });

  it('describeError keeps the whole error for the log, causes and codes included', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describeError(new TypeError('fetch failed', { cause }))).toBe(
      'TypeError: fetch failed; cause: Error: connect ECONNREFUSED 127.0.0.1:9',
    );
    expect(describeError(Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' }))).toBe(
      'SocketError [UND_ERR_SOCKET]: other side closed',
    );
    expect(describeError(new AggregateError([new Error('a'), new Error('b')], 'all failed'))).toBe(
      'AggregateError: all failed (Error: a; Error: b)',
    );
  });
});

/**
 * The transports against real sockets: the errors Node's fetch (undici) and the AWS SDK's HTTP
 * handler really produce for a closed port, a name that cannot resolve (.invalid never does), a
 * connection reset, and TLS spoken to a plain-HTTP port.
 */
describe('the transports say why the function could not be reached', () => {
  const servers: (Server | net.Server)[] = [];
  const listen = async <T extends Server | net.Server>(server: T): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  let closedPort = 0;
  let resetPort = 0;
  let plainPort = 0;

  beforeAll(async () => {
    const closed = net.createServer();
    closedPort = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    servers.pop();
    // Reads the request, then resets the connection (RST) instead of answering.
    resetPort = await listen(net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy())));
    plainPort = await listen(createHttpServer((_req, res) => res.end('{}')));
  });
  afterAll(async () => {
    for (const server of servers) {
      if (server instanceof net.Server && 'closeAllConnections' in server) (server as Server).closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  const transports: Record<'http' | 'lambda', (origin: string) => Transport> = {
    http: (origin) => new HttpTransport(origin),
    lambda: (origin) =>
      new LambdaTransport({
        functionName: 'clip',
        client: { endpoint: origin, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
        log: () => {},
      }),
  };
  const cases: [string, () => string, RegExp][] = [
    ['connection refused', () => `http://127.0.0.1:${closedPort}`, /ECONNREFUSED/],
    ['host not found', () => 'http://clip-function.invalid', /ENOTFOUND|EAI_AGAIN/],
    ['connection reset', () => `http://127.0.0.1:${resetPort}`, /ECONNRESET|UND_ERR_SOCKET/],
    ['TLS failure', () => `https://127.0.0.1:${plainPort}`, /SSL|EPROTO/],
  ];

  it.each((['http', 'lambda'] as const).flatMap((kind) => cases.map(([what, origin, detail]) => [kind, what, origin, detail] as const)))(
    '%s: %s',
    async (kind, what, origin, detail) => {
      const transport = transports[kind](origin());
      try {
        const error = await transport.call(JSON_CODEC.encode({ kind: 'describe' }), new AbortController().signal, 5_000).then(
          () => new Error('expected the call to fail'),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CallError);
        const { failure } = error as CallError;
        expect(failure).toMatchObject({
          code: 'BACKEND_UNAVAILABLE',
          message: `The CLIP function could not be reached (${what}).`,
          retry: true,
          unhealthy: true,
        });
        // The original error, for the log only.
        expect(failure.detail).toMatch(detail);
      } finally {
        transport.close();
      }
    },
  );

  // Jest runs tests in their own V8 realm, where Node's socket errors fail `instanceof Error` and
  // the SDK keeps only their text; in a plain Node process it passes them on with their code.
  it('in a plain Node process too, where errors keep their codes', async () => {
    const script = `
      const { HttpTransport } = require(${JSON.stringify(builtEntry('gateway', 'backends', 'http.js'))});
      const { LambdaTransport } = require(${JSON.stringify(builtEntry('gateway', 'backends', 'lambda.js'))});
      const client = (endpoint) => ({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
      (async () => {
        const out = [];
        for (const origin of JSON.parse(process.argv[1])) {
          for (const transport of [new HttpTransport(origin), new LambdaTransport({ functionName: 'clip', client: client(origin), log: () => {} })]) {
            await transport.call({ contentType: 'application/json', body: Buffer.from('{"v":1,"kind":"describe"}') }, new AbortController().signal, 5000).catch((e) => out.push([transport.kind, e.failure.message, e.failure.detail]));
            transport.close();
          }
        }
        process.stdout.write(JSON.stringify(out));
      })();`;
    const origins = cases.map(([, origin]) => origin());
    const { stdout } = await execFileAsync(process.execPath, ['-e', script, JSON.stringify(origins)], { encoding: 'utf8' });
    const results = JSON.parse(stdout) as [string, string, string][];
    expect(results.map(([kind, message]) => [kind, message])).toEqual(
      cases.flatMap(([what]) => ['http', 'lambda'].map((kind) => [kind, `The CLIP function could not be reached (${what}).`])),
    );
    // Not the SDK's wrapper this time: the socket's own error, with its code.
    for (const [kind, , detail] of results) if (kind === 'lambda') expect(detail).not.toContain('wrapper');
  });

  it('fails the inputs with the cause, and logs the original error', async () => {
    // An HTTP function that describes itself, then dies.
    const fn = createHttpServer((req, res) => {
      req
        .resume()
        .on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ v: 1, description: DESCRIPTION })));
    });
    const port = await listen(fn);
    const logs: string[] = [];
    const backend = new RemoteBackend(new HttpTransport(`http://127.0.0.1:${port}`), {
      clock: new ManualClock(),
      maxAttempts: 1,
      log: (line) => logs.push(line),
    });
    await backend.start();
    fn.closeAllConnections();
    await new Promise((resolve) => fn.close(resolve));
    servers.splice(servers.indexOf(fn), 1);
    expect(await backend.embed({ kind: 'text', items: ['a red circle'] })).toEqual([
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function could not be reached (connection refused).' },
    ]);
    expect(logs).toEqual([
      `http call to http://127.0.0.1:${port} failed (attempt 1/1, giving up): BACKEND_UNAVAILABLE: TypeError: fetch failed; cause: Error: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
    await backend.close();
  });
});
