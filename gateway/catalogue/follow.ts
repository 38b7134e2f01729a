/**
 * What the catalogue's followers (a job's progress, the tag-change feed) share: an iterator that
 * stops reading as soon as `signal` aborts or it is returned (its subscriber left), even between
 * two reads, and the pause between reads that such a stop cuts short.
 */

/** How often a follower reads the store while nothing is new: often enough for a progress bar or a live list, a few rows each time. */
export const FOLLOW_INTERVAL_MS = 250;

/**
 * `read`'s values, stopped by `signal` or by return(): an async generator's own return() would wait
 * for its next value, which a follower with nothing new to send never makes.
 */
export function stoppable<T>(
  signal: AbortSignal | undefined,
  read: (stop: AbortSignal) => AsyncGenerator<T, undefined>,
): AsyncIterableIterator<T> {
  const stop = new AbortController();
  if (signal?.aborted) stop.abort();
  else signal?.addEventListener('abort', () => stop.abort(), { once: true });
  const values = read(stop.signal);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => values.next(),
    async return() {
      stop.abort();
      return values.return(undefined);
    },
  };
}

/** Waits `ms`, or less when `stop` aborts (at once when it has already). */
export function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
  });
}
