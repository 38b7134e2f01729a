import { SharedCache } from '../../../gateway/embedding/shared-cache';

interface Value {
  n: number;
}

/** A computation the test finishes by hand, recording each start and the signal it was given. */
function controlled() {
  const starts: { signal: AbortSignal; resolve: (v: Value) => void; reject: (e: unknown) => void }[] = [];
  const compute = jest.fn(
    (signal: AbortSignal) =>
      new Promise<Value>((resolve, reject) => {
        starts.push({ signal, resolve, reject });
      }),
  );
  return { starts, compute };
}

/** Whether `promise` has settled, after pending callbacks have run. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let result: 'pending' | 'resolved' | 'rejected' = 'pending';
  promise.then(
    () => (result = 'resolved'),
    () => (result = 'rejected'),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return result;
}

describe('SharedCache', () => {
  it('computes a missing value, then answers from the cache', async () => {
    const cache = new SharedCache<Value>(10);
    const { starts, compute } = controlled();
    const first = cache.get('k', compute);
    expect(first.hit).toBe(false);
    expect(compute).toHaveBeenCalledTimes(1);
    const value = { n: 1 };
    starts[0].resolve(value);
    await expect(first.value).resolves.toBe(value);

    const second = cache.get('k', compute);
    expect(second.hit).toBe(true);
    await expect(second.value).resolves.toBe(value);
    expect(compute).toHaveBeenCalledTimes(1);
  });

  it('joins a running computation instead of starting another', async () => {
    const cache = new SharedCache<Value>(10);
    const { starts, compute } = controlled();
    const a = cache.get('k', compute);
    const b = cache.get('k', compute);
    expect(b.hit).toBe(false);
    expect(compute).toHaveBeenCalledTimes(1);
    const value = { n: 2 };
    starts[0].resolve(value);
    await expect(a.value).resolves.toBe(value);
    await expect(b.value).resolves.toBe(value);
  });

  it('keeps different keys apart', async () => {
    const cache = new SharedCache<Value>(10);
    const { starts, compute } = controlled();
    const a = cache.get('a', compute);
    const b = cache.get('b', compute);
    expect(compute).toHaveBeenCalledTimes(2);
    starts[1].resolve({ n: 20 });
    starts[0].resolve({ n: 10 });
    await expect(a.value).resolves.toEqual({ n: 10 });
    await expect(b.value).resolves.toEqual({ n: 20 });
  });

  it('does not cache a failed computation: every joiner sees the failure, a later get starts afresh', async () => {
    const cache = new SharedCache<Value>(10);
    const { starts, compute } = controlled();
    const a = cache.get('k', compute);
    const b = cache.get('k', compute, new AbortController().signal);
    const failure = new Error('backend down');
    starts[0].reject(failure);
    await expect(a.value).rejects.toBe(failure);
    await expect(b.value).rejects.toBe(failure);

    const again = cache.get('k', compute);
    expect(again.hit).toBe(false);
    expect(compute).toHaveBeenCalledTimes(2);
    starts[1].resolve({ n: 3 });
    await expect(again.value).resolves.toEqual({ n: 3 });
    expect(cache.get('k', compute).hit).toBe(true);
  });

  it('answers a value its keep refuses to every joiner, then forgets it like a failure', async () => {
    const cache = new SharedCache<Value>(10, (value) => value.n >= 0);
    const { starts, compute } = controlled();
    const a = cache.get('k', compute);
    const b = cache.get('k', compute);
    const refused = { n: -1 };
    starts[0].resolve(refused);
    await expect(a.value).resolves.toBe(refused);
    await expect(b.value).resolves.toBe(refused);

    const again = cache.get('k', compute);
    expect(again.hit).toBe(false);
    expect(compute).toHaveBeenCalledTimes(2);
    starts[1].resolve({ n: 4 });
    await expect(again.value).resolves.toEqual({ n: 4 });
    expect(cache.get('k', compute).hit).toBe(true);
  });

  describe('abandonment', () => {
    it('aborts the computation only when every waiter’s signal has aborted', async () => {
      const cache = new SharedCache<Value>(10);
      const { starts, compute } = controlled();
      const one = new AbortController();
      const two = new AbortController();
      const a = cache.get('k', compute, one.signal);
      const b = cache.get('k', compute, two.signal);
      const abandoned = starts[0].signal;

      one.abort(new Error('client 1 hung up'));
      await expect(a.value).rejects.toThrow('client 1 hung up');
      expect(abandoned.aborted).toBe(false);
      expect(await state(b.value)).toBe('pending');

      const reason = new Error('client 2 hung up');
      two.abort(reason);
      await expect(b.value).rejects.toBe(reason);
      expect(abandoned.aborted).toBe(true);
      expect(abandoned.reason).toBe(reason);
    });

    it('lets the remaining waiter have the value after another has gone', async () => {
      const cache = new SharedCache<Value>(10);
      const { starts, compute } = controlled();
      const gone = new AbortController();
      const stays = new AbortController();
      const a = cache.get('k', compute, gone.signal);
      const b = cache.get('k', compute, stays.signal);
      gone.abort(new Error('gone'));
      await expect(a.value).rejects.toThrow('gone');
      starts[0].resolve({ n: 4 });
      await expect(b.value).resolves.toEqual({ n: 4 });
      expect(starts[0].signal.aborted).toBe(false);
      // Aborting after the value came has no effect, and the value is cached.
      stays.abort(new Error('late'));
      expect(starts[0].signal.aborted).toBe(false);
      expect(cache.get('k', compute).hit).toBe(true);
    });

    it('never abandons work a waiter without a signal is waiting for', async () => {
      const cache = new SharedCache<Value>(10);
      const { starts, compute } = controlled();
      const forever = cache.get('k', compute);
      const leaver = new AbortController();
      const a = cache.get('k', compute, leaver.signal);
      leaver.abort(new Error('gone'));
      await expect(a.value).rejects.toThrow('gone');
      expect(starts[0].signal.aborted).toBe(false);
      starts[0].resolve({ n: 5 });
      await expect(forever.value).resolves.toEqual({ n: 5 });
    });

    it('starts afresh for a get after abandonment, with a signal of its own', async () => {
      const cache = new SharedCache<Value>(10);
      const { starts, compute } = controlled();
      const first = new AbortController();
      const a = cache.get('k', compute, first.signal);
      first.abort(new Error('gone'));
      await expect(a.value).rejects.toThrow('gone');
      expect(starts[0].signal.aborted).toBe(true);

      const b = cache.get('k', compute);
      expect(b.hit).toBe(false);
      expect(compute).toHaveBeenCalledTimes(2);
      expect(starts[1].signal.aborted).toBe(false);
      starts[1].resolve({ n: 6 });
      await expect(b.value).resolves.toEqual({ n: 6 });
      // The abandoned computation failing afterwards troubles no one.
      starts[0].reject(new Error('aborted'));
      expect(cache.get('k', compute).hit).toBe(true);
      await expect(cache.get('k', compute).value).resolves.toEqual({ n: 6 });
    });

    it('rejects at once for a signal already aborted, abandoning work nobody else wants', async () => {
      const cache = new SharedCache<Value>(10);
      const { starts, compute } = controlled();
      const reason = new Error('already gone');
      const a = cache.get('k', compute, AbortSignal.abort(reason));
      await expect(a.value).rejects.toBe(reason);
      expect(starts.every((s) => s.signal.aborted)).toBe(true);
      // A later get does not join the abandoned work.
      const b = cache.get('k', compute);
      expect(compute).toHaveBeenCalledTimes(starts.length);
      expect(starts[starts.length - 1].signal.aborted).toBe(false);
      starts[starts.length - 1].resolve({ n: 7 });
      await expect(b.value).resolves.toEqual({ n: 7 });
    });

    it('does not abandon a running computation when a joiner arrives with an aborted signal', async () => {
      const cache = new SharedCache<Value>(10);
      const { starts, compute } = controlled();
      const a = cache.get('k', compute, new AbortController().signal);
      const b = cache.get('k', compute, AbortSignal.abort(new Error('gone')));
      await expect(b.value).rejects.toThrow('gone');
      expect(starts[0].signal.aborted).toBe(false);
      starts[0].resolve({ n: 8 });
      await expect(a.value).resolves.toEqual({ n: 8 });
    });
  });

  describe('LRU eviction', () => {
    const fill = async (cache: SharedCache<Value>, key: string, n: number) => {
      await cache.get(key, async () => ({ n })).value;
    };

    it('keeps at most maxEntries values, dropping the least recently used', async () => {
      const cache = new SharedCache<Value>(2);
      await fill(cache, 'a', 1);
      await fill(cache, 'b', 2);
      // Use a, so b is the least recently used when c arrives.
      expect(cache.get('a', jest.fn()).hit).toBe(true);
      await fill(cache, 'c', 3);

      const compute = jest.fn(async () => ({ n: 22 }));
      expect(cache.get('a', compute).hit).toBe(true);
      expect(cache.get('c', compute).hit).toBe(true);
      expect(compute).not.toHaveBeenCalled();
      const b = cache.get('b', compute);
      expect(b.hit).toBe(false);
      expect(compute).toHaveBeenCalledTimes(1);
      await expect(b.value).resolves.toEqual({ n: 22 });
    });

    it('keeps one value with maxEntries 1', async () => {
      const cache = new SharedCache<Value>(1);
      await fill(cache, 'a', 1);
      await fill(cache, 'b', 2);
      expect(cache.get('b', jest.fn()).hit).toBe(true);
      const compute = jest.fn(async () => ({ n: 1 }));
      expect(cache.get('a', compute).hit).toBe(false);
      expect(compute).toHaveBeenCalledTimes(1);
    });
  });
});
