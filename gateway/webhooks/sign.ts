import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of webhook deliveries, made as Shopify makes its own (X-Shopify-Hmac-Sha256): the
 * base64 of the HMAC-SHA256 of the exact bytes of the body, keyed with the endpoint's secret as
 * its UTF-8 text. A receiver computes the same over the raw body it read, before parsing it, and
 * compares in constant time; code written to verify Shopify's webhooks verifies these.
 */

/** The header carrying the signature. */
export const SIGNATURE_HEADER = 'X-Clip-Gateway-Hmac-Sha256';

/** The signature of `body` (the bytes sent, or their UTF-8 text) with `secret`. */
export function signWebhookBody(body: string | Uint8Array, secret: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('base64');
}

/** Whether `signature` (a header's value) is that of `body` with `secret`, compared in constant time. */
export function verifyWebhookSignature(body: string | Uint8Array, secret: string, signature: string | undefined): boolean {
  if (typeof signature !== 'string') return false;
  const expected = Buffer.from(signWebhookBody(body, secret), 'base64');
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A new endpoint secret: 32 random bytes in base64url (43 characters). */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}
