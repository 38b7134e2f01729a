// The shop's webhooks' settings, read beside the options they make, as the store's and the job
// runner's are.
import { check, nonEmpty, positiveInt, timeoutMs, type EnvReader, type VariableMeanings } from '../../functions/options';

export interface ShopifyOptions {
  /**
   * The secret Shopify signs its webhooks with (env SHOPIFY_WEBHOOK_SECRET): the app's client
   * secret, or the key the shop's admin shows under Settings > Notifications > Webhooks. Default
   * unset: POST /webhooks/shopify answers 404, saying the route is off.
   */
  webhookSecret?: string;
  /** Largest body taken, in bytes (env SHOPIFY_WEBHOOK_MAX_BYTES); a larger one is answered 413. Default 1048576 (1 MiB). */
  maxBodyBytes: number;
  /** How long a gateway's claim on a delivery holds before another may take it over, in ms (env SHOPIFY_WEBHOOK_LEASE_MS). Default 120000. */
  leaseMs: number;
  /** Attempts at a delivery before it is given up as failed (env SHOPIFY_WEBHOOK_MAX_ATTEMPTS). Default 8. */
  maxAttempts: number;
  /** How often an idle gateway looks for deliveries left by another (or by itself before a restart), in ms (env SHOPIFY_WEBHOOK_POLL_MS). Default 1000. */
  pollMs: number;
}

export const DEFAULT_SHOPIFY_OPTIONS: ShopifyOptions = { maxBodyBytes: 1024 * 1024, leaseMs: 120_000, maxAttempts: 8, pollMs: 1_000 };

/** Checks options given in code, naming the one that is wrong; returns them with the defaults filled in. */
export function checkShopifyOptions(options: Partial<ShopifyOptions> = {}): ShopifyOptions {
  const o = { ...DEFAULT_SHOPIFY_OPTIONS, ...options };
  if (o.webhookSecret !== undefined) check('webhookSecret', o.webhookSecret, nonEmpty);
  check('maxBodyBytes', o.maxBodyBytes, positiveInt);
  check('leaseMs', o.leaseMs, timeoutMs);
  check('maxAttempts', o.maxAttempts, positiveInt);
  check('pollMs', o.pollMs, timeoutMs);
  return o;
}

export const SHOPIFY_VARIABLES: VariableMeanings = {
  "The shop's webhooks": {
    SHOPIFY_WEBHOOK_SECRET: {
      meaning: "the secret Shopify signs `POST /webhooks/shopify`'s deliveries with (X-Shopify-Hmac-Sha256)",
      unset: 'the route is off (404)',
    },
    SHOPIFY_WEBHOOK_MAX_BYTES: 'largest delivery body taken (413 above it)',
    SHOPIFY_WEBHOOK_LEASE_MS: "how long a gateway's claim on a delivery holds before another gateway may take it over",
    SHOPIFY_WEBHOOK_MAX_ATTEMPTS: 'attempts at a delivery before it is recorded as failed',
    SHOPIFY_WEBHOOK_POLL_MS: 'how often an idle gateway looks for deliveries waiting',
  },
};

/** The options from SHOPIFY_WEBHOOK_SECRET, SHOPIFY_WEBHOOK_MAX_BYTES, _LEASE_MS, _MAX_ATTEMPTS and _POLL_MS. */
export function shopifyFromEnv(read: EnvReader): ShopifyOptions {
  const base = DEFAULT_SHOPIFY_OPTIONS;
  // Taken as it is: a secret may hold any character, and is never quoted in an error.
  const webhookSecret = read.optional<string>('SHOPIFY_WEBHOOK_SECRET', {
    expected: 'a secret',
    accepts: (value): value is string => typeof value === 'string',
    parse: (raw) => raw,
    problem: () => 'is not a usable secret',
  });
  return {
    ...(webhookSecret !== undefined ? { webhookSecret } : {}),
    maxBodyBytes: read.get('SHOPIFY_WEBHOOK_MAX_BYTES', positiveInt, base.maxBodyBytes),
    leaseMs: read.get('SHOPIFY_WEBHOOK_LEASE_MS', timeoutMs, base.leaseMs),
    maxAttempts: read.get('SHOPIFY_WEBHOOK_MAX_ATTEMPTS', positiveInt, base.maxAttempts),
    pollMs: read.get('SHOPIFY_WEBHOOK_POLL_MS', timeoutMs, base.pollMs),
  };
}
