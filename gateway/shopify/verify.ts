import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header Shopify signs each HTTPS delivery in: the base64 HMAC-SHA256 of the raw body. */
export const HMAC_HEADER = 'x-shopify-hmac-sha256';

/** A base64 SHA-256 digest: 32 bytes, 44 characters with its one padding character. */
const BASE64_DIGEST = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Whether `header` is the base64 HMAC-SHA256 of exactly these bytes under `secret`, as Shopify
 * signs its webhooks. The bytes must be the body as received: parsed and serialised again, JSON
 * can differ by a space or an escape and no longer match. Digests are compared in constant time
 * (timingSafeEqual, on two 32-byte buffers), so the time taken says nothing of how much of a
 * forged signature was right; a header that is not a base64 digest at all is refused first.
 */
export function verifyShopifyHmac(body: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const given = header.trim();
  if (!BASE64_DIGEST.test(given)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(Buffer.from(given, 'base64'), expected);
}

/** The header Shopify would send for `body` under `secret`: for tests and for stand-ins of Shopify. */
export function signShopifyBody(body: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}
