import { LRUCache } from 'lru-cache';

interface Running<V> {
  key: string;
  promise: Promise<V>;
  waiters: number;
  abandon: AbortController;
  /** The latest deadline of any waiter so far (ms since the epoch; Infinity: one has none). */
  deadline: number;
}

/** The work behind a key: `abandoned` aborts when every waiter has gone; `deadline()` is the latest any waiter has. */
export type Compute<V> = (abandoned: AbortSignal, deadline: () => number) => Promise<V>;

/**
 * Values computed once for every request that asks: an LRU of finished values, plus the
 * computations running right now, which a second request for the same key joins instead of
 * repeating. A running computation is abandoned (its signal aborts) only when every request
 * waiting for it has gone, so a client that hangs up stops work that nobody else wants.
 */
export class SharedCache<V extends object> {
  private readonly done: LRUCache<string, V>;
  private readonly running = new Map<string, Running<V>>();

  /**
   * `keep`: whether a finished value is kept for later gets (default: all). A value that says the
   * work failed is answered to every waiter and then forgotten, like a rejection, so that the
   * next get tries again.
   */
  constructor(
    maxEntries: number,
    private readonly keep: (value: V) => boolean = () => true,
  ) {
    this.done = new LRUCache({ max: maxEntries });
  }

  /**
   * The value for `key`: cached, joined, or computed by `compute` (whose signal aborts when every
   * waiter has gone). `hit` says whether a cached value answered. `signal`: this waiter has gone.
   * `deadline`: when this waiter stops waiting (ms since the epoch; default none), so that work
   * shared by several requests is given the time of the one that can wait longest.
   */
  get(key: string, compute: Compute<V>, signal?: AbortSignal, deadline = Number.POSITIVE_INFINITY): { hit: boolean; value: Promise<V> } {
    const cached = this.done.get(key);
    if (cached) return { hit: true, value: Promise.resolve(cached) };
    const entry = this.running.get(key) ?? this.start(key, compute, deadline);
    entry.deadline = Math.max(entry.deadline, deadline);
    entry.waiters++;
    return { hit: false, value: this.wait(entry, signal) };
  }

  private start(key: string, compute: Compute<V>, deadline: number): Running<V> {
    const abandon = new AbortController();
    const entry: Running<V> = { key, promise: Promise.resolve(undefined as never), waiters: 0, abandon, deadline };
    entry.promise = compute(abandon.signal, () => entry.deadline).then((value) => {
      if (this.keep(value)) this.done.set(key, value);
      return value;
    });
    this.running.set(key, entry);
    const forget = () => this.forget(entry);
    entry.promise.then(forget, forget);
    return entry;
  }

  private wait(entry: Running<V>, signal?: AbortSignal): Promise<V> {
    if (!signal) return entry.promise;
    if (signal.aborted) return this.leave(entry, signal);
    return new Promise<V>((resolve, reject) => {
      const onAbort = () => this.leave(entry, signal).catch(reject);
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** One waiter has gone; the last one to go abandons the work. */
  private leave(entry: Running<V>, signal: AbortSignal): Promise<never> {
    entry.waiters--;
    if (entry.waiters === 0) {
      // Forget it at once, so that a later request for the same key starts afresh.
      this.forget(entry);
      entry.abandon.abort(signal.reason);
    }
    return Promise.reject(signal.reason);
  }

  private forget(entry: Running<V>): void {
    if (this.running.get(entry.key) === entry) this.running.delete(entry.key);
  }
}
