import { check, nonEmpty, timeoutMs } from '../../functions/options';

/**
 * The shop's webhooks coming in, as the store keeps them: each delivery is recorded by its
 * X-Shopify-Webhook-Id with its raw body before it is answered, then processed by whichever
 * gateway claims it. A repeated id finds the row already there: recorded once, processed once.
 */

/** pending: waiting (or waiting to be tried again); processing: claimed by a gateway; done: it has an outcome. */
export const INBOUND_STATUSES = ['pending', 'processing', 'done'] as const;
export type InboundStatus = (typeof INBOUND_STATUSES)[number];

/**
 * What a delivery came to: `stored` (the product upserted), `deleted`, `unchanged` (the product
 * already held exactly this), `ignored` (a topic not handled, a delete of a product never kept, an
 * update older than the one kept), `failed` (it cannot be processed; `message` says why).
 */
export const INBOUND_OUTCOMES = ['stored', 'deleted', 'unchanged', 'ignored', 'failed'] as const;
export type InboundOutcome = (typeof INBOUND_OUTCOMES)[number];

/** A delivery as it arrived: its headers and its raw body. */
export interface NewInboundWebhook {
  /** X-Shopify-Webhook-Id: the key deliveries are deduplicated by. */
  webhookId: string;
  /** X-Shopify-Topic, e.g. `products/update`. */
  topic: string;
  /** X-Shopify-Shop-Domain; null when absent. */
  shopDomain: string | null;
  /** X-Shopify-Event-Id: shared by the deliveries of one merchant action; null when absent. */
  eventId: string | null;
  /** X-Shopify-Triggered-At; null when absent. */
  triggeredAt: string | null;
  /** X-Shopify-API-Version; null when absent. */
  apiVersion: string | null;
  /** The body exactly as received (its HMAC was checked over these bytes), as UTF-8 text. */
  body: string;
  /** ISO 8601. */
  receivedAt: string;
  /** Recorded with an outcome already (a topic that needs no processing), or pending. */
  outcome?: { outcome: InboundOutcome; message: string | null };
}

export interface InboundWebhookRow extends Omit<NewInboundWebhook, 'outcome'> {
  /** 1, 2, 3, ...: the order deliveries were recorded in, and are claimed in. */
  seq: number;
  status: InboundStatus;
  outcome: InboundOutcome | null;
  /** Why it came to its outcome, or why its last attempt failed. */
  message: string | null;
  /** Times it was claimed. */
  attempts: number;
  /** The current claim's token: only it can finish the delivery. */
  claim: string | null;
  claimedAt: string | null;
  /** A pending delivery is not claimed before this time (ISO 8601): a retry's backoff. */
  notBefore: string | null;
  finishedAt: string | null;
}

/** How one attempt ended: with an outcome, or to be tried again after `notBefore`. */
export type InboundResult =
  | { status: 'done'; outcome: InboundOutcome; message: string | null; at: string }
  | { status: 'pending'; notBefore: string; message: string };

/** The arguments of recordInboundWebhook, checked. */
export function checkNewInboundWebhook(delivery: NewInboundWebhook): NewInboundWebhook {
  check('webhookId', delivery?.webhookId, nonEmpty);
  check('topic', delivery.topic, nonEmpty);
  if (typeof delivery.body !== 'string') throw new TypeError(`body must be a string: ${typeof delivery.body}`);
  if (delivery.outcome && !INBOUND_OUTCOMES.includes(delivery.outcome.outcome))
    throw new TypeError(`outcome must be one of ${INBOUND_OUTCOMES.join(', ')}: ${JSON.stringify(delivery.outcome.outcome)}`);
  return { ...delivery, receivedAt: isoTime('receivedAt', delivery.receivedAt) };
}

/** The arguments of claimInboundWebhook, checked. */
export function checkInboundClaim(worker: string, now: string, leaseMs: number): void {
  check('worker', worker, nonEmpty);
  isoTime('now', now);
  check('leaseMs', leaseMs, timeoutMs);
}

/** The arguments of finishInboundWebhook, checked. */
export function checkInboundResult(webhookId: string, claim: string, result: InboundResult): void {
  check('webhookId', webhookId, nonEmpty);
  check('claim', claim, nonEmpty);
  const status = (result as { status?: unknown } | undefined)?.status;
  if (status !== 'done' && status !== 'pending') throw new TypeError(`result.status must be done or pending: ${JSON.stringify(status)}`);
  isoTime(result.status === 'done' ? 'at' : 'notBefore', result.status === 'done' ? result.at : result.notBefore);
  if (result.status === 'done' && !INBOUND_OUTCOMES.includes(result.outcome))
    throw new TypeError(`outcome must be one of ${INBOUND_OUTCOMES.join(', ')}: ${JSON.stringify(result.outcome)}`);
}

/** An inbound_webhooks row as both engines return it (times as ISO text). */
export interface InboundColumns {
  seq: number | string;
  webhook_id: string;
  topic: string;
  shop_domain: string | null;
  event_id: string | null;
  triggered_at: string | null;
  api_version: string | null;
  body: string;
  received_at: string;
  status: InboundStatus;
  outcome: InboundOutcome | null;
  message: string | null;
  attempts: number | string;
  claim: string | null;
  claimed_at: string | null;
  not_before: string | null;
  finished_at: string | null;
}

export function inboundOf(row: InboundColumns): InboundWebhookRow {
  return {
    seq: Number(row.seq),
    webhookId: row.webhook_id,
    topic: row.topic,
    shopDomain: row.shop_domain,
    eventId: row.event_id,
    triggeredAt: row.triggered_at,
    apiVersion: row.api_version,
    body: row.body,
    receivedAt: row.received_at,
    status: row.status,
    outcome: row.outcome,
    message: row.message,
    attempts: Number(row.attempts),
    claim: row.claim,
    claimedAt: row.claimed_at,
    notBefore: row.not_before,
    finishedAt: row.finished_at,
  };
}

/** A time as the table keeps it (ISO 8601 in UTC, so that text order is time order); `name` names it in the error. */
export function isoTime(name: string, value: string): string {
  const at = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new TypeError(`${name} must be an ISO 8601 time: ${JSON.stringify(value)}`);
  return new Date(at).toISOString();
}

/** The claims older than this (ISO 8601) have outlived their lease: their gateway died or hung. */
export function staleBefore(now: string, leaseMs: number): string {
  return new Date(Date.parse(isoTime('now', now)) - leaseMs).toISOString();
}

/** The port's methods for the shop's webhooks coming in (CatalogueStore extends it). */
export interface InboundStore {
  /**
   * Records a delivery unless one with its webhookId is recorded already: returns the row and
   * whether this call made it (false: a repeat, whatever became of the first).
   */
  recordInboundWebhook(delivery: NewInboundWebhook): Promise<{ webhook: InboundWebhookRow; created: boolean }>;
  /**
   * In one transaction, claims the delivery recorded first among those due: pending whose
   * notBefore has passed by `now`, or processing under a claim older than `leaseMs` (its gateway
   * died). It becomes processing under a new claim, its attempts counted. Two claimers never get
   * the same delivery. Undefined when none is due.
   */
  claimInboundWebhook(worker: string, now: string, leaseMs: number): Promise<InboundWebhookRow | undefined>;
  /** Ends an attempt under its claim: done with an outcome, or pending again until `notBefore`. False when the claim is no longer current. */
  finishInboundWebhook(webhookId: string, claim: string, result: InboundResult): Promise<boolean>;
  getInboundWebhook(webhookId: string): Promise<InboundWebhookRow | undefined>;
}
