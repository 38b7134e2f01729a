import { encodeResults, WIRE_REQUEST_OVERHEAD_BYTES, wireSizeOf } from '../../../functions/protocol';
import type { EmbedRequest } from '../../../functions/clip';
import { CallError, failureForStatus, timeoutFailure } from '../../../gateway/backends/call-failure';
import { flushPromises, ManualClock, settled } from '../../helpers/clock';
import { cropOf, outcome, RecordingTransport, started, tagOf, textOf } from './recording-transport';

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
