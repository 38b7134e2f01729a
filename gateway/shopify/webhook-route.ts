// POST /webhooks/shopify: the shop's webhooks coming in, checked and recorded, then answered.
//
// Why record, answer, then process (and not process inside the request): Shopify waits 5 seconds
// for an answer and sends again whatever it did not see answered with a 2xx, for hours. Processing
// a product fetches up to 10 images from Shopify's CDN and embeds those that changed; on a busy
// gateway that can pass 5 s, and a delivery timed out would be sent again and done again. So the
// request only verifies the signature over the raw body, reads the JSON, and records the delivery
// with its body in the store (one statement, keyed by X-Shopify-Webhook-Id) before it answers 200:
// a kill after the answer loses nothing, because the record is committed and the inbox's worker
// (inbox.ts) on this gateway or any other sharing the store processes it, at least once; a kill
// before the answer leaves Shopify to send it again, and the repeated id finds its record. A
// repeated id is answered 200 at once and processed no further.
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';

import type { InboundStore } from '../store';
import type { ShopifyOptions } from './options';
import { PRODUCT_TOPICS } from './process';
import { HMAC_HEADER, verifyShopifyHmac } from './verify';

export const SHOPIFY_WEBHOOK_ROUTE = '/webhooks/shopify';

export const SHOPIFY_WEBHOOKS_OFF =
  "The shop's webhooks are off on this gateway: set SHOPIFY_WEBHOOK_SECRET to the secret Shopify signs them with to receive them here.";

/** What the route needs: where deliveries are recorded, the options, and a way to have them processed now. */
export interface WebhookRouteDeps {
  store: Pick<InboundStore, 'recordInboundWebhook'>;
  options: Pick<ShopifyOptions, 'webhookSecret' | 'maxBodyBytes'>;
  /** Called once a new delivery is recorded. */
  recorded: () => void;
  now?: () => Date;
  log?: (message: string, error?: unknown) => void;
}

/** Answers in one shape: `{ error }` for a refusal, with the status Shopify acts on (any 2xx stops its retries). */
function refuse(res: Response, status: number, message: string): void {
  res.status(status).json({ error: message });
}

/** One header's value, trimmed; undefined when absent, blank or repeated (Shopify sends each once). */
function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Bodies the raw reader could not take: too large (413, before the whole body is read), or unreadable. */
function bodyErrors(maxBodyBytes: number): ErrorRequestHandler {
  return (error: { type?: string; status?: number; length?: number }, _req, res, next) => {
    if (error?.type === 'entity.too.large')
      return refuse(
        res,
        413,
        `The body is ${error.length ?? 'over'} bytes; this gateway takes at most ${maxBodyBytes} (SHOPIFY_WEBHOOK_MAX_BYTES).`,
      );
    if (error?.status && error.status >= 400 && error.status < 500) return refuse(res, error.status, 'The request body could not be read.');
    next(error);
  };
}

/**
 * The handlers of POST /webhooks/shopify, in order: the raw body (no JSON parser before it: the
 * signature is over the bytes as sent), then the checks, each refusal naming what is wrong:
 * X-Shopify-Hmac-Sha256 missing or not the body's (401, nothing recorded), X-Shopify-Webhook-Id
 * or X-Shopify-Topic missing (400), a body that is not JSON (400). A delivery that passes is
 * recorded and answered 200; one whose topic the gateway does not handle is recorded as ignored.
 */
export function shopifyWebhookHandlers(deps: WebhookRouteDeps): (RequestHandler | ErrorRequestHandler)[] {
  const { store, options, recorded } = deps;
  const now = deps.now ?? (() => new Date());
  const secret = options.webhookSecret;
  if (secret === undefined) {
    const off: RequestHandler = (_req, res) => refuse(res, 404, SHOPIFY_WEBHOOKS_OFF);
    return [off];
  }
  const verify: RequestHandler = async (req, res) => {
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = req.headers[HMAC_HEADER];
    if (signature === undefined) return refuse(res, 401, `${HMAC_HEADER} is missing: Shopify signs every delivery in it.`);
    if (!verifyShopifyHmac(body, signature, secret))
      return refuse(res, 401, `${HMAC_HEADER} is not the signature of this body under this gateway's SHOPIFY_WEBHOOK_SECRET.`);
    const webhookId = header(req.headers['x-shopify-webhook-id']);
    if (!webhookId) return refuse(res, 400, 'x-shopify-webhook-id is missing: deliveries are told apart by it.');
    const topic = header(req.headers['x-shopify-topic']);
    if (!topic) return refuse(res, 400, 'x-shopify-topic is missing: it says what the delivery is about.');
    let text: string;
    try {
      text = UTF8.decode(body);
      JSON.parse(text);
    } catch (error) {
      const why = error instanceof SyntaxError ? error.message : 'it is not UTF-8';
      return refuse(res, 400, `The body of ${topic} delivery ${webhookId} is not valid JSON: ${why}.`);
    }
    const handled = (PRODUCT_TOPICS as readonly string[]).includes(topic);
    try {
      const { webhook, created } = await store.recordInboundWebhook({
        webhookId,
        topic,
        shopDomain: header(req.headers['x-shopify-shop-domain']) ?? null,
        eventId: header(req.headers['x-shopify-event-id']) ?? null,
        triggeredAt: header(req.headers['x-shopify-triggered-at']) ?? null,
        apiVersion: header(req.headers['x-shopify-api-version']) ?? null,
        body: text,
        receivedAt: now().toISOString(),
        // Recorded all the same, so that its repeats are recognised and it can be seen.
        ...(handled ? {} : { outcome: { outcome: 'ignored', message: `the topic ${topic} is not one the gateway handles` } }),
      });
      if (created && handled) recorded();
      res.status(200).json({
        webhookId,
        status: created ? 'recorded' : 'repeated',
        ...(webhook.outcome ? { outcome: webhook.outcome } : {}),
      });
    } catch (error) {
      deps.log?.(`the shop's webhooks: ${topic} delivery ${webhookId} could not be recorded`, error);
      // Not recorded, so not answered 2xx: Shopify sends it again later.
      refuse(res, 503, `The delivery could not be recorded (the catalogue database is unavailable); send it again later.`);
    }
  };
  return [express.raw({ type: () => true, limit: options.maxBodyBytes }), bodyErrors(options.maxBodyBytes), verify];
}
