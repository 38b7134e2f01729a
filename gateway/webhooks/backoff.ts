import type { WebhookOptions } from './options';

/**
 * The wait before the attempt after `attempt` failed: exponential (retryBaseMs × retryFactor^(attempt − 1),
 * at most retryMaxMs) with "equal jitter", half of it fixed and half random, so that the endpoints a
 * receiver's outage failed together do not all come back at the same moment, yet none comes back
 * sooner than half its wait. `random` is in [0, 1).
 */
export function retryDelayMs(
  attempt: number,
  options: Pick<WebhookOptions, 'retryBaseMs' | 'retryFactor' | 'retryMaxMs'>,
  random: () => number = Math.random,
): number {
  const exponential = options.retryBaseMs * options.retryFactor ** Math.max(0, attempt - 1);
  const wait = Math.min(options.retryMaxMs, exponential);
  return Math.round(wait / 2 + (wait / 2) * random());
}
