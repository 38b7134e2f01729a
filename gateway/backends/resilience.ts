/** Building blocks for calling a remote function that can be slow, throttled or down. */
import { check, nonNegativeNumber, positiveInt } from '../../functions/options';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before letting one probe through, in ms. Default 10000. */
  cooldownMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Fails fast while the function is down instead of piling requests onto it: after
 * `failureThreshold` consecutive failures the circuit opens and every call is refused at once;
 * after `cooldownMs` one call is let through as a probe, and its outcome closes or reopens it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private _state: CircuitState = 'closed';

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly now: () => number = Date.now,
  ) {
    check('failureThreshold', options.failureThreshold, positiveInt);
    check('cooldownMs', options.cooldownMs, nonNegativeNumber);
  }

  get state(): CircuitState {
    return this._state;
  }

  /** Milliseconds until an open circuit lets a probe through. */
  get retryInMs(): number {
    return this._state === 'open' ? Math.max(0, this.openedAt + this.options.cooldownMs - this.now()) : 0;
  }

  /** Whether a call may go now. In half-open state only one (the probe) may. */
  tryAcquire(): boolean {
    if (this._state === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) {
      this._state = 'half-open';
      this.probing = false;
    }
    if (this._state === 'closed') return true;
    if (this._state === 'half-open' && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this._state = 'closed';
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this._state === 'half-open' || this.failures >= this.options.failureThreshold) {
      this._state = 'open';
      this.openedAt = this.now();
    }
  }

  /** A call that ended without saying anything about the function's health (throttled, refused input). */
  neutral(): void {
    this.probing = false;
  }
}

/** A bulkhead: at most `limit` calls in flight; the rest wait their turn, first come first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    check('maxInFlight', limit, positiveInt);
  }

  get inFlight(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** "Full jitter" exponential backoff: a uniform wait in [0, min(max, base × 2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return random() * Math.min(maxMs, baseMs * 2 ** attempt);
}
