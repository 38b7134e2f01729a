/**
 * What the tests of the shop's webhooks share: a real gateway on loopback with the webhooks on, an
 * image host on loopback standing in for Shopify's CDN (it sends an ETag and answers an unchanged
 * image 304, as a CDN does, and counts what it sends whole), deliveries signed as Shopify signs
 * them, and a wait for the inbox to finish one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { configFromEnv, defaultConfig, type GatewayConfig } from '../../../gateway/config';
import { createGateway, type Gateway, type GatewayDeps } from '../../../gateway/gateway';
import { GatewayHost } from '../../../gateway/host';
import { signShopifyBody, type ShopifyOptions } from '../../../gateway/shopify';
import type { InboundWebhookRow } from '../../../gateway/store';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

export const SECRET = 'shpss_test_secret_0123456789';

export interface WebhookGateway {
  gateway: Gateway;
  host: GatewayHost;
  origin: string;
  logs: string[];
  stop(): Promise<void>;
}

/** A gateway with the tiny CLIP in-process, fetching images from loopback, its webhooks on with SECRET unless `shopify` says otherwise. */
export async function startWebhookGateway(
  shopify: Partial<ShopifyOptions> = {},
  overrides: Partial<GatewayConfig> = {},
  deps: GatewayDeps = {},
): Promise<WebhookGateway> {
  const base = defaultConfig();
  const backend = base.backend.kind === 'local' ? { ...base.backend, modelDir: TINY_CLIP_DIR, workers: 0 } : base.backend;
  const config: GatewayConfig = {
    ...base,
    backend,
    store: { kind: 'sqlite', path: ':memory:' },
    fetch: { ...configFromEnv({}).fetch, allowNetworks: ['127.0.0.0/8'] },
    ...overrides,
  };
  const logs: string[] = [];
  const gateway = await createGateway(config, {
    log: (message, error) => logs.push(`${message}${error ? ` ${String(error)}` : ''}`),
    ...deps,
  });
  const host = new GatewayHost(gateway, { shopify: { webhookSecret: SECRET, pollMs: 50, ...shopify } });
  const address = await host.listen(0, '127.0.0.1');
  return { gateway, host, origin: `http://127.0.0.1:${address.port}`, logs, stop: () => host.stop() };
}

/** Shopify's CDN on loopback: images by path, with validators; `served` lists the paths sent whole (200), in order. */
export interface ImageHost {
  origin: string;
  served: string[];
  /** Conditional requests answered 304. */
  revalidated: string[];
  put(path: string, bytes: Buffer): void;
  close(): Promise<void>;
}

export async function startImageHost(): Promise<ImageHost> {
  const images = new Map<string, Buffer>();
  const served: string[] = [];
  const revalidated: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const picture = images.get(path);
    if (!picture) return res.writeHead(404).end();
    const etag = `"${createHash('sha256').update(picture).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) {
      revalidated.push(path);
      return res.writeHead(304, { etag }).end();
    }
    served.push(path);
    res.writeHead(200, { 'content-type': 'image/png', etag }).end(picture);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    revalidated,
    put: (path, bytes) => images.set(path, bytes),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Delivery {
  topic: string;
  body: string | Buffer;
  webhookId?: string;
  /** Default: the body signed with SECRET; null sends no signature header. */
  hmac?: string | null;
  headers?: Record<string, string>;
}

/** POSTs a delivery as Shopify sends one: JSON, its headers, signed over the exact bytes. */
export async function deliver(
  origin: string,
  delivery: Delivery,
): Promise<{ status: number; body: Record<string, unknown>; webhookId: string }> {
  const webhookId = delivery.webhookId ?? randomUUID();
  const hmac = delivery.hmac === undefined ? signShopifyBody(delivery.body, SECRET) : delivery.hmac;
  const response = await fetch(`${origin}/webhooks/shopify`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': delivery.topic,
      'x-shopify-webhook-id': webhookId,
      'x-shopify-shop-domain': 'fieldhouse.myshopify.com',
      'x-shopify-api-version': '2025-07',
      'x-shopify-event-id': randomUUID(),
      'x-shopify-triggered-at': new Date().toISOString(),
      ...(hmac === null ? {} : { 'x-shopify-hmac-sha256': hmac }),
      ...delivery.headers,
    },
    body: delivery.body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, webhookId };
}

/** The delivery once the inbox has finished it (done); fails after a generous bound rather than hanging. */
export async function processed(gateway: Gateway, webhookId: string): Promise<InboundWebhookRow> {
  const bound = Date.now() + 60_000;
  for (;;) {
    const row = await gateway.store.getInboundWebhook(webhookId);
    if (row?.status === 'done') return row;
    if (Date.now() > bound) throw new Error(`delivery ${webhookId} was not processed: ${JSON.stringify(row)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A REST product payload as Shopify serialises one at API version 2025-07 (the fields the gateway reads, and some it does not). */
export function productPayload(id: number, handle: string, images: string[], patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    admin_graphql_api_id: `gid://shopify/Product/${id}`,
    handle,
    title: 'Linen Shirt',
    body_html: '<p>Breathable linen, cut loose &amp; easy.</p>',
    vendor: 'Fieldhouse',
    product_type: 'Shirts',
    tags: 'linen, summer, shirts',
    status: 'active',
    created_at: '2025-04-22T14:00:00-05:00',
    updated_at: '2025-04-22T14:30:00-05:00',
    published_scope: 'web',
    variants: [{ id: id * 10 + 1, product_id: id, title: 'Sand / S', sku: 'LS-SAND-S', price: '59.00', image_id: null }],
    options: [
      { id: 1, product_id: id, name: 'Color', position: 1, values: ['Sand', 'Navy'] },
      { id: 2, product_id: id, name: 'Size', position: 2, values: ['S', 'M'] },
    ],
    // Listed out of position order, as nothing in Shopify's contract forbids.
    images: images
      .map((src, i) => ({ id: id * 100 + i, product_id: id, position: i + 1, src, alt: null, width: 96, height: 96, variant_ids: [] }))
      .reverse(),
    image: images[0] ? { id: id * 100, position: 1, src: images[0] } : null,
    category: {
      admin_graphql_api_id: 'gid://shopify/TaxonomyCategory/aa-1-13-8',
      name: 'Shirts',
      full_name: 'Apparel & Accessories > Clothing > Clothing Tops > Shirts',
    },
    ...patch,
  };
}
