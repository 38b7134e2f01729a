import { Batcher } from '../../../gateway/embedding/batcher';
import { flushPromises, ManualClock } from '../../helpers/clock';

/** A batch function that records its batches and resolves only when told to. */
function recorder() {
  const calls: number[][] = [];
  const pending: ((results: string[]) => void)[] = [];
  const run = (items: number[]) => {
    calls.push(items);
    return new Promise<string[]>((resolve) => pending.push(resolve));
  };
  // A negative item stands for an input that failed: its result says so, as a backend's would.
  const answer = (index: number) => pending[index](calls[index].map((n) => (n < 0 ? `bad ${n}` : `v${n}`)));
  return { calls, run, answer };
}

describe('Batcher', () => {
  it('sends a batch when it is full, without waiting', async () => {
    const clock = new ManualClock();
    const { calls, run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 3, maxDelayMs: 10, maxConcurrentBatches: 4 }, {}, clock);
    const results = [1, 2, 3, 4].map((n) => batcher.submit(n));
    expect(calls).toEqual([[1, 2, 3]]);
    await clock.advance(10);
    expect(calls).toEqual([[1, 2, 3], [4]]);
    answer(0);
    answer(1);
    await expect(Promise.all(results)).resolves.toEqual(['v1', 'v2', 'v3', 'v4']);
  });

  it('waits maxDelayMs for company, counted from the oldest item', async () => {
    const clock = new ManualClock();
    const { calls, run } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 10, maxDelayMs: 5, dispatchWhenIdle: false }, {}, clock);
    void batcher.submit(1);
    await clock.advance(3);
    void batcher.submit(2);
    expect(calls).toEqual([]);
    await clock.advance(2);
    expect(calls).toEqual([[1, 2]]);
  });

  it('with no batch running, sends at the end of the turn what that turn submitted, without waiting maxDelayMs', async () => {
    const clock = new ManualClock();
    const { calls, run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 10, maxDelayMs: 50 }, {}, clock);
    // One request's inputs arrive in one turn: they leave together, at once.
    void batcher.submit(1);
    void batcher.submit(2);
    expect(calls).toEqual([]);
    await clock.advance(0);
    expect(calls).toEqual([[1, 2]]);
    // While that batch runs, newcomers wait for it (or for maxDelayMs), and then leave together.
    void batcher.submit(3);
    await clock.advance(1);
    void batcher.submit(4);
    await clock.advance(1);
    expect(calls).toEqual([[1, 2]]);
    answer(0);
    await flushPromises();
    await clock.advance(0);
    expect(calls).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('while every slot is busy, lets items accumulate into one larger batch', async () => {
    const clock = new ManualClock();
    const { calls, run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxDelayMs: 1, maxConcurrentBatches: 1 }, {}, clock);
    void batcher.submit(1);
    await clock.advance(1);
    expect(calls).toEqual([[1]]);
    for (const n of [2, 3, 4, 5]) {
      void batcher.submit(n);
      await clock.advance(1);
    }
    expect(calls).toEqual([[1]]);
    answer(0);
    await flushPromises();
    expect(calls).toEqual([[1], [2, 3, 4, 5]]);
  });

  it("gives each item its own result, a failed one included, without touching its neighbours'", async () => {
    const clock = new ManualClock();
    const { run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 3, maxDelayMs: 5 }, {}, clock);
    const results = [1, -2, 3].map((n) => batcher.submit(n));
    answer(0);
    await expect(Promise.all(results)).resolves.toEqual(['v1', 'bad -2', 'v3']);
  });

  it('rejects every item of a batch whose run fails or returns the wrong count, and keeps going', async () => {
    const clock = new ManualClock();
    let call = 0;
    const run = async (items: number[]): Promise<number[]> => {
      call++;
      if (call === 1) throw new Error('backend down');
      if (call === 2) return [1];
      return items.map((n) => n * 10);
    };
    const batcher = new Batcher(run, { maxBatchSize: 2, maxDelayMs: 5, maxConcurrentBatches: 3 }, {}, clock);
    const first = [1, 2].map((n) => batcher.submit(n));
    const second = [3, 4].map((n) => batcher.submit(n));
    await expect(Promise.allSettled(first)).resolves.toEqual([
      { status: 'rejected', reason: new Error('backend down') },
      { status: 'rejected', reason: new Error('backend down') },
    ]);
    const secondSettled = await Promise.allSettled(second);
    expect(secondSettled.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual([
      'batch function returned 1 results for 2 items',
      'batch function returned 1 results for 2 items',
    ]);
    const third = [5, 6].map((n) => batcher.submit(n));
    await expect(Promise.all(third)).resolves.toEqual([50, 60]);
  });

  it('drain() sends what is queued at once and waits for it', async () => {
    const { calls, run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 10, maxDelayMs: 60_000 });
    const results = [1, 2].map((n) => batcher.submit(n));
    const drained = batcher.drain();
    await flushPromises();
    expect(calls).toEqual([[1, 2]]);
    answer(0);
    await drained;
    await expect(Promise.all(results)).resolves.toEqual(['v1', 'v2']);
  });

  it('reports batch sizes and waits', async () => {
    const clock = new ManualClock();
    const { run } = recorder();
    const dispatched: [number, number[]][] = [];
    const batcher = new Batcher(
      run,
      { maxBatchSize: 2, maxDelayMs: 5, dispatchWhenIdle: false },
      { dispatched: (size, waited) => dispatched.push([size, waited]) },
      clock,
    );
    void batcher.submit(1);
    await clock.advance(2);
    void batcher.submit(2);
    expect(dispatched).toEqual([[2, [2, 0]]]);
  });

  it('refuses bad options, naming them', () => {
    const run = async () => [];
    expect(() => new Batcher(run, { maxBatchSize: 0 })).toThrow('maxBatchSize must be a positive integer, got 0');
    expect(() => new Batcher(run, { maxDelayMs: -1 })).toThrow('maxDelayMs must be a non-negative number, got -1');
    expect(() => new Batcher(run, { dispatchWhenIdle: 1 as unknown as boolean })).toThrow(/^dispatchWhenIdle must be/);
    expect(() => new Batcher(run, { maxConcurrentBatches: 1.5 })).toThrow('maxConcurrentBatches must be a positive integer, got 1.5');
  });
});

describe('Batcher with abort signals', () => {
  it('takes an item out of the queue when its signal aborts before its batch goes', async () => {
    const clock = new ManualClock();
    const { calls, run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 10, maxDelayMs: 5 }, {}, clock);
    const gone = new AbortController();
    const kept = batcher.submit(1);
    const left = batcher.submit(2, gone.signal);
    gone.abort(new Error('client went away'));
    await expect(left).rejects.toThrow('client went away');
    expect(batcher.queued).toBe(1);
    await clock.advance(5);
    expect(calls).toEqual([[1]]);
    answer(0);
    await expect(kept).resolves.toBe('v1');
  });

  it('lets an item whose batch has gone finish, whatever its signal does', async () => {
    const clock = new ManualClock();
    const { calls, run, answer } = recorder();
    const batcher = new Batcher(run, { maxBatchSize: 1, maxDelayMs: 5 }, {}, clock);
    const late = new AbortController();
    const result = batcher.submit(7, late.signal);
    expect(calls).toEqual([[7]]);
    late.abort();
    answer(0);
    await expect(result).resolves.toBe('v7');
    await expect(batcher.submit(8, late.signal)).rejects.toBeDefined();
  });
});
