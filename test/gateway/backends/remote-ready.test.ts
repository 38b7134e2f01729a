import { CallError, failureForStatus, timeoutFailure } from '../../../gateway/backends/call-failure';
import { RemoteBackend } from '../../../gateway/backends/remote';
import { flushPromises, ManualClock, settled } from '../../helpers/clock';
import { DESCRIPTION, outcome, RecordingTransport, started, textOf } from './recording-transport';

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
