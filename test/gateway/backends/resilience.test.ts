import { backoffMs, CircuitBreaker, Semaphore } from '../../../gateway/backends/resilience';
import { flushPromises } from '../../helpers/clock';

const thrown = (make: () => unknown): Error => {
  try {
    make();
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
};

describe('CircuitBreaker', () => {
  let now: number;
  const breaker = (failureThreshold = 3, cooldownMs = 1_000) => new CircuitBreaker({ failureThreshold, cooldownMs }, () => now);
  /** A breaker that has just opened, at `now`. */
  const opened = () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    expect(b.state).toBe('open');
    return b;
  };
  beforeEach(() => {
    now = 5_000;
  });

  it('lets calls through while closed and opens after failureThreshold consecutive failures', () => {
    const b = breaker();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
    // A success in between starts the count again: failures must be consecutive.
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
  });

  it('does not count a neutral outcome as a success', () => {
    const b = breaker();
    b.failure();
    b.failure();
    b.neutral();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
  });

  it('refuses every call while open and says how long until a probe may go', () => {
    const b = opened();
    expect(b.retryInMs).toBe(1_000);
    expect([b.tryAcquire(), b.tryAcquire(), b.tryAcquire()]).toEqual([false, false, false]);
    now += 600;
    expect(b.retryInMs).toBe(400);
    expect(b.tryAcquire()).toBe(false);
    now += 399;
    expect(b.retryInMs).toBe(1);
    expect(b.tryAcquire()).toBe(false);
    expect(b.state).toBe('open');
  });

  it('after the cooldown lets exactly one probe through (half-open)', () => {
    const b = opened();
    now += 1_000;
    expect(b.retryInMs).toBe(0);
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.retryInMs).toBe(0);
    expect([b.tryAcquire(), b.tryAcquire(), b.tryAcquire()]).toEqual([false, false, false]);
    // Time passing does not let another through while the probe is out.
    now += 10_000;
    expect(b.tryAcquire()).toBe(false);
  });

  it('closes when the probe succeeds, with the failure count started again', () => {
    const b = opened();
    now += 1_000;
    expect(b.tryAcquire()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect([b.tryAcquire(), b.tryAcquire(), b.tryAcquire()]).toEqual([true, true, true]);
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
  });

  it('reopens for a whole cooldown when the probe fails', () => {
    const b = opened();
    now += 1_500;
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.retryInMs).toBe(1_000);
    expect(b.tryAcquire()).toBe(false);
    now += 999;
    expect(b.tryAcquire()).toBe(false);
    now += 1;
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe('half-open');
  });

  it('neutral() releases the probe without closing or reopening: the next call probes again', () => {
    const b = opened();
    now += 1_000;
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.neutral();
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
  });

  it('with a threshold of 1 and no cooldown, opens on one failure and probes at once', () => {
    const b = breaker(1, 0);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.retryInMs).toBe(0);
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(false);
  });

  it.each([
    ['failureThreshold must be a positive integer, got 0', { failureThreshold: 0, cooldownMs: 1 }],
    ['failureThreshold must be a positive integer, got 2.5', { failureThreshold: 2.5, cooldownMs: 1 }],
    ['cooldownMs must be a non-negative number, got -1', { failureThreshold: 1, cooldownMs: -1 }],
  ])('refuses bad options with a TypeError: %s', (message, options) => {
    const error = thrown(() => new CircuitBreaker(options));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(message);
  });
});

describe('Semaphore', () => {
  /** Tasks that start when the semaphore runs them and end when the test says. */
  function tasks() {
    const started: string[] = [];
    const finish = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();
    let running = 0;
    let peak = 0;
    const task = (name: string) => () => {
      started.push(name);
      running++;
      peak = Math.max(peak, running);
      return new Promise<string>((resolve, reject) => finish.set(name, { resolve, reject })).finally(() => running--);
    };
    return { started, finish, task, peak: () => peak };
  }

  it('never runs more than `limit` tasks at once', async () => {
    const semaphore = new Semaphore(2);
    const { started, finish, task, peak } = tasks();
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => semaphore.run(task(name)));
    await flushPromises();
    expect(started).toEqual(['a', 'b']);
    expect(semaphore.inFlight).toBe(2);
    for (const [name, next] of [
      ['b', 'c'],
      ['a', 'd'],
      ['d', 'e'],
    ]) {
      finish.get(name)!.resolve(name);
      await flushPromises();
      expect(started.at(-1)).toBe(next);
      expect(semaphore.inFlight).toBe(2);
    }
    finish.get('c')!.resolve('c');
    finish.get('e')!.resolve('e');
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(peak()).toBe(2);
    expect(semaphore.inFlight).toBe(0);
  });

  it('starts waiting tasks first come, first served; a newcomer queues behind them', async () => {
    const semaphore = new Semaphore(1);
    const { started, finish, task } = tasks();
    const results = ['a', 'b', 'c'].map((name) => semaphore.run(task(name)));
    await flushPromises();
    expect(started).toEqual(['a']);
    finish.get('a')!.resolve('a');
    results.push(semaphore.run(task('d')));
    await flushPromises();
    expect(started).toEqual(['a', 'b']);
    finish.get('b')!.resolve('b');
    await flushPromises();
    expect(started).toEqual(['a', 'b', 'c']);
    finish.get('c')!.resolve('c');
    await flushPromises();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    finish.get('d')!.resolve('d');
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c', 'd']);
  });

  it('hands a freed slot to the first waiter, so a newcomer arriving at that moment cannot overtake', async () => {
    const semaphore = new Semaphore(1);
    const started: string[] = [];
    let finishFirst!: (value: string) => void;
    const first = new Promise<string>((resolve) => (finishFirst = resolve));
    const running = [semaphore.run(() => first), semaphore.run(async () => (started.push('waiting'), 'waiting'))];
    // Runs right after the semaphore sees the first task end: the slot is free, the waiter not yet started.
    const newcomer = first.then(() => semaphore.run(async () => (started.push('newcomer'), 'newcomer')));
    finishFirst('first');
    await expect(Promise.all([...running, newcomer])).resolves.toEqual(['first', 'waiting', 'newcomer']);
    expect(started).toEqual(['waiting', 'newcomer']);
    expect(semaphore.inFlight).toBe(0);
  });

  it('frees the slot of a task that fails, and passes its error on', async () => {
    const semaphore = new Semaphore(1);
    const { started, finish, task } = tasks();
    const failing = semaphore.run(task('a'));
    const next = semaphore.run(task('b'));
    await flushPromises();
    expect(started).toEqual(['a']);
    finish.get('a')!.reject(new Error('a failed'));
    await expect(failing).rejects.toThrow('a failed');
    await flushPromises();
    expect(started).toEqual(['a', 'b']);
    finish.get('b')!.resolve('b');
    await expect(next).resolves.toBe('b');
    expect(semaphore.inFlight).toBe(0);
  });

  it('frees the slot of a task that throws before returning a promise', async () => {
    const semaphore = new Semaphore(1);
    const throwing = semaphore.run((): Promise<never> => {
      throw new Error('thrown at once');
    });
    const next = semaphore.run(async () => 'next');
    await expect(throwing).rejects.toThrow('thrown at once');
    await expect(next).resolves.toBe('next');
    expect(semaphore.inFlight).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    const error = thrown(() => new Semaphore(0));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('maxInFlight must be a positive integer, got 0');
  });
});

describe('backoffMs (full jitter)', () => {
  const almostOne = () => 1 - Number.EPSILON;

  it('waits nothing when the draw is 0', () => {
    for (const attempt of [0, 1, 5, 30]) expect(backoffMs(attempt, 100, 2_000, () => 0)).toBe(0);
  });

  it('waits just under base × 2^attempt when the draw is near 1', () => {
    for (const [attempt, bound] of [
      [0, 100],
      [1, 200],
      [2, 400],
      [4, 1_600],
    ]) {
      const wait = backoffMs(attempt, 100, 2_000, almostOne);
      expect(wait).toBeLessThan(bound);
      expect(wait).toBeCloseTo(bound, 6);
    }
  });

  it('never waits more than the maximum, however many attempts', () => {
    for (const attempt of [5, 10, 64, 2_000]) {
      const wait = backoffMs(attempt, 100, 2_000, almostOne);
      expect(wait).toBeLessThanOrEqual(2_000);
      expect(wait).toBeCloseTo(2_000, 6);
    }
  });

  it('scales the draw over the whole range', () => {
    expect(backoffMs(2, 100, 2_000, () => 0.5)).toBe(200);
    expect(backoffMs(10, 100, 2_000, () => 0.25)).toBe(500);
  });

  it('with the default random source, stays within [0, min(max, base × 2^attempt)]', () => {
    const waits = Array.from({ length: 200 }, () => backoffMs(3, 100, 2_000));
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThanOrEqual(800);
    }
    expect(new Set(waits).size).toBeGreaterThan(1);
  });
});
