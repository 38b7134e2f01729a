import { createHash } from 'node:crypto';

/**
 * Outbound webhooks in the store: the endpoints that receive the outbox's tag changes, how far each
 * has got, and the changes given up on (dead letters). What does not depend on the engine: the
 * rows, the methods the port adds for them, and the rules both adapters share.
 *
 * Delivery is at least once by construction: an endpoint's position (deliveredSeq) moves only when
 * a delivery completes, after the receiver answered, so a gateway killed between posting and
 * completing leaves the change to be posted again, with the same event id.
 */

/** A registered receiver, as the API shows it: never its secret. */
export interface WebhookEndpointRow {
  id: string;
  url: string;
  /** ISO 8601. */
  createdAt: string;
  /** False once a receiver answered 410 Gone: nothing more is posted to it. */
  enabled: boolean;
  /** The outbox seq up to which this endpoint is done (delivered or dead-lettered); changes after it are to come. */
  deliveredSeq: number;
  /** Attempts made at the change after deliveredSeq so far. */
  attempts: number;
  /** When that change may be tried again (ISO 8601); null when it may be at once. */
  nextAttemptAt: string | null;
  /** What the last failed attempt met; null after a delivery. */
  lastError: string | null;
  /** Changes after deliveredSeq, plus dead letters queued for redelivery. */
  pending: number;
  /** Dead letters of this endpoint not queued for redelivery. */
  deadLetters: number;
}

/** One delivery claimed by a worker: the endpoint, the change (by its seq) and the attempt. */
export interface WebhookDelivery {
  endpointId: string;
  url: string;
  /** The endpoint's secret, to sign with. */
  secret: string;
  /** This claim's token: a completion under an older claim (taken over since) writes nothing. */
  claim: string;
  /** 1, 2, 3, ...: this attempt at this change for this endpoint, counting attempts cut short by a crash. */
  attempt: number;
  /** The tag change's seq (see CatalogueStore.tagChanges). */
  seq: number;
  /** The same for every attempt at this (endpoint, seq): receivers deduplicate by it. */
  eventId: string;
  /** Set when this is a dead letter queued for redelivery, rather than the endpoint's next change. */
  deadLetterId: number | null;
}

/**
 * What came of a delivery: delivered (the receiver answered 2xx); retry at `retryAt`; dead (given
 * up: the change becomes a dead letter and the endpoint goes on with the next); or disable (the
 * receiver said it is gone: nothing more is posted to it, and the change stays next).
 */
export type WebhookOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; error: string; retryAt: string }
  | { kind: 'dead'; error: string }
  | { kind: 'disable'; error: string };

/** A change an endpoint gave up on after its attempts, kept to be seen and redelivered. */
export interface WebhookDeadLetterRow {
  /** 1, 2, 3, ...: the order they died in (a redelivered one that dies again keeps its id). */
  id: number;
  endpointId: string;
  seq: number;
  eventId: string;
  attempts: number;
  lastError: string;
  /** ISO 8601. */
  deadAt: string;
  /** Queued for redelivery (webhookRedeliver) and not yet delivered or dead again. */
  queued: boolean;
}

/** The port's methods for webhooks (see CatalogueStore). */
export interface WebhookStore {
  /**
   * Registers a receiver. It starts after the newest tag change committed (lastTagChangeSeq, read in
   * the same transaction): it receives the changes from now on, not the outbox's history.
   */
  createWebhookEndpoint(endpoint: { url: string; secret: string }): Promise<WebhookEndpointRow>;
  /** Every endpoint, oldest first, with its position and counts. */
  listWebhookEndpoints(): Promise<WebhookEndpointRow[]>;
  /** Deletes an endpoint with its dead letters; false when there is none. A delivery in flight completes to nothing. */
  deleteWebhookEndpoint(id: string): Promise<boolean>;
  /**
   * In one transaction, claims the next delivery of one endpoint that is enabled, not claimed (or
   * whose claim is older than `leaseMs` before `now`: its worker died) and has work due at `now`:
   * a dead letter queued for redelivery (lowest seq first), else the change after its deliveredSeq
   * once its retry time has come. The claim covers the whole endpoint, so an endpoint has one
   * delivery in flight at a time and gets its changes in seq order. Endpoints take turns (the one
   * claimed longest ago first). The attempt is counted at the claim. Undefined when nothing is due.
   */
  claimWebhookDelivery(worker: string, now: string, leaseMs: number): Promise<WebhookDelivery | undefined>;
  /**
   * Records what came of a delivery and releases the endpoint (see WebhookOutcome), only under its
   * current claim: otherwise (taken over, endpoint deleted) nothing is written and false is returned.
   */
  completeWebhookDelivery(delivery: WebhookDelivery, outcome: WebhookOutcome): Promise<boolean>;
  /** Dead letters after the id `after` (all when undefined), oldest first, at most `first`. */
  listWebhookDeadLetters(first: number, after?: number): Promise<WebhookDeadLetterRow[]>;
  /** Queues these dead letters for redelivery with a fresh count of attempts; returns the ids found, in the order given. */
  redeliverWebhookDeadLetters(ids: number[]): Promise<number[]>;
}

/** Every webhook event id is a UUID in this namespace (RFC 9562 version 5), made from the endpoint and the seq. */
const EVENT_NAMESPACE = Buffer.from('6f1d2a4e8c3b4f7a9e215d0c7b3a8f61', 'hex');

/**
 * The event id of a change for an endpoint: a name-based UUID (version 5: SHA-1 of the namespace
 * and `<endpoint id>/<seq>`), the same for every attempt, in this gateway and any other.
 */
export function webhookEventId(endpointId: string, seq: number): string {
  const bytes = createHash('sha1').update(EVENT_NAMESPACE).update(`${endpointId}/${seq}`, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The claim's moment and the oldest claim still held, checked once before a transaction. */
export function claimTimes(now: string, leaseMs: number): { now: string; staleBefore: string } {
  const at = Date.parse(now);
  if (typeof now !== 'string' || Number.isNaN(at)) throw new TypeError(`now must be an ISO 8601 time, got ${JSON.stringify(now)}`);
  if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new TypeError(`leaseMs must be a positive integer, got ${String(leaseMs)}`);
  return { now: new Date(at).toISOString(), staleBefore: new Date(at - leaseMs).toISOString() };
}

/** Errors are kept at most this long (a receiver's answer could be anything). */
export const WEBHOOK_ERROR_MAX_CHARS = 500;

export function clippedError(error: string): string {
  return error.length > WEBHOOK_ERROR_MAX_CHARS ? `${error.slice(0, WEBHOOK_ERROR_MAX_CHARS - 1)}…` : error;
}

/** The dead letters' ids to redeliver, checked. */
export function checkDeadLetterIds(ids: readonly number[]): number[] {
  if (!Array.isArray(ids)) throw new TypeError('ids must be an array of dead letter ids');
  ids.forEach((id, i) => {
    if (!Number.isSafeInteger(id) || id < 1) throw new TypeError(`ids[${i}] must be a positive integer, got ${JSON.stringify(id)}`);
  });
  return [...ids];
}

/** The SQL condition, the same in both dialects, of an endpoint `e` that may be claimed: its `$now`/`$stale` placeholders are the caller's. */
export function claimableEndpoint(now: string, stale: string, tagChanges: string, deadLetters: string, yes: string): string {
  return `e.enabled = ${yes} AND (e.claim_token IS NULL OR e.claimed_at < ${stale})
    AND ((coalesce(e.next_attempt_at, '') <= ${now} AND EXISTS (SELECT 1 FROM ${tagChanges} t WHERE t.seq > e.delivered_seq))
      OR EXISTS (SELECT 1 FROM ${deadLetters} d WHERE d.endpoint_id = e.id AND d.queued = ${yes} AND coalesce(d.next_attempt_at, '') <= ${now}))`;
}
