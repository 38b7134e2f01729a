import { check, integer, nonNegativeInt, nonNegativeNumber, positiveInt, timeoutMs } from '../../functions/options';
import { LAMBDA_PAYLOAD_LIMIT_BYTES, WIRE_REQUEST_OVERHEAD_BYTES } from '../../functions/protocol';
import type { Clock } from '../common/clock';
import type { Logger } from '../common/log';
import type { CircuitBreakerOptions } from './resilience';

export interface RemoteBackendOptions {
  /** Deadline of one call, in ms; a call past it is abandoned and not retried. Default 30000. */
  timeoutMs: number;
  /** Attempts per call for retryable failures (throttling, 5xx, connection errors). Default 3. */
  maxAttempts: number;
  /** Base of the jittered exponential backoff between attempts, in ms. Default 100. */
  retryBaseMs: number;
  /** Longest wait between attempts, in ms. Default 2000. */
  retryMaxMs: number;
  /** Calls in flight at once (the bulkhead); also how many batches the gateway sends at once. Default 8. */
  maxInFlight: number;
  /** Largest request payload, in bytes; batches are split to fit. Default 6,000,000 (Lambda's limit is 6 MiB). */
  maxRequestBytes: number;
  /** Most inputs per call, which also bounds the response size. Default 256. */
  maxItemsPerCall: number;
  circuit: CircuitBreakerOptions;
  /**
   * How long a readiness answer is reused, in ms: ready() sends the function a `describe` (the
   * protocol's smallest request) at most once per period, however often it is asked. Default 5000.
   */
  readyCacheMs: number;
  /** Deadline of one readiness probe, in ms; a probe past it answers not ready. Default 2000. */
  readyTimeoutMs: number;
  log: Logger;
  /** Deadlines, backoff waits and the circuit's cooldown run on this clock. Default: the system's. */
  clock: Clock;
  /** Told how each call ended (its last attempt): what a tiered backend reads the function's state from. Default: nobody. */
  observe?: (outcome: CallOutcome) => void;
}

/**
 * How a call ended: `ok` answered; `cold` found no capacity (see CallFailure.cold); `unhealthy`
 * failed in a way that counts against the function; `neutral` ended saying nothing of it (the
 * requests' deadline passed, the caller withdrew it, the input was refused).
 */
export type CallOutcome = 'ok' | 'cold' | 'unhealthy' | 'neutral';

/** What configuration sets; the rest (log, clock) is the host's. */
export type RemoteCallOptions = Omit<RemoteBackendOptions, 'log' | 'clock' | 'observe'>;

export const DEFAULT_REMOTE_CALL_OPTIONS: RemoteCallOptions = {
  timeoutMs: 30_000,
  maxAttempts: 3,
  retryBaseMs: 100,
  retryMaxMs: 2_000,
  maxInFlight: 8,
  maxRequestBytes: 6_000_000,
  maxItemsPerCall: 256,
  circuit: { failureThreshold: 5, cooldownMs: 10_000 },
  readyCacheMs: 5_000,
  readyTimeoutMs: 2_000,
};

export function checkOptions(o: RemoteBackendOptions): void {
  check('timeoutMs', o.timeoutMs, timeoutMs);
  check('maxAttempts', o.maxAttempts, positiveInt);
  check('maxInFlight', o.maxInFlight, positiveInt);
  check('maxItemsPerCall', o.maxItemsPerCall, positiveInt);
  check('maxRequestBytes', o.maxRequestBytes, integer(WIRE_REQUEST_OVERHEAD_BYTES + 1, LAMBDA_PAYLOAD_LIMIT_BYTES));
  check('retryBaseMs', o.retryBaseMs, nonNegativeNumber);
  check('retryMaxMs', o.retryMaxMs, nonNegativeNumber);
  check('readyCacheMs', o.readyCacheMs, nonNegativeInt);
  check('readyTimeoutMs', o.readyTimeoutMs, timeoutMs);
}
