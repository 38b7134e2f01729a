import { LRUCache } from 'lru-cache';

import { bool, check, nonNegativeNumber, positiveInt } from '../../functions/options';

export interface RateLimits {
  /** Inference inputs (texts and images) a client may send per second, sustained; 0 turns the limit off (env RATE_LIMIT_INPUTS_PER_SECOND). */
  inputsPerSecond: number;
  /** Inputs a client may send at once after a quiet spell: the bucket's size (env RATE_LIMIT_INPUTS_BURST). */
  inputsBurst: number;
  /** Records written per second (products upserted or deleted; 1 for any other mutation); 0 turns it off (env RATE_LIMIT_WRITES_PER_SECOND). */
  writesPerSecond: number;
  /** The writes bucket's size (env RATE_LIMIT_WRITES_BURST). */
  writesBurst: number;
  /** Whether clients on this machine are limited too (env RATE_LIMIT_LOOPBACK). Default false: local tools and benchmarks run unthrottled. */
  loopback: boolean;
}

/**
 * Per client, where a client is an API key, or an address when it has none. A public endpoint's
 * share for one client: 20 inputs a second sustained is more than one CPU gateway serves in
 * images (14/s), and a burst of 512 lets any single request the default request limits allow
 * (256 inputs in a list) through at once.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  inputsPerSecond: 20,
  inputsBurst: 512,
  writesPerSecond: 10,
  writesBurst: 256,
  loopback: false,
};

export function checkRateLimits(limits: RateLimits): void {
  check('inputsPerSecond', limits.inputsPerSecond, nonNegativeNumber);
  check('inputsBurst', limits.inputsBurst, positiveInt);
  check('writesPerSecond', limits.writesPerSecond, nonNegativeNumber);
  check('writesBurst', limits.writesBurst, positiveInt);
  check('loopback', limits.loopback, bool);
}

/**
 * A token bucket that may go into debt: a take succeeds when the bucket holds at least the
 * amount (or is full, for an amount larger than the bucket), and then removes all of it. A
 * request larger than the burst is thus served, once, from a full bucket, and pays for it by
 * waiting longer before the next. Written here rather than taken from a library because the
 * refusal must say exactly when the tokens will be there (Retry-After) and takes are weighted.
 */
class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerMs: number,
    private readonly size: number,
    now: number,
  ) {
    this.tokens = size;
    this.updatedAt = now;
  }

  /** Ms until `amount` could be taken; 0 when it can be now. */
  waitMs(amount: number, now: number): number {
    this.refill(now);
    const needed = Math.min(amount, this.size);
    return this.tokens >= needed ? 0 : (needed - this.tokens) / this.ratePerMs;
  }

  take(amount: number): void {
    this.tokens -= amount;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.size, this.tokens + (now - this.updatedAt) * this.ratePerMs);
    this.updatedAt = now;
  }
}

interface ClientBuckets {
  inputs?: TokenBucket;
  writes?: TokenBucket;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number; message: string };

/** Clients tracked at once; the least recently seen go first (their buckets were likely full again). */
const MAX_CLIENTS = 100_000;

/** Rate limits per client, for inference inputs and for writes. */
export class RateLimiter {
  private readonly clients = new LRUCache<string, ClientBuckets>({ max: MAX_CLIENTS });

  constructor(
    readonly limits: RateLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    checkRateLimits(limits);
  }

  get enabled(): boolean {
    return this.limits.inputsPerSecond > 0 || this.limits.writesPerSecond > 0;
  }

  /**
   * Takes `inputs` and `writes` from the client's buckets, or neither when either bucket cannot
   * give its share now. `client`: a stable name for the caller (an API key's hash, an address).
   */
  take(client: string, inputs: number, writes: number): RateDecision {
    if (inputs <= 0 && writes <= 0) return { ok: true };
    const now = this.now();
    const buckets = this.clients.get(client) ?? {};
    const { inputsPerSecond, inputsBurst, writesPerSecond, writesBurst } = this.limits;
    if (inputs > 0 && inputsPerSecond > 0) buckets.inputs ??= new TokenBucket(inputsPerSecond / 1000, inputsBurst, now);
    if (writes > 0 && writesPerSecond > 0) buckets.writes ??= new TokenBucket(writesPerSecond / 1000, writesBurst, now);
    const inputWait = inputs > 0 && buckets.inputs ? buckets.inputs.waitMs(inputs, now) : 0;
    const writeWait = writes > 0 && buckets.writes ? buckets.writes.waitMs(writes, now) : 0;
    this.clients.set(client, buckets);
    if (inputWait > 0 || writeWait > 0) {
      const seconds = Math.max(1, Math.ceil(Math.max(inputWait, writeWait) / 1000));
      const what =
        inputWait >= writeWait
          ? `inference inputs (${inputsPerSecond} a second, bursts of ${inputsBurst}; this request has ${inputs})`
          : `writes (${writesPerSecond} a second, bursts of ${writesBurst}; this request has ${writes})`;
      return {
        ok: false,
        retryAfterSeconds: seconds,
        message: `This client has used its share of ${what}. Retry after ${seconds} s (the Retry-After header).`,
      };
    }
    if (inputs > 0) buckets.inputs?.take(inputs);
    if (writes > 0) buckets.writes?.take(writes);
    return { ok: true };
  }
}
