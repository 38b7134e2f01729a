import type { EmbedRequest, EmbedResult, ModelDescription } from '../../../functions/clip';
import { decodeRequest, encodeResults } from '../../../functions/protocol';
import { CallError, coldFailure, failureForStatus } from '../../../gateway/backends/call-failure';
import { RemoteBackend, type Transport } from '../../../gateway/backends/remote';
import { TieredBackend } from '../../../gateway/backends/tiered';
import { textOf, type WireMessage } from '../../../gateway/backends/wire-codec';
import { flushPromises, ManualClock } from '../../helpers/clock';
import { SMALL_MODEL } from '../../helpers/remote-function';

const DESCRIPTION = SMALL_MODEL;
const ON_GPU: ModelDescription = { ...DESCRIPTION, info: { ...DESCRIPTION.info, device: 'cuda' } };

/** What a tier answers a call with, for the next calls of one kind. */
type Answer = 'ok' | 'cold' | 'fail' | 'hold' | 'bad-input';

/**
 * A function as the backends see it through a Transport: each call is answered as the test says
 * (a vector [input, marker], no capacity, 503, held until released). The transports of the
 * gateway (SageMaker, HTTP) are tested against the real services' stand-ins elsewhere; here the
 * subject is the tiering: which tier each input goes to, and when.
 */
class ScriptedFunction implements Transport {
  readonly target: string;
  readonly binary = false;
  describeAnswer: Answer = 'ok';
  embedAnswer: Answer = 'ok';
  description: ModelDescription;
  describes = 0;
  /** The inputs of each embed call, in order. */
  readonly embedCalls: string[][] = [];
  /** Calls held, with their signals: released by the test, or aborted by the backend. */
  readonly held: { release: () => void; signal: AbortSignal }[] = [];

  constructor(
    readonly kind: 'sagemaker' | 'lambda',
    /** Second component of every vector this function returns, so a test sees which tier answered. */
    private readonly marker: number,
    description = DESCRIPTION,
  ) {
    this.target = `${kind} function`;
    this.description = description;
  }

  async call(message: WireMessage, signal: AbortSignal): Promise<WireMessage> {
    const request = decodeRequest(JSON.parse(textOf(message)));
    const answer = (value: unknown): WireMessage => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify(value)) });
    if (request.kind === 'describe') {
      this.describes++;
      await this.behave(this.describeAnswer, signal);
      return answer({ v: 1, description: this.description });
    }
    const items = request.items as string[];
    this.embedCalls.push(items);
    await this.behave(this.embedAnswer, signal);
    if (this.embedAnswer === 'bad-input') {
      return answer(encodeResults(items.map(() => ({ ok: false, code: 'IMAGE_DECODE_FAILED', message: 'Not an image.' }))));
    }
    return answer(encodeResults(items.map((item) => ({ ok: true, vector: Float32Array.of(Number(item), this.marker) }))));
  }

  private async behave(answer: Answer, signal: AbortSignal): Promise<void> {
    if (answer === 'cold')
      throw new CallError(coldFailure('ValidationError: Inference Component has no capacity to process this request.'));
    if (answer === 'fail') throw new CallError(failureForStatus(503, '', 'ServiceUnavailable'));
    if (answer === 'hold') {
      await new Promise<void>((resolve, reject) => {
        this.held.push({ release: resolve, signal });
        signal.addEventListener('abort', () => reject(new CallError(failureForStatus(undefined, 'aborted'))));
      });
    }
  }

  close(): void {}
}

const PRIMARY = 1;
const SPILLOVER = 2;
const texts = (...items: number[]): EmbedRequest => ({ kind: 'text', items: items.map(String) });
/** Which tier answered each input (its marker), or its error code. */
const answeredBy = (results: EmbedResult[]): (number | string)[] => results.map((r) => (r.ok ? r.vector[1] : r.code));

interface Tiers {
  backend: TieredBackend;
  gpu: ScriptedFunction;
  cpu: ScriptedFunction;
  clock: ManualClock;
  logs: string[];
}

function tiers(options: { spillAfterMs?: number; wakeIntervalMs?: number; gpu?: ModelDescription } = {}): Tiers {
  const clock = new ManualClock();
  const logs: string[] = [];
  const gpu = new ScriptedFunction('sagemaker', PRIMARY, options.gpu ?? ON_GPU);
  const cpu = new ScriptedFunction('lambda', SPILLOVER);
  // One attempt a call: retries wait on the manual clock, and are RemoteBackend's business, tested with it.
  const remote = { clock, maxAttempts: 1, readyCacheMs: 0 };
  const backend = new TieredBackend(
    (observe) => new RemoteBackend(gpu, { ...remote, observe }),
    new RemoteBackend(cpu, remote),
    { spillAfterMs: options.spillAfterMs ?? 1_000, wakeIntervalMs: options.wakeIntervalMs ?? 20_000 },
    (line) => logs.push(line),
    clock,
  );
  return { backend, gpu, cpu, clock, logs };
}

describe('TieredBackend: a primary that scales to zero, and a spillover', () => {
  it('starts cold on the spillover, wakes the primary at most once per interval while traffic lasts, and moves back when it answers', async () => {
    const { backend, gpu, cpu, clock, logs } = tiers({ wakeIntervalMs: 20_000 });
    gpu.describeAnswer = 'cold';
    await expect(backend.start()).resolves.toEqual(DESCRIPTION);
    expect(backend.status()).toMatchObject({
      serving: 'spillover',
      tiers: [
        { role: 'primary', state: 'cold' },
        { role: 'spillover', state: 'warm' },
      ],
    });
    expect(logs.join('\n')).toMatch(/primary tier \(sagemaker\) has no capacity: batches go to the spillover \(lambda\)/);

    // The start's describe found it cold: no wake call in the first interval, however many batches.
    for (let i = 0; i < 5; i++) expect(answeredBy(await backend.embed(texts(i)))).toEqual([SPILLOVER]);
    await clock.advance(19_999);
    expect(answeredBy(await backend.embed(texts(5)))).toEqual([SPILLOVER]);
    expect(gpu.describes).toBe(1);
    expect(gpu.embedCalls).toEqual([]);

    // An interval on: one wake call, while batches keep going to the spillover.
    await clock.advance(1);
    await Promise.all([backend.embed(texts(6)), backend.embed(texts(7)), backend.embed(texts(8))]);
    await flushPromises();
    expect(gpu.describes).toBe(2);
    expect(backend.status().counters?.wakeCalls).toEqual({ ok: 0, cold: 1, failed: 0 });

    // No traffic, no wake calls: an idle gateway lets the GPU stay at zero.
    await clock.advance(60_000);
    expect(gpu.describes).toBe(2);

    // The GPU has a copy now: the next wake call finds it, and batches move back.
    gpu.describeAnswer = 'ok';
    expect(answeredBy(await backend.embed(texts(9)))).toEqual([SPILLOVER]);
    await flushPromises();
    expect(gpu.describes).toBe(3);
    expect(backend.status()).toMatchObject({ serving: 'primary', tiers: [{ state: 'warm', device: 'cuda' }, {}] });
    expect(answeredBy(await backend.embed(texts(10, 11)))).toEqual([PRIMARY, PRIMARY]);
    expect(gpu.embedCalls).toEqual([['10', '11']]);
    expect(cpu.embedCalls.flat()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const counters = backend.status().counters!;
    expect(counters.spilledInputs.cold).toBe(10);
    expect(counters.batches).toEqual({ primary: 1, spillover: 10 });
    expect(counters.coldSeconds).toBe(80);
    await backend.close();
  });

  it('sends a batch that finds the primary scaled in to the spillover, and keeps its circuit closed', async () => {
    const { backend, gpu, cpu } = tiers();
    await backend.start();
    expect(answeredBy(await backend.embed(texts(1)))).toEqual([PRIMARY]);
    gpu.embedAnswer = 'cold';
    gpu.describeAnswer = 'cold';
    for (let i = 0; i < 8; i++) expect(answeredBy(await backend.embed(texts(2, 3)))).toEqual([SPILLOVER, SPILLOVER]);
    // One call found it cold; the other batches went straight to the spillover.
    expect(gpu.embedCalls).toEqual([['1'], ['2', '3']]);
    expect(cpu.embedCalls.length).toBe(8);
    expect(backend.status().tiers[0].state).toBe('cold');
    expect((backend as unknown as { primary: RemoteBackend }).primary.breaker.state).toBe('closed');
    await expect(backend.ready()).resolves.toBe(true);
    await backend.close();
  });

  it('sends the inputs of a failed primary call to the spillover, never an input refused for itself', async () => {
    const { backend, gpu, cpu } = tiers();
    await backend.start();
    gpu.embedAnswer = 'fail';
    expect(answeredBy(await backend.embed(texts(1, 2)))).toEqual([SPILLOVER, SPILLOVER]);
    expect(gpu.embedCalls).toEqual([['1', '2']]);
    expect(backend.status().counters?.spilledInputs.failover).toBe(2);
    gpu.embedAnswer = 'bad-input';
    // The primary failed lately (unknown), so this batch is hedged; its answer comes first and is final.
    expect(answeredBy(await backend.embed(texts(3)))).toEqual(['IMAGE_DECODE_FAILED']);
    expect(cpu.embedCalls).toEqual([['1', '2']]);
    await backend.close();
  });

  it('hedges a slow call to a primary in an unknown state: the first answer wins, the other is withdrawn, nothing arrives twice', async () => {
    const { backend, gpu, cpu, clock } = tiers({ spillAfterMs: 1_000 });
    await backend.start();
    gpu.embedAnswer = 'fail';
    await backend.embed(texts(0));
    expect(backend.status().tiers[0].state).toBe('unknown');

    gpu.embedAnswer = 'hold';
    let resolutions = 0;
    const batch = backend.embed(texts(1, 2)).then((results) => {
      resolutions++;
      return results;
    });
    await flushPromises();
    expect(gpu.held.length).toBe(1);
    await clock.advance(999);
    expect(cpu.embedCalls).toEqual([['0']]);
    await clock.advance(1);
    expect(answeredBy(await batch)).toEqual([SPILLOVER, SPILLOVER]);
    expect(cpu.embedCalls).toEqual([['0'], ['1', '2']]);
    expect(gpu.held[0].signal.aborted).toBe(true);
    gpu.held[0].release();
    await flushPromises();
    expect(resolutions).toBe(1);
    const counters = backend.status().counters!;
    expect(counters.spilledInputs.hedge).toBe(2);
    expect(counters.hedgesWon).toBe(1);
    // Withdrawn, not failed: the primary's circuit has counted nothing against it.
    expect((backend as unknown as { primary: RemoteBackend }).primary.breaker.state).toBe('closed');

    // A primary that answers within the time is not hedged, and is warm again.
    gpu.embedAnswer = 'ok';
    expect(answeredBy(await backend.embed(texts(3)))).toEqual([PRIMARY]);
    expect(cpu.embedCalls.length).toBe(2);
    expect(backend.status().tiers[0].state).toBe('warm');
    expect(clock.pending).toEqual([]);
    await backend.close();
  });

  it('does not hedge a warm primary', async () => {
    const { backend, gpu, cpu, clock } = tiers({ spillAfterMs: 10 });
    await backend.start();
    gpu.embedAnswer = 'hold';
    const batch = backend.embed(texts(1));
    await flushPromises();
    await clock.advance(5_000);
    expect(cpu.embedCalls).toEqual([]);
    gpu.held[0].release();
    expect(answeredBy(await batch)).toEqual([PRIMARY]);
    await backend.close();
  });

  it('hedges the first call to a primary that has been quiet for a wake interval: it may have scaled in', async () => {
    const { backend, gpu, cpu, clock } = tiers({ spillAfterMs: 10, wakeIntervalMs: 60_000 });
    await backend.start();
    await clock.advance(60_000);
    gpu.embedAnswer = 'hold';
    const batch = backend.embed(texts(1));
    await flushPromises();
    await clock.advance(10);
    expect(answeredBy(await batch)).toEqual([SPILLOVER]);
    expect(gpu.held[0].signal.aborted).toBe(true);
    // Its answer puts it beyond doubt again: the next call is not hedged.
    gpu.embedAnswer = 'ok';
    expect(answeredBy(await backend.embed(texts(2)))).toEqual([PRIMARY]);
    gpu.embedAnswer = 'hold';
    const next = backend.embed(texts(3));
    await flushPromises();
    await clock.advance(1_000);
    expect(cpu.embedCalls).toEqual([['1']]);
    gpu.held[1].release();
    expect(answeredBy(await next)).toEqual([PRIMARY]);
    await backend.close();
  });

  it('refuses to start when the tiers serve different models, naming the difference', async () => {
    const { backend } = tiers({ gpu: { ...ON_GPU, info: { ...ON_GPU.info, dtype: 'fp16', dim: 3 } } });
    await expect(backend.start()).rejects.toThrow(
      'The tiers serve different models, so their vectors could not be compared: primary (sagemaker) against spillover (lambda): dim: 3 against 2; dtype: fp16 against fp32.',
    );
  });

  it('never uses a primary that wakes up serving another model', async () => {
    const { backend, gpu, clock, logs } = tiers({ wakeIntervalMs: 100 });
    gpu.describeAnswer = 'cold';
    await backend.start();
    gpu.describeAnswer = 'ok';
    gpu.description = { ...ON_GPU, preprocess: { ...ON_GPU.preprocess, mean: [0.5, 0.5, 0.5] } };
    await clock.advance(100);
    await backend.embed(texts(1));
    await flushPromises();
    expect(logs.join('\n')).toMatch(
      /serves another model than this gateway \(test-clip\): preprocessing mean: \[0\.5,0\.5,0\.5\] against \[0,0,0\]/,
    );
    await clock.advance(1_000);
    expect(answeredBy(await backend.embed(texts(2)))).toEqual([SPILLOVER]);
    expect(gpu.embedCalls).toEqual([]);
    expect(backend.status()).toMatchObject({ serving: 'spillover', tiers: [{ state: 'failing' }, {}] });
    // No more wake calls for a primary that is not going to be used.
    expect(gpu.describes).toBe(2);
    await backend.close();
  });

  it('fails to start only when neither tier answers, with both reasons', async () => {
    const { backend, gpu, cpu } = tiers();
    gpu.describeAnswer = 'cold';
    cpu.describeAnswer = 'fail';
    await expect(backend.start()).rejects.toThrow(
      /^Neither tier could start\. Primary \(sagemaker\): .*no capacity.* Spillover \(lambda\): .*unavailable/,
    );
  });

  it('is ready on the spillover without asking a cold primary (a probe would count as its traffic)', async () => {
    const { backend, gpu, cpu } = tiers();
    gpu.describeAnswer = 'cold';
    await backend.start();
    await expect(backend.ready()).resolves.toBe(true);
    await expect(backend.ready()).resolves.toBe(true);
    expect(gpu.describes).toBe(1);
    expect(cpu.describes).toBeGreaterThan(1);
    cpu.describeAnswer = 'fail';
    // The spillover is down and the primary cold: nothing would serve a request now.
    await expect(backend.ready()).resolves.toBe(false);
    await backend.close();
    await expect(backend.ready()).resolves.toBe(false);
  });

  it('checks its options, naming them', () => {
    const make = (options: object) => () =>
      new TieredBackend(
        (observe) => new RemoteBackend(new ScriptedFunction('sagemaker', 1), { observe }),
        new RemoteBackend(new ScriptedFunction('lambda', 2)),
        options,
      );
    expect(make({ spillAfterMs: -1 })).toThrow('spillAfterMs must be a non-negative integer, got -1');
    expect(make({ wakeIntervalMs: 0 })).toThrow('wakeIntervalMs must be an integer from 1 to 2147483647, got 0');
  });
});
