/** The webhooks' pure parts: the signature check, the payload's mapping to the catalogue's product, the options. */
import { createHmac } from 'node:crypto';

import { EnvReader } from '../../../functions/options';
import {
  checkShopifyOptions,
  productFromPayload,
  retryDelayMs,
  shopifyFromEnv,
  signShopifyBody,
  verifyShopifyHmac,
} from '../../../gateway/shopify';
import { productPayload } from './helpers';

describe('verifyShopifyHmac', () => {
  const body = Buffer.from('{"id":1,"title":"Caf\u00e9 \u2014 \u201cnoir\u201d"}', 'utf8');
  const secret = 'hush';
  // Shopify's own recipe, spelled out: base64 of HMAC-SHA256 over the raw bytes, keyed with the secret.
  const shopify = createHmac('sha256', secret).update(body).digest('base64');

  it("takes Shopify's signature of the exact bytes, and nothing else", () => {
    expect(signShopifyBody(body, secret)).toBe(shopify);
    expect(verifyShopifyHmac(body, shopify, secret)).toBe(true);
    expect(verifyShopifyHmac(body, ` ${shopify} `, secret)).toBe(true);
    // The same JSON serialised again (\u escapes instead of UTF-8) is other bytes: refused.
    expect(
      verifyShopifyHmac(Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 0).replace('é', '\\u00e9')), shopify, secret),
    ).toBe(false);
    const flipped = Buffer.from(body);
    flipped[5] ^= 1;
    expect(verifyShopifyHmac(flipped, shopify, secret)).toBe(false);
    expect(verifyShopifyHmac(body, shopify, 'other')).toBe(false);
  });

  it('refuses headers that are not one base64 SHA-256 digest before comparing (timingSafeEqual needs equal lengths)', () => {
    expect(verifyShopifyHmac(body, undefined, secret)).toBe(false);
    expect(verifyShopifyHmac(body, [shopify, shopify], secret)).toBe(false);
    expect(verifyShopifyHmac(body, '', secret)).toBe(false);
    expect(verifyShopifyHmac(body, shopify.slice(0, -2), secret)).toBe(false);
    expect(verifyShopifyHmac(body, `${shopify}AAAA`, secret)).toBe(false);
    expect(verifyShopifyHmac(body, createHmac('sha256', secret).update(body).digest('hex'), secret)).toBe(false);
  });
});

describe('productFromPayload', () => {
  const urls = Array.from({ length: 12 }, (_, i) => `https://cdn.shopify.com/s/files/1/${i + 1}.jpg?v=1`);

  it('takes images by position, each once, up to the limit, and counts those left out', () => {
    const payload = productPayload(1, 'vase', [...urls, urls[0]]);
    const { product, imagesLeftOut } = productFromPayload(payload, 10);
    expect(product.images).toEqual(urls.slice(0, 10).map((url) => ({ url })));
    expect(imagesLeftOut).toBe(2);
  });

  it('reads images from media (API 2024-07 and later) only when the payload has no images', () => {
    const payload = productPayload(1, 'vase', [], {
      media: [
        { media_content_type: 'VIDEO', position: 1, preview_image: { src: urls[5] } },
        { media_content_type: 'IMAGE', position: 3, preview_image: { src: urls[1] } },
        { media_content_type: 'IMAGE', position: 2, preview_image: { src: urls[0] } },
      ],
    });
    expect(productFromPayload(payload, 10).product.images).toEqual([{ url: urls[0] }, { url: urls[1] }]);
  });

  it('gives the attributes of the CSV import, leaving out what Shopify writes for a product without options', () => {
    const payload = productPayload(42, 'mug', urls.slice(0, 1), {
      tags: ' ceramics,home, ceramics ,',
      options: [{ name: 'Title', values: ['Default Title'] }],
      category: null,
      status: 'draft',
      updated_at: null,
      body_html: null,
    });
    const mapped = productFromPayload(payload, 10);
    expect(mapped.product).toEqual({
      id: 'mug',
      title: 'Linen Shirt',
      images: [{ url: urls[0] }],
      attributes: {
        tags: ['ceramics', 'home'],
        type: 'Shirts',
        vendor: 'Fieldhouse',
        status: 'draft',
        shopifyProductId: 'gid://shopify/Product/42',
      },
    });
    expect(mapped.updatedAt).toBeNull();
  });

  it('names what is missing from a payload it cannot read', () => {
    expect(() => productFromPayload([], 10)).toThrow('the body is not a JSON object: it is an array');
    expect(() => productFromPayload({ id: '7' }, 10)).toThrow(`the product's id must be a positive whole number: "7"`);
    expect(() => productFromPayload({ handle: 'x' }, 10)).toThrow(`the product's id must be a positive whole number: it is missing`);
    expect(() => productFromPayload({ id: 7, handle: ' ' }, 10)).toThrow('product 7 has no handle, which the catalogue keeps it by: " "');
    expect(() => productFromPayload({ id: 7, handle: 'x', images: [{ src: '' }] }, 10)).toThrow(
      'product 7 (x) has no image: the catalogue keeps products with at least one',
    );
  });
});

describe('options', () => {
  it('reads the variables, naming the one that is wrong with its value', () => {
    expect(shopifyFromEnv(new EnvReader({}))).toEqual({ maxBodyBytes: 1048576, leaseMs: 120000, maxAttempts: 8, pollMs: 1000 });
    expect(
      shopifyFromEnv(
        new EnvReader({ SHOPIFY_WEBHOOK_SECRET: ' s3cret ', SHOPIFY_WEBHOOK_MAX_BYTES: '2048', SHOPIFY_WEBHOOK_MAX_ATTEMPTS: '3' }),
      ),
    ).toMatchObject({ webhookSecret: ' s3cret ', maxBodyBytes: 2048, maxAttempts: 3 });
    expect(() => shopifyFromEnv(new EnvReader({ SHOPIFY_WEBHOOK_MAX_BYTES: '1MB' }))).toThrow(/SHOPIFY_WEBHOOK_MAX_BYTES .*"1MB"/);
    expect(() => checkShopifyOptions({ leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => checkShopifyOptions({ webhookSecret: '' })).toThrow(/webhookSecret/);
  });

  it('waits longer after each failed attempt, at most 10 minutes', () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(30)).toBe(600_000);
  });
});
