import { check, integer, positiveNumber, timeoutMs, type EnvReader, type VariableMeanings } from '../../functions/options';

/** How the gateway delivers the outbox's tag changes to registered webhook endpoints. */
export interface WebhookOptions {
  /** Deadline of one POST, from connecting to the receiver's status line, in ms (env WEBHOOK_TIMEOUT_MS). Default 10000. */
  timeoutMs: number;
  /** Attempts at one change before it becomes a dead letter and the endpoint goes on with the next (env WEBHOOK_MAX_ATTEMPTS). Default 8. */
  maxAttempts: number;
  /** The wait after the first failure, in ms; each later one is `retryFactor` times longer (env WEBHOOK_RETRY_BASE_MS). Default 5000. */
  retryBaseMs: number;
  /** How much longer each wait is than the one before (env WEBHOOK_RETRY_FACTOR). Default 3. */
  retryFactor: number;
  /** The longest wait between two attempts, in ms (env WEBHOOK_RETRY_MAX_MS). Default 3600000 (an hour). */
  retryMaxMs: number;
  /** How often an idle gateway looks for changes to deliver, in ms (env WEBHOOK_POLL_MS). Default 1000. */
  pollMs: number;
  /**
   * How long a gateway's claim on an endpoint's next delivery holds before another gateway may take
   * it over, in ms (env WEBHOOK_LEASE_MS): longer than timeoutMs, so that a live claim is never
   * taken over mid-POST. Default 60000.
   */
  leaseMs: number;
  /** Deliveries this gateway makes at once, each to another endpoint (env WEBHOOK_CONCURRENCY). Default 4. */
  concurrency: number;
}

/**
 * With the defaults, the waits are 5 s, 15 s, 45 s, 2¼ min, 6¾ min, 20 min and an hour (each with
 * jitter): a change is given up on about an hour and a half after its first attempt, a receiver
 * down for less than that misses nothing.
 */
export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = Object.freeze({
  timeoutMs: 10_000,
  maxAttempts: 8,
  retryBaseMs: 5_000,
  retryFactor: 3,
  retryMaxMs: 3_600_000,
  pollMs: 1_000,
  leaseMs: 60_000,
  concurrency: 4,
});

/** The options merged over the defaults and checked once, where they enter; errors name the option and quote the value. */
export function checkWebhookOptions(options: Partial<WebhookOptions> = {}): WebhookOptions {
  const o = { ...DEFAULT_WEBHOOK_OPTIONS, ...options };
  check('timeoutMs', o.timeoutMs, timeoutMs);
  check('maxAttempts', o.maxAttempts, integer(1, 1000));
  check('retryBaseMs', o.retryBaseMs, timeoutMs);
  check('retryFactor', o.retryFactor, positiveNumber);
  check('retryMaxMs', o.retryMaxMs, timeoutMs);
  check('pollMs', o.pollMs, timeoutMs);
  check('leaseMs', o.leaseMs, timeoutMs);
  check('concurrency', o.concurrency, integer(1, 64));
  if (o.retryFactor < 1) throw new TypeError(`retryFactor must be at least 1, got ${o.retryFactor}`);
  if (o.retryMaxMs < o.retryBaseMs) throw new TypeError(`retryMaxMs (${o.retryMaxMs}) must be at least retryBaseMs (${o.retryBaseMs})`);
  if (o.leaseMs <= o.timeoutMs) {
    throw new TypeError(`leaseMs (${o.leaseMs}) must be longer than timeoutMs (${o.timeoutMs}): a claim must outlast the POST it covers`);
  }
  return o;
}

/** The variables webhooksFromEnv reads, for the configuration reference. */
export const WEBHOOK_VARIABLES: VariableMeanings = {
  'Outbound webhooks': {
    WEBHOOK_TIMEOUT_MS: "deadline of one POST to a webhook endpoint, until the receiver's status line",
    WEBHOOK_MAX_ATTEMPTS: 'attempts at one tag change before it becomes a dead letter and the endpoint goes on with the next',
    WEBHOOK_RETRY_BASE_MS: 'wait after the first failed attempt; each later wait is `WEBHOOK_RETRY_FACTOR` times longer, with jitter',
    WEBHOOK_RETRY_FACTOR: 'how much longer each wait is than the one before',
    WEBHOOK_RETRY_MAX_MS: 'longest wait between two attempts',
    WEBHOOK_POLL_MS: 'how often an idle gateway looks for tag changes to deliver',
    WEBHOOK_LEASE_MS:
      "how long a gateway's claim on an endpoint's next delivery holds before another gateway may take it over (longer than `WEBHOOK_TIMEOUT_MS`)",
    WEBHOOK_CONCURRENCY: 'deliveries one gateway makes at once, each to another endpoint',
  },
};

/** The options from WEBHOOK_* (see WEBHOOK_VARIABLES); each error names its variable, and the pairs are checked together after. */
export function webhooksFromEnv(read: EnvReader): WebhookOptions {
  const base = DEFAULT_WEBHOOK_OPTIONS;
  return checkWebhookOptions({
    timeoutMs: read.get('WEBHOOK_TIMEOUT_MS', timeoutMs, base.timeoutMs),
    maxAttempts: read.get('WEBHOOK_MAX_ATTEMPTS', integer(1, 1000), base.maxAttempts),
    retryBaseMs: read.get('WEBHOOK_RETRY_BASE_MS', timeoutMs, base.retryBaseMs),
    retryFactor: read.get('WEBHOOK_RETRY_FACTOR', positiveNumber, base.retryFactor),
    retryMaxMs: read.get('WEBHOOK_RETRY_MAX_MS', timeoutMs, base.retryMaxMs),
    pollMs: read.get('WEBHOOK_POLL_MS', timeoutMs, base.pollMs),
    leaseMs: read.get('WEBHOOK_LEASE_MS', timeoutMs, base.leaseMs),
    concurrency: read.get('WEBHOOK_CONCURRENCY', integer(1, 64), base.concurrency),
  });
}
