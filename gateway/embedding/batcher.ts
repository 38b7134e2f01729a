import { bool, check, nonNegativeNumber, positiveInt } from '../../functions/options';
import { systemClock, type Clock } from '../common/clock';

export interface BatcherOptions {
  /** Most items in one batch. Default 32. */
  maxBatchSize: number;
  /** Longest an item waits for company before its batch goes, in ms. Default 5. */
  maxDelayMs: number;
  /**
   * Most batches running at once. Items arriving while all are busy wait and leave together as one
   * larger batch when a slot frees: under load, batches grow instead of queueing. Default 1.
   */
  maxConcurrentBatches: number;
  /**
   * With no batch running, send what is queued once the current turn of the event loop is over
   * instead of waiting maxDelayMs: nothing would join it sooner than the model frees up, so waiting
   * is pure latency. Items submitted in the same turn (one request's texts) still leave together,
   * and under load, when a batch is always running, batches form exactly as before. Default true.
   */
  dispatchWhenIdle: boolean;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = {
  maxBatchSize: 32,
  maxDelayMs: 5,
  maxConcurrentBatches: 1,
  dispatchWhenIdle: true,
};

export interface BatchEvents {
  /** A batch leaves: its size and how long each item waited, in ms. */
  dispatched?(size: number, waitedMs: number[]): void;
  /** A batch came back (or failed as a whole): its size and duration in ms. */
  completed?(size: number, durationMs: number, ok: boolean): void;
  /** An item left the queue before its batch went, because its signal aborted with `reason`. */
  left?(reason: unknown): void;
}

interface Pending<I, R> {
  item: I;
  enqueuedAt: number;
  resolve(result: R): void;
  reject(error: Error): void;
}

export function checkBatcherOptions(options: BatcherOptions): void {
  check('maxBatchSize', options.maxBatchSize, positiveInt);
  check('maxDelayMs', options.maxDelayMs, nonNegativeNumber);
  check('maxConcurrentBatches', options.maxConcurrentBatches, positiveInt);
  check('dispatchWhenIdle', options.dispatchWhenIdle, bool);
}

/**
 * Coalesces items submitted from anywhere (many requests) into batches for `run`, which must return
 * one result per item, in order; each submitter gets its own item's result, whatever it says. A
 * batch leaves when it is full, when its oldest item has waited maxDelayMs, at the end of the
 * event loop's turn when no batch is running (dispatchWhenIdle), or on drain(); a batch
 * whose run fails rejects every item in it, so nothing ever hangs.
 */
export class Batcher<I, R> {
  private readonly options: BatcherOptions;
  private queue: Pending<I, R>[] = [];
  private inFlight = new Set<Promise<void>>();
  private timer: unknown = undefined;
  private draining = false;
  /** True while the end-of-turn timer of an idle batcher runs pump(). */
  private idleTurnOver = false;

  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    options: Partial<BatcherOptions> = {},
    private readonly events: BatchEvents = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.options = { ...DEFAULT_BATCHER_OPTIONS, ...options };
    checkBatcherOptions(this.options);
  }

  /** Items waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues one item. If `signal` aborts while the item still waits in the queue, it leaves the
   * queue and its promise rejects with the signal's reason; once its batch has gone, it runs.
   */
  submit(item: I, signal?: AbortSignal): Promise<R> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<R>((resolve, reject) => {
      const pending: Pending<I, R> = { item, enqueuedAt: this.clock.now(), resolve, reject };
      if (signal) {
        const leave = () => {
          const index = this.queue.indexOf(pending);
          if (index < 0) return; // already dispatched
          this.queue.splice(index, 1);
          this.events.left?.(signal.reason);
          reject(signal.reason);
          this.schedule();
        };
        signal.addEventListener('abort', leave, { once: true });
        const settle = () => signal.removeEventListener('abort', leave);
        pending.resolve = (result) => {
          settle();
          resolve(result);
        };
        pending.reject = (error) => {
          settle();
          reject(error);
        };
      }
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Sends everything queued now, and resolves when no batch is left running. */
  async drain(): Promise<void> {
    this.draining = true;
    try {
      this.pump();
      while (this.inFlight.size > 0 || this.queue.length > 0) {
        await Promise.race(this.inFlight);
        this.pump();
      }
    } finally {
      this.draining = false;
    }
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight.size < this.options.maxConcurrentBatches) {
      const full = this.queue.length >= this.options.maxBatchSize;
      const due = this.clock.now() - this.queue[0].enqueuedAt >= this.options.maxDelayMs;
      const idle = this.idleTurnOver && this.inFlight.size === 0;
      if (!full && !due && !idle && !this.draining) break;
      this.dispatch(this.queue.splice(0, this.options.maxBatchSize));
    }
    this.schedule();
  }

  /** Wakes up when the oldest queued item falls due (if a slot is free to send it then). */
  private schedule(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0 || this.inFlight.size >= this.options.maxConcurrentBatches) return;
    const idle = this.options.dispatchWhenIdle && this.inFlight.size === 0;
    const wait = idle ? 0 : Math.max(0, this.queue[0].enqueuedAt + this.options.maxDelayMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.idleTurnOver = idle;
      try {
        this.pump();
      } finally {
        this.idleTurnOver = false;
      }
    }, wait);
  }

  private dispatch(batch: Pending<I, R>[]): void {
    const started = this.clock.now();
    this.events.dispatched?.(
      batch.length,
      batch.map((p) => started - p.enqueuedAt),
    );
    const running = this.runBatch(batch, started).finally(() => {
      this.inFlight.delete(running);
      this.pump();
    });
    this.inFlight.add(running);
  }

  private async runBatch(batch: Pending<I, R>[], started: number): Promise<void> {
    let results: R[];
    try {
      results = await this.run(batch.map((p) => p.item));
      if (!Array.isArray(results) || results.length !== batch.length) {
        throw new Error(
          `batch function returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} items`,
        );
      }
    } catch (error) {
      this.events.completed?.(batch.length, this.clock.now() - started, false);
      const reason = error instanceof Error ? error : new Error(String(error));
      for (const pending of batch) pending.reject(reason);
      return;
    }
    this.events.completed?.(batch.length, this.clock.now() - started, true);
    results.forEach((result, i) => batch[i].resolve(result));
  }
}
