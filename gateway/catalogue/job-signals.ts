/**
 * What this gateway's job runner and the callers waiting on jobs tell each other in-process: a job
 * made wakes the runner at once instead of at its next poll, and each step of the runner wakes
 * whoever waits on a job instead of leaving them to read the store on a timer. Work done by other
 * gateways on a shared store is not heard here, so a waiter still reads the store at an interval;
 * this gateway's own work only cuts that interval short.
 */
export class JobSignals {
  private readonly runners: (() => void)[] = [];
  private waiting = new Set<() => void>();

  /** Calls `listener` whenever there is job work to look for (the runner's wake). */
  onWork(listener: () => void): void {
    this.runners.push(listener);
  }

  /** There is job work: a job was made, or a job ended and queued another. */
  work(): void {
    for (const listener of this.runners) listener();
  }

  /** The runner did a step: a chunk completed, or a claim found (or ended) a job. */
  progressed(): void {
    const waiting = this.waiting;
    this.waiting = new Set();
    for (const resolve of waiting) resolve();
  }

  /**
   * Resolves at the next progressed(), after `ms`, or when `stop` aborts, whichever comes first.
   * Call it before reading what it waits on, so that progress made while reading is not missed.
   */
  next(ms: number, stop: AbortSignal): Promise<void> {
    if (stop.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        stop.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiting.add(done);
      stop.addEventListener('abort', done, { once: true });
    });
  }
}
