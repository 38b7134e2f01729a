/** One result per item: a value, or the error of that item alone. */
export type BatchResult<O> = { ok: true; value: O } | { ok: false; error: Error };

export interface BatcherOptions {
  /** Most items in one batch. Default 32. */
  maxBatchSize: number;
  /** Longest an item waits for company before its batch goes, in ms. Default 5. */
  maxDelayMs: number;
  /** Most bytes in one batch (a remote payload budget), as measured by `sizeOf`. Default: no limit. */
  maxBatchBytes: number;
  /**
   * Most batches running at once. Items arriving while all are busy wait and leave together as one
   * larger batch when a slot frees: under load, batches grow instead of queueing. Default 1.
   */
  maxConcurrentBatches: number;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = {
  maxBatchSize: 32,
  maxDelayMs: 5,
  maxBatchBytes: Number.POSITIVE_INFINITY,
  maxConcurrentBatches: 1,
};

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface BatchEvents {
  /** A batch leaves: its size and how long each item waited, in ms. */
  dispatched?(size: number, waitedMs: number[]): void;
  /** A batch came back (or failed as a whole): its size and duration in ms. */
  completed?(size: number, durationMs: number, ok: boolean): void;
}

interface Pending<I, O> {
  item: I;
  bytes: number;
  enqueuedAt: number;
  resolve(value: O): void;
  reject(error: Error): void;
}

export function checkBatcherOptions(options: BatcherOptions): void {
  const positiveInt = (name: keyof BatcherOptions) => {
    if (!Number.isInteger(options[name]) || options[name] <= 0) throw new TypeError(`${name} must be a positive integer: ${options[name]}`);
  };
  positiveInt('maxBatchSize');
  positiveInt('maxConcurrentBatches');
  if (!Number.isFinite(options.maxDelayMs) || options.maxDelayMs < 0)
    throw new TypeError(`maxDelayMs must be a non-negative number: ${options.maxDelayMs}`);
  if (!(options.maxBatchBytes > 0)) throw new TypeError(`maxBatchBytes must be a positive number: ${options.maxBatchBytes}`);
}

/**
 * Coalesces items submitted from anywhere (many requests) into batches for `run`, which must return
 * one result per item, in order. A batch leaves when it is full (count or bytes), when its oldest
 * item has waited maxDelayMs, or on drain(); a failed batch rejects every item in it, so nothing
 * ever hangs.
 */
export class Batcher<I, O> {
  private readonly options: BatcherOptions;
  private queue: Pending<I, O>[] = [];
  private queuedBytes = 0;
  private inFlight = new Set<Promise<void>>();
  private timer: unknown = undefined;
  private draining = false;

  constructor(
    private readonly run: (items: I[]) => Promise<BatchResult<O>[]>,
    options: Partial<BatcherOptions> = {},
    private readonly sizeOf: (item: I) => number = () => 0,
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
  submit(item: I, signal?: AbortSignal): Promise<O> {
    const bytes = this.sizeOf(item);
    if (bytes > this.options.maxBatchBytes) {
      return Promise.reject(new RangeError(`item of ${bytes} bytes exceeds the batch budget of ${this.options.maxBatchBytes} bytes`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<O>((resolve, reject) => {
      const pending: Pending<I, O> = { item, bytes, enqueuedAt: this.clock.now(), resolve, reject };
      if (signal) {
        const leave = () => {
          const index = this.queue.indexOf(pending);
          if (index < 0) return; // already dispatched
          this.queue.splice(index, 1);
          this.queuedBytes -= bytes;
          reject(signal.reason);
          this.schedule();
        };
        signal.addEventListener('abort', leave, { once: true });
        const settle = () => signal.removeEventListener('abort', leave);
        pending.resolve = (value) => {
          settle();
          resolve(value);
        };
        pending.reject = (error) => {
          settle();
          reject(error);
        };
      }
      this.queue.push(pending);
      this.queuedBytes += bytes;
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

  /** How many items from the head of the queue make the next batch, and whether it is full. */
  private nextBatch(): { count: number; full: boolean } {
    let count = 0;
    let bytes = 0;
    for (const pending of this.queue) {
      if (count === this.options.maxBatchSize || bytes + pending.bytes > this.options.maxBatchBytes) return { count, full: true };
      count++;
      bytes += pending.bytes;
    }
    return { count, full: count === this.options.maxBatchSize };
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight.size < this.options.maxConcurrentBatches) {
      const { count, full } = this.nextBatch();
      const due = this.clock.now() - this.queue[0].enqueuedAt >= this.options.maxDelayMs;
      if (!full && !due && !this.draining) break;
      this.dispatch(this.queue.splice(0, count));
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
    const wait = Math.max(0, this.queue[0].enqueuedAt + this.options.maxDelayMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  private dispatch(batch: Pending<I, O>[]): void {
    for (const pending of batch) this.queuedBytes -= pending.bytes;
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

  private async runBatch(batch: Pending<I, O>[], started: number): Promise<void> {
    let results: BatchResult<O>[];
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
    results.forEach((result, i) => (result.ok ? batch[i].resolve(result.value) : batch[i].reject(result.error)));
  }
}
