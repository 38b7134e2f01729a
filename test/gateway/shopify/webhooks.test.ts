/**
 * POST /webhooks/shopify end to end: a real gateway on loopback (the tiny CLIP in-process), its
 * images on a loopback host standing in for Shopify's CDN, deliveries signed as Shopify signs
 * them; on SQLite, and the core of it again on PostgreSQL (PGlite with pgvector over TCP).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SHOPIFY_WEBHOOKS_OFF, signShopifyBody } from '../../../gateway/shopify';
import { openPostgresStore } from '../../../gateway/store';
import { startGateway } from '../../helpers/gateway';
import { startPostgres, type PostgresServer } from '../../helpers/postgres';
import { GIF_1X1 } from '../../helpers/shop-export';
import { drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';
import {
  deliver,
  processed,
  productPayload,
  SECRET,
  startImageHost,
  startWebhookGateway,
  type ImageHost,
  type WebhookGateway,
} from './helpers';

const reference = loadReference();

/** Six different shapes, as PNGs the tiny CLIP tells apart. */
async function putImages(images: ImageHost): Promise<string[]> {
  const random = seededRandom(5);
  const paths = ['front', 'back', 'detail', 'navy', 'flat', 'folded'].map((name) => `/s/files/1/0612/files/${name}.png`);
  for (const [i, path] of paths.entries())
    images.put(path, await drawShape(reference, reference.classes[(i * 5) % reference.classes.length], random));
  return paths.map((path) => `${images.origin}${path}?v=1745350000`);
}

const send = (shop: WebhookGateway, topic: string, payload: unknown, webhookId?: string) =>
  deliver(shop.origin, { topic, body: JSON.stringify(payload), webhookId });

async function tagChangeCount(shop: WebhookGateway): Promise<number> {
  return (await shop.gateway.catalogue.tagChanges(500)).edges.length;
}

describe('POST /webhooks/shopify on SQLite', () => {
  let images: ImageHost;
  let shop: WebhookGateway;
  let urls: string[];

  beforeAll(async () => {
    images = await startImageHost();
    urls = await putImages(images);
    shop = await startWebhookGateway();
    await shop.gateway.catalogue.setTaxonomy([{ name: 'shape', labels: reference.classes }]);
  }, 120_000);

  afterAll(async () => {
    await shop?.stop();
    await images?.close();
  });

  it('stores a signed products/create as an import of the export would: the handle its id, images in position order, the same attributes', async () => {
    const { status, body, webhookId } = await send(shop, 'products/create', productPayload(7001, 'linen-shirt', urls.slice(0, 3)));
    expect(status).toBe(200);
    expect(body).toEqual({ webhookId, status: 'recorded' });
    expect(await processed(shop.gateway, webhookId)).toMatchObject({
      outcome: 'stored',
      message: null,
      attempts: 1,
      topic: 'products/create',
    });
    const [shirt] = await shop.gateway.catalogue.getProducts(['linen-shirt']);
    expect(shirt.imageUrls).toEqual(urls.slice(0, 3));
    expect(shirt.title).toBe('Linen Shirt');
    expect(shirt.description).toBe('Breathable linen, cut loose & easy.');
    expect(shirt.attributes).toEqual({
      tags: ['linen', 'summer', 'shirts'],
      productCategory: 'Apparel & Accessories > Clothing > Clothing Tops > Shirts',
      type: 'Shirts',
      vendor: 'Fieldhouse',
      status: 'active',
      options: { Color: ['Sand', 'Navy'], Size: ['S', 'M'] },
      shopifyProductId: 'gid://shopify/Product/7001',
      shopifyCategoryId: 'gid://shopify/TaxonomyCategory/aa-1-13-8',
      shopifyUpdatedAt: '2025-04-22T14:30:00-05:00',
    });
    expect([...images.served].sort()).toEqual(
      urls
        .slice(0, 3)
        .map((url) => new URL(url).pathname)
        .sort(),
    );
    expect((await shop.gateway.catalogue.getTags(['linen-shirt'])).get('linen-shirt')).toHaveLength(1);
  });

  it('answers the same X-Shopify-Webhook-Id again 200 and processes it once', async () => {
    const payload = productPayload(7002, 'canvas-tote', urls.slice(3, 4));
    const first = await send(shop, 'products/create', payload);
    const row = await processed(shop.gateway, first.webhookId);
    const served = images.served.length;
    const again = await send(shop, 'products/create', payload, first.webhookId);
    expect(again).toMatchObject({ status: 200, body: { webhookId: first.webhookId, status: 'repeated', outcome: 'stored' } });
    // Nothing claimed it again: one attempt, the first's record, not one image asked for.
    expect(await shop.gateway.store.getInboundWebhook(first.webhookId)).toEqual(row);
    expect(images.served.length).toBe(served);
  });

  it('takes the echo of its own write-back (tags and category changed, the same images) without fetching an image whole or changing a tag', async () => {
    const changes = await tagChangeCount(shop);
    const served = images.served.length;
    const revalidated = images.revalidated.length;
    const echo = productPayload(7001, 'linen-shirt', urls.slice(0, 3), {
      tags: 'linen, summer, shirts, shape:red circle',
      category: {
        admin_graphql_api_id: 'gid://shopify/TaxonomyCategory/aa-1-13',
        name: 'Clothing Tops',
        full_name: 'Apparel & Accessories > Clothing > Clothing Tops',
      },
      updated_at: '2025-04-22T14:31:00-05:00',
    });
    const { webhookId } = await send(shop, 'products/update', echo);
    expect(await processed(shop.gateway, webhookId)).toMatchObject({ outcome: 'stored' });
    expect(images.served.length).toBe(served);
    expect(images.revalidated.length - revalidated).toBe(3);
    expect(await tagChangeCount(shop)).toBe(changes);
    const [shirt] = await shop.gateway.catalogue.getProducts(['linen-shirt']);
    expect(shirt.attributes).toMatchObject({
      tags: ['linen', 'summer', 'shirts', 'shape:red circle'],
      shopifyCategoryId: 'gid://shopify/TaxonomyCategory/aa-1-13',
    });
    // The same state delivered again under another id (a second subscription): not even revalidated.
    const twice = await send(shop, 'products/update', echo);
    expect(await processed(shop.gateway, twice.webhookId)).toMatchObject({ outcome: 'unchanged' });
    expect(images.revalidated.length - revalidated).toBe(3);
    expect(await tagChangeCount(shop)).toBe(changes);
  });

  it('embeds a new image of products/update, fetching only that one', async () => {
    const served = images.served.length;
    const [before] = await shop.gateway.catalogue.getProducts(['linen-shirt']);
    const update = productPayload(7001, 'linen-shirt', [urls[4], urls[1], urls[2]], { updated_at: '2025-04-22T15:00:00-05:00' });
    const { webhookId } = await send(shop, 'products/update', update);
    expect(await processed(shop.gateway, webhookId)).toMatchObject({ outcome: 'stored' });
    expect(images.served.slice(served)).toEqual([new URL(urls[4]).pathname]);
    const [after] = await shop.gateway.catalogue.getProducts(['linen-shirt']);
    expect(after.imageUrls).toEqual([urls[4], urls[1], urls[2]]);
    expect(after.imageHashes[0]).not.toBe(before.imageHashes[0]);
    expect(after.imageHashes.slice(1)).toEqual(before.imageHashes.slice(1));
  });

  it('does not apply an update older than the state it holds (Shopify does not promise order)', async () => {
    const stale = productPayload(7001, 'linen-shirt', urls.slice(0, 1), { title: 'Old', updated_at: '2025-04-22T14:45:00-05:00' });
    const { webhookId } = await send(shop, 'products/update', stale);
    const row = await processed(shop.gateway, webhookId);
    expect(row.outcome).toBe('ignored');
    expect(row.message).toContain('later state of linen-shirt');
    expect((await shop.gateway.catalogue.getProducts(['linen-shirt']))[0].title).toBe('Linen Shirt');
  });

  it('keeps a product whose handle was renamed under its new handle only', async () => {
    const renamed = productPayload(7002, 'canvas-tote-bag', urls.slice(3, 4), { updated_at: '2025-04-23T10:00:00-05:00' });
    const { webhookId } = await send(shop, 'products/update', renamed);
    expect(await processed(shop.gateway, webhookId)).toMatchObject({
      outcome: 'stored',
      message: 'its earlier handle "canvas-tote" deleted',
    });
    expect((await shop.gateway.catalogue.getProducts(['canvas-tote', 'canvas-tote-bag'])).map((p) => p.id)).toEqual(['canvas-tote-bag']);
  });

  it('deletes on products/delete, which carries only the numeric id, by the GID kept in the attributes', async () => {
    const { status, webhookId } = await send(shop, 'products/delete', { id: 7002 });
    expect(status).toBe(200);
    expect(await processed(shop.gateway, webhookId)).toMatchObject({
      outcome: 'deleted',
      message: 'deleted "canvas-tote-bag" (gid://shopify/Product/7002)',
    });
    expect(await shop.gateway.catalogue.getProducts(['canvas-tote-bag'])).toEqual([]);
    const again = await send(shop, 'products/delete', { id: 7002 });
    expect(await processed(shop.gateway, again.webhookId)).toMatchObject({
      outcome: 'ignored',
      message: 'no product of the catalogue has shopifyProductId gid://shopify/Product/7002',
    });
  });

  it('records a payload it cannot keep as failed, naming the field (a product without an image)', async () => {
    const { webhookId } = await send(shop, 'products/create', productPayload(7003, 'gift-card', [], { image: null }));
    expect(await processed(shop.gateway, webhookId)).toMatchObject({
      outcome: 'failed',
      message: 'product 7003 (gift-card) has no image: the catalogue keeps products with at least one',
    });
  });

  it('stores a product without the images the gateway cannot decode, saying which; one of only such images fails', async () => {
    images.put('/s/files/1/0612/files/animated.gif', GIF_1X1);
    const gif = `${images.origin}/s/files/1/0612/files/animated.gif`;
    const { webhookId } = await send(shop, 'products/create', productPayload(7005, 'gif-shirt', [gif, urls[0]]));
    expect(await processed(shop.gateway, webhookId)).toMatchObject({
      outcome: 'stored',
      message: `left out ${gif}: The image is GIF; only JPEG, PNG and WebP are accepted.`,
    });
    expect((await shop.gateway.catalogue.getProducts(['gif-shirt']))[0]?.imageUrls).toEqual([urls[0]]);
    const only = await send(shop, 'products/create', productPayload(7006, 'gif-only', [gif]));
    expect(await processed(shop.gateway, only.webhookId)).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/GIF/) });
    expect(await shop.gateway.catalogue.getProducts(['gif-only'])).toEqual([]);
  });

  it('tries a delivery again later when its image cannot be fetched yet, and stores it once it can', async () => {
    const late = `${images.origin}/s/files/1/0612/files/late.png`;
    const { webhookId } = await send(shop, 'products/create', productPayload(7004, 'late-shirt', [late]));
    const bound = Date.now() + 60_000;
    let waiting = await shop.gateway.store.getInboundWebhook(webhookId);
    while (waiting?.status !== 'pending' || waiting.attempts === 0) {
      if (Date.now() > bound) throw new Error(`never put back to wait: ${JSON.stringify(waiting)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      waiting = await shop.gateway.store.getInboundWebhook(webhookId);
    }
    expect(waiting.message).toContain('404');
    expect(waiting.notBefore).not.toBeNull();
    images.put('/s/files/1/0612/files/late.png', await drawShape(reference, reference.classes[3], seededRandom(9)));
    expect(await processed(shop.gateway, webhookId)).toMatchObject({ outcome: 'stored', attempts: 2 });
  });

  describe('refusals', () => {
    const body = JSON.stringify(productPayload(7100, 'refused', ['https://cdn.shopify.com/a.png']));

    it('refuses a tampered body (one byte changed) with 401 and records nothing', async () => {
      const signed = signShopifyBody(body, SECRET);
      const tampered = body.replace('"refused"', '"refuses"');
      const { status, body: answer, webhookId } = await deliver(shop.origin, { topic: 'products/create', body: tampered, hmac: signed });
      expect(status).toBe(401);
      expect(answer.error).toBe("x-shopify-hmac-sha256 is not the signature of this body under this gateway's SHOPIFY_WEBHOOK_SECRET.");
      expect(await shop.gateway.store.getInboundWebhook(webhookId)).toBeUndefined();
    });

    it('refuses a delivery without X-Shopify-Hmac-Sha256, or signed with another secret, with 401', async () => {
      const missing = await deliver(shop.origin, { topic: 'products/create', body, hmac: null });
      expect(missing.status).toBe(401);
      expect(missing.body.error).toBe('x-shopify-hmac-sha256 is missing: Shopify signs every delivery in it.');
      const other = await deliver(shop.origin, { topic: 'products/create', body, hmac: signShopifyBody(body, 'another secret') });
      expect(other.status).toBe(401);
      const garbage = await deliver(shop.origin, { topic: 'products/create', body, hmac: 'not base64 at all' });
      expect(garbage.status).toBe(401);
      for (const { webhookId } of [missing, other, garbage]) expect(await shop.gateway.store.getInboundWebhook(webhookId)).toBeUndefined();
    });

    it('refuses malformed JSON under a valid signature with 400 naming the problem', async () => {
      const { status, body: answer, webhookId } = await deliver(shop.origin, { topic: 'products/update', body: '{"id": 7100, "title": ' });
      expect(status).toBe(400);
      expect(answer.error).toMatch(new RegExp(`^The body of products/update delivery ${webhookId} is not valid JSON: .+\\.$`));
      expect(await shop.gateway.store.getInboundWebhook(webhookId)).toBeUndefined();
    });

    it('refuses a delivery without X-Shopify-Webhook-Id with 400', async () => {
      const response = await fetch(`${shop.origin}/webhooks/shopify`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-shopify-topic': 'products/create',
          'x-shopify-hmac-sha256': signShopifyBody(body, SECRET),
        },
        body,
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: 'x-shopify-webhook-id is missing: deliveries are told apart by it.' });
    });

    it('answers 413 to a body over SHOPIFY_WEBHOOK_MAX_BYTES', async () => {
      const huge = JSON.stringify({ id: 7101, body_html: 'x'.repeat(1024 * 1024) });
      const { status, body: answer } = await deliver(shop.origin, { topic: 'products/update', body: huge });
      expect(status).toBe(413);
      expect(answer.error).toBe(
        `The body is ${Buffer.byteLength(huge)} bytes; this gateway takes at most 1048576 (SHOPIFY_WEBHOOK_MAX_BYTES).`,
      );
    });

    it('answers 200 to a topic it does not handle and records it as ignored', async () => {
      const { status, body: answer, webhookId } = await deliver(shop.origin, { topic: 'orders/create', body: '{"id": 1}' });
      expect(status).toBe(200);
      expect(answer).toEqual({ webhookId, status: 'recorded', outcome: 'ignored' });
      expect(await shop.gateway.store.getInboundWebhook(webhookId)).toMatchObject({ status: 'done', outcome: 'ignored', attempts: 0 });
    });
  });
});

describe('POST /webhooks/shopify without SHOPIFY_WEBHOOK_SECRET', () => {
  it('answers 404 saying the route is off', async () => {
    const plain = await startGateway();
    try {
      const body = '{"id": 1}';
      const { status, body: answer } = await deliver(plain.origin, { topic: 'products/create', body, hmac: signShopifyBody(body, SECRET) });
      expect(status).toBe(404);
      expect(answer).toEqual({ error: SHOPIFY_WEBHOOKS_OFF });
    } finally {
      await plain.stop();
    }
  });
});

describe('deliveries recorded but not processed when their gateway went away', () => {
  it('are processed by the next gateway on the same database: one never claimed, one whose claim died with its process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopify-inbox-'));
    const images = await startImageHost();
    try {
      const [jacket, coat] = await putImages(images);
      const store = { kind: 'sqlite' as const, path: join(dir, 'catalogue.sqlite') };
      const first = await startWebhookGateway({}, { store });
      // Its worker stopped: deliveries are recorded and answered, and nothing processes them here.
      await first.host.shopify.stop();
      const killedMid = await send(first, 'products/create', productPayload(7201, 'field-jacket', [jacket]));
      const neverClaimed = await send(first, 'products/create', productPayload(7202, 'rain-coat', [coat]));
      expect([killedMid.status, neverClaimed.status]).toEqual([200, 200]);
      // As a gateway killed while processing leaves it: claimed, never finished.
      const dead = await first.gateway.store.claimInboundWebhook('killed', new Date().toISOString(), 1_000);
      expect(dead?.webhookId).toBe(killedMid.webhookId);
      await first.stop();
      const second = await startWebhookGateway({ leaseMs: 1_000 }, { store });
      try {
        expect(await processed(second.gateway, neverClaimed.webhookId)).toMatchObject({ outcome: 'stored', attempts: 1 });
        // Claimed again once the dead claim's lease ran out: its second attempt.
        expect(await processed(second.gateway, killedMid.webhookId)).toMatchObject({ outcome: 'stored', attempts: 2 });
        expect((await second.gateway.catalogue.getProducts(['field-jacket', 'rain-coat'])).map((p) => p.imageUrls)).toEqual([
          [jacket],
          [coat],
        ]);
      } finally {
        await second.stop();
      }
    } finally {
      await images.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('POST /webhooks/shopify on PostgreSQL', () => {
  let server: PostgresServer;
  let images: ImageHost;
  let shop: WebhookGateway;

  beforeAll(async () => {
    server = await startPostgres();
    images = await startImageHost();
    shop = await startWebhookGateway({}, {}, { store: await openPostgresStore({ url: server.url, poolSize: 1 }) });
  }, 120_000);

  afterAll(async () => {
    await shop?.stop();
    await images?.close();
    await server?.stop();
  });

  it('stores a products/create once however often it is sent, and deletes it on products/delete', async () => {
    const urls = await putImages(images);
    const payload = productPayload(7301, 'linen-shirt', urls.slice(0, 2));
    const first = await send(shop, 'products/create', payload);
    expect(first.status).toBe(200);
    expect(await processed(shop.gateway, first.webhookId)).toMatchObject({ outcome: 'stored', attempts: 1 });
    const again = await send(shop, 'products/create', payload, first.webhookId);
    expect(again.body).toEqual({ webhookId: first.webhookId, status: 'repeated', outcome: 'stored' });
    expect(images.served).toHaveLength(2);
    const [shirt] = await shop.gateway.catalogue.getProducts(['linen-shirt']);
    expect(shirt.imageUrls).toEqual(urls.slice(0, 2));
    const tampered = await deliver(shop.origin, {
      topic: 'products/delete',
      body: '{"id":7302}',
      hmac: signShopifyBody('{"id":7301}', SECRET),
    });
    expect(tampered.status).toBe(401);
    const deleted = await send(shop, 'products/delete', { id: 7301 });
    expect(await processed(shop.gateway, deleted.webhookId)).toMatchObject({ outcome: 'deleted' });
    expect(await shop.gateway.catalogue.getProducts(['linen-shirt'])).toEqual([]);
  });
});
