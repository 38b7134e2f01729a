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
  /** Records written per second by an admin key's mutations (bulk imports); 0 turns it off (env RATE_LIMIT_BULK_WRITES_PER_SECOND). Default 1000. */
  bulkWritesPerSecond: number;
  /** The bulk writes bucket's size (env RATE_LIMIT_BULK_WRITES_BURST). Default 1024. */
  bulkWritesBurst: number;
  /** Whether clients on this machine are limited too (env RATE_LIMIT_LOOPBACK). Default false: local tools and benchmarks run unthrottled. */
  loopback: boolean;
}

/**
 * Per client, where a client is an API key, or an address when it has none. A public endpoint's
 * share for one client: 20 inputs a second sustained is more than one CPU gateway serves in
 * images (14/s), and a burst of 512 lets any single request the default request limits allow
 * (256 inputs in a list) through at once.
 *
 * Bulk writes (an admin key's mutations: `npm run catalogue -- import` with an admin key) have a
 * bucket of their own, because the interactive one, sized for a shop's editors, would hold an
 * import of 100,000 products to 2.8 hours. What bounds an import that embeds images is admission
 * by time (503 OVERLOADED with Retry-After, which the import waits out), so the bulk rate is set
 * far above what one gateway embeds (14 images/s on CPU, a few hundred on a GPU) and bounds only
 * writes that embed nothing (a re-import of stored images, deletes): 1000 products a second is
 * under a tenth of what the SQLite store writes through its port (11,000/s, BENCHMARKS.md 6.3),
 * leaving the event loop to other clients. A burst of 1024 is four of the largest upserts
 * (CATALOGUE_MAX_PRODUCTS, 256 by default).
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  inputsPerSecond: 20,
  inputsBurst: 512,
  writesPerSecond: 10,
  writesBurst: 256,
  bulkWritesPerSecond: 1000,
  bulkWritesBurst: 1024,
  loopback: false,
};

export function checkRateLimits(limits: RateLimits): void {
  check('inputsPerSecond', limits.inputsPerSecond, nonNegativeNumber);
  check('inputsBurst', limits.inputsBurst, positiveInt);
  check('writesPerSecond', limits.writesPerSecond, nonNegativeNumber);
  check('writesBurst', limits.writesBurst, positiveInt);
  check('bulkWritesPerSecond', limits.bulkWritesPerSecond, nonNegativeNumber);
  check('bulkWritesBurst', limits.bulkWritesBurst, positiveInt);
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
  bulkWrites?: TokenBucket;
}

/**
 * How a request's writes are counted: `interactive` from the writes bucket, with its inference
 * inputs from the inputs bucket; `bulk` (an admin key's mutation) from the bulk writes bucket
 * alone. A bulk request's inputs are not held per client: an importer sends one batch at a time,
 * so its place in the inference queue is one batch, and admission by time decides whether that
 * batch can be embedded within its deadline (OVERLOADED otherwise). Holding it to the interactive
 * 20 inputs a second as well would cap an import on a GPU gateway below what the gateway embeds.
 */
export type WriteClass = 'interactive' | 'bulk';

/** The policy that applies to a class of writes: its name (as RateLimit-Policy gives it), rate and burst; rate 0 when off. */
export function writePolicy(limits: RateLimits, writeClass: WriteClass): { name: string; perSecond: number; burst: number } {
  return writeClass === 'bulk'
    ? { name: 'bulk-writes', perSecond: limits.bulkWritesPerSecond, burst: limits.bulkWritesBurst }
    : { name: 'writes', perSecond: limits.writesPerSecond, burst: limits.writesBurst };
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
    return this.limits.inputsPerSecond > 0 || this.limits.writesPerSecond > 0 || this.limits.bulkWritesPerSecond > 0;
  }

  /**
   * Takes `inputs` and `writes` from the client's buckets, or neither when either bucket cannot
   * give its share now. `client`: a stable name for the caller (an API key's hash, an address);
   * `writeClass`: whose bucket the writes come from, and whether the inputs count (WriteClass).
   */
  take(client: string, inputs: number, writes: number, writeClass: WriteClass = 'interactive'): RateDecision {
    if (writeClass === 'bulk') inputs = 0;
    if (inputs <= 0 && writes <= 0) return { ok: true };
    const now = this.now();
    const buckets = this.clients.get(client) ?? {};
    const { inputsPerSecond, inputsBurst } = this.limits;
    const policy = writePolicy(this.limits, writeClass);
    const slot = writeClass === 'bulk' ? 'bulkWrites' : 'writes';
    if (inputs > 0 && inputsPerSecond > 0) buckets.inputs ??= new TokenBucket(inputsPerSecond / 1000, inputsBurst, now);
    if (writes > 0 && policy.perSecond > 0) buckets[slot] ??= new TokenBucket(policy.perSecond / 1000, policy.burst, now);
    const writesBucket = buckets[slot];
    const inputWait = inputs > 0 && buckets.inputs ? buckets.inputs.waitMs(inputs, now) : 0;
    const writeWait = writes > 0 && writesBucket ? writesBucket.waitMs(writes, now) : 0;
    this.clients.set(client, buckets);
    if (inputWait > 0 || writeWait > 0) {
      const seconds = Math.max(1, Math.ceil(Math.max(inputWait, writeWait) / 1000));
      const what =
        inputWait >= writeWait
          ? `inference inputs (${inputsPerSecond} a second, bursts of ${inputsBurst}; this request has ${inputs})`
          : `${writeClass === 'bulk' ? 'bulk writes' : 'writes'} (${policy.perSecond} a second, bursts of ${policy.burst}; this request has ${writes})`;
      return {
        ok: false,
        retryAfterSeconds: seconds,
        message: `This client has used its share of ${what}. Retry after ${seconds} s (the Retry-After header).`,
      };
    }
    if (inputs > 0) buckets.inputs?.take(inputs);
    if (writes > 0) writesBucket?.take(writes);
    return { ok: true };
  }
}
