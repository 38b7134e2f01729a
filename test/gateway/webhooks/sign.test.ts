import { createHmac, timingSafeEqual } from 'node:crypto';

import { webhookEventId } from '../../../gateway/store';
import { retryDelayMs } from '../../../gateway/webhooks/backoff';
import {
  checkWebhookOptions,
  DEFAULT_WEBHOOK_OPTIONS,
  newWebhookSecret,
  signWebhookBody,
  verifyWebhookSignature,
  webhooksFromEnv,
} from '../../../gateway/webhooks';
import { EnvReader } from '../../../functions/options';

const BODY = '{"id":"e1","topic":"product_tags/changed","labels":["red"]}';

describe('webhook signatures', () => {
  it('are the base64 HMAC-SHA256 of the raw body with the secret, as openssl computes it', () => {
    // printf '%s' "$BODY" | openssl dgst -sha256 -hmac 'hush-0123456789abcdef' -binary | base64
    expect(signWebhookBody(BODY, 'hush-0123456789abcdef')).toBe('s+wK1ijbqlNVJrPK65EpEDAhn999U3hYBN+p4IVJgDk=');
    // Body and secret as UTF-8 bytes: printf '%s' 'héllo' | openssl dgst -sha256 -hmac 'clé-secrète-0123' -binary | base64
    expect(signWebhookBody('héllo', 'clé-secrète-0123')).toBe('vleZCIfNJ/4vqOStxx6pXiNyBDeEI8G1aWOrPoj6skg=');
    expect(signWebhookBody(Buffer.from('héllo', 'utf8'), 'clé-secrète-0123')).toBe('vleZCIfNJ/4vqOStxx6pXiNyBDeEI8G1aWOrPoj6skg=');
  });

  it('verify as a receiver of Shopify webhooks does, and fail for any other body, secret or header', () => {
    const signature = signWebhookBody(BODY, 'hush-0123456789abcdef');
    // The receiver's own check, written as Shopify's documentation writes it.
    const digest = createHmac('sha256', 'hush-0123456789abcdef').update(Buffer.from(BODY)).digest();
    expect(timingSafeEqual(digest, Buffer.from(signature, 'base64'))).toBe(true);
    expect(verifyWebhookSignature(BODY, 'hush-0123456789abcdef', signature)).toBe(true);
    expect(verifyWebhookSignature(`${BODY} `, 'hush-0123456789abcdef', signature)).toBe(false);
    expect(verifyWebhookSignature(BODY, 'hush-0123456789abcdeF', signature)).toBe(false);
    expect(verifyWebhookSignature(BODY, 'hush-0123456789abcdef', signature.slice(0, -4))).toBe(false);
    expect(verifyWebhookSignature(BODY, 'hush-0123456789abcdef', undefined)).toBe(false);
  });

  it('use secrets of 32 random bytes, base64url', () => {
    const secrets = new Set(Array.from({ length: 20 }, newWebhookSecret));
    expect(secrets.size).toBe(20);
    for (const secret of secrets) expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
  });
});

describe('webhook event ids', () => {
  it('are version 5 UUIDs of the endpoint and the seq: the same at every attempt, another for another change or endpoint', () => {
    const id = webhookEventId('0d6c3c1e-5d8e-4b53-9d4c-7d0b8a7c2f11', 42);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(webhookEventId('0d6c3c1e-5d8e-4b53-9d4c-7d0b8a7c2f11', 42)).toBe(id);
    expect(webhookEventId('0d6c3c1e-5d8e-4b53-9d4c-7d0b8a7c2f11', 43)).not.toBe(id);
    expect(webhookEventId('0d6c3c1e-5d8e-4b53-9d4c-7d0b8a7c2f12', 42)).not.toBe(id);
  });
});

describe('webhook retry waits', () => {
  const options = { retryBaseMs: 1000, retryFactor: 3, retryMaxMs: 60_000 };

  it('grow by the factor up to the cap, half of each fixed and half jitter', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, options, () => 0))).toEqual([500, 1500, 4500, 13_500, 30_000]);
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, options, () => 0.999999))).toEqual([1000, 3000, 9000, 27_000, 60_000]);
    expect(retryDelayMs(40, options, () => 0.5)).toBe(45_000);
  });
});

describe('webhook options', () => {
  it('default to 8 attempts over about an hour and a half', () => {
    const waits = Array.from({ length: DEFAULT_WEBHOOK_OPTIONS.maxAttempts - 1 }, (_, i) =>
      retryDelayMs(i + 1, DEFAULT_WEBHOOK_OPTIONS, () => 0),
    );
    // The shortest each wait can be (its fixed half): 5 s, 15 s, 45 s, 2¼ min, 6¾ min, 20¼ min and an hour at most.
    expect(waits).toEqual([2500, 7500, 22_500, 67_500, 202_500, 607_500, 1_800_000]);
  });

  it('are read from WEBHOOK_* with errors naming the variable, and checked together', () => {
    expect(webhooksFromEnv(new EnvReader({}))).toEqual(DEFAULT_WEBHOOK_OPTIONS);
    expect(webhooksFromEnv(new EnvReader({ WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_TIMEOUT_MS: '500' }))).toMatchObject({
      maxAttempts: 3,
      timeoutMs: 500,
    });
    expect(() => webhooksFromEnv(new EnvReader({ WEBHOOK_MAX_ATTEMPTS: '0' }))).toThrow(
      /^WEBHOOK_MAX_ATTEMPTS must be an integer from 1 to 1000, got "0"/,
    );
    expect(() => webhooksFromEnv(new EnvReader({ WEBHOOK_TIMEOUT_MS: '90000' }))).toThrow(
      'leaseMs (60000) must be longer than timeoutMs (90000): a claim must outlast the POST it covers',
    );
    expect(() => checkWebhookOptions({ retryFactor: 0.5 })).toThrow('retryFactor must be at least 1, got 0.5');
    expect(() => checkWebhookOptions({ retryBaseMs: 10_000, retryMaxMs: 1000 })).toThrow(
      'retryMaxMs (1000) must be at least retryBaseMs (10000)',
    );
  });
});
