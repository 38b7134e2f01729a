import { randomUUID } from 'node:crypto';

import { check, nonEmpty, nonNegativeInt } from '../../../functions/options';
import { Part } from '../composed';
import {
  checkDeadLetterIds,
  claimableEndpoint,
  claimTimes,
  clippedError,
  webhookEventId,
  type WebhookDeadLetterRow,
  type WebhookDelivery,
  type WebhookEndpointRow,
  type WebhookOutcome,
} from '../webhooks';
import type { Connection } from './connection';

interface EndpointSqlRow {
  id: string;
  url: string;
  secret: string;
  created_at: string;
  enabled: number;
  delivered_seq: number;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  pending: number;
  dead_letters: number;
}

interface DeadLetterSqlRow {
  id: number;
  endpoint_id: string;
  seq: number;
  event_id: string;
  attempts: number;
  last_error: string;
  dead_at: string;
  queued: number;
}

/** An endpoint with its counts: changes after its position and queued dead letters; dead letters not queued. */
const ENDPOINT_WITH_COUNTS = `SELECT e.id, e.url, e.created_at, e.enabled, e.delivered_seq, e.attempts, e.next_attempt_at, e.last_error,
    (SELECT count(*) FROM tag_changes t WHERE t.seq > e.delivered_seq)
      + (SELECT count(*) FROM webhook_dead_letters d WHERE d.endpoint_id = e.id AND d.queued = 1) AS pending,
    (SELECT count(*) FROM webhook_dead_letters d WHERE d.endpoint_id = e.id AND d.queued = 0) AS dead_letters
  FROM webhook_endpoints e`;

function endpointOf(row: EndpointSqlRow): WebhookEndpointRow {
  return {
    id: row.id,
    url: row.url,
    createdAt: row.created_at,
    enabled: row.enabled === 1,
    deliveredSeq: row.delivered_seq,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    pending: row.pending,
    deadLetters: row.dead_letters,
  };
}

function deadLetterOf(row: DeadLetterSqlRow): WebhookDeadLetterRow {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    seq: row.seq,
    eventId: row.event_id,
    attempts: row.attempts,
    lastError: row.last_error,
    deadAt: row.dead_at,
    queued: row.queued === 1,
  };
}

/**
 * Webhook endpoints, their deliveries and dead letters. A claim is BEGIN IMMEDIATE like every
 * write, so two claimers take turns and never get the same endpoint.
 */
export class Webhooks extends Part<Connection> {
  async createWebhookEndpoint(endpoint: { url: string; secret: string }): Promise<WebhookEndpointRow> {
    const url = check('url', endpoint?.url, nonEmpty);
    const secret = check('secret', endpoint.secret, nonEmpty);
    const id = randomUUID();
    return this.c.run('createWebhookEndpoint', 'write', () => {
      const last = this.c.sql('SELECT coalesce(max(seq), 0) FROM tag_changes').pluck().get() as number;
      this.c
        .sql('INSERT INTO webhook_endpoints (id, url, secret, created_at, delivered_seq) VALUES (?, ?, ?, ?, ?)')
        .run(id, url, secret, this.c.now().toISOString(), last);
      return endpointOf(this.c.sql(`${ENDPOINT_WITH_COUNTS} WHERE e.id = ?`).get(id) as EndpointSqlRow);
    });
  }

  async listWebhookEndpoints(): Promise<WebhookEndpointRow[]> {
    return this.c.run('listWebhookEndpoints', 'read', () =>
      (this.c.sql(`${ENDPOINT_WITH_COUNTS} ORDER BY e.created_at, e.id`).all() as EndpointSqlRow[]).map(endpointOf),
    );
  }

  async deleteWebhookEndpoint(id: string): Promise<boolean> {
    return this.c.run('deleteWebhookEndpoint', 'write', () => this.c.sql('DELETE FROM webhook_endpoints WHERE id = ?').run(id).changes > 0);
  }

  async claimWebhookDelivery(worker: string, now: string, leaseMs: number): Promise<WebhookDelivery | undefined> {
    check('worker', worker, nonEmpty);
    const times = claimTimes(now, leaseMs);
    return this.c.run('claimWebhookDelivery', 'write', () => {
      const endpoint = this.c
        .sql(
          `SELECT e.id, e.url, e.secret, e.delivered_seq, e.attempts, e.next_attempt_at FROM webhook_endpoints e
           WHERE ${claimableEndpoint('@now', '@stale', 'tag_changes', 'webhook_dead_letters', '1')}
           ORDER BY e.claimed_at NULLS FIRST, e.id LIMIT 1`,
        )
        .get({ now: times.now, stale: times.staleBefore }) as
        { id: string; url: string; secret: string; delivered_seq: number; attempts: number; next_attempt_at: string | null } | undefined;
      if (!endpoint) return undefined;
      const claim = randomUUID();
      this.c
        .sql('UPDATE webhook_endpoints SET claim_token = ?, claimed_by = ?, claimed_at = ? WHERE id = ?')
        .run(claim, worker, times.now, endpoint.id);
      const base = { endpointId: endpoint.id, url: endpoint.url, secret: endpoint.secret, claim };
      const queued = this.c
        .sql(
          `SELECT id, seq, attempts FROM webhook_dead_letters WHERE endpoint_id = ? AND queued = 1 AND coalesce(next_attempt_at, '') <= ?
           ORDER BY seq LIMIT 1`,
        )
        .get(endpoint.id, times.now) as { id: number; seq: number; attempts: number } | undefined;
      if (queued) {
        this.c.sql('UPDATE webhook_dead_letters SET attempts = attempts + 1 WHERE id = ?').run(queued.id);
        const eventId = webhookEventId(endpoint.id, queued.seq);
        return { ...base, attempt: queued.attempts + 1, seq: queued.seq, eventId, deadLetterId: queued.id };
      }
      const seq = this.c.sql('SELECT min(seq) FROM tag_changes WHERE seq > ?').pluck().get(endpoint.delivered_seq) as number;
      this.c.sql('UPDATE webhook_endpoints SET attempts = attempts + 1 WHERE id = ?').run(endpoint.id);
      return { ...base, attempt: endpoint.attempts + 1, seq, eventId: webhookEventId(endpoint.id, seq), deadLetterId: null };
    });
  }

  async completeWebhookDelivery(delivery: WebhookDelivery, outcome: WebhookOutcome): Promise<boolean> {
    return this.c.run('completeWebhookDelivery', 'write', () => {
      const released = this.c
        .sql('UPDATE webhook_endpoints SET claim_token = NULL WHERE id = ? AND claim_token = ?')
        .run(delivery.endpointId, delivery.claim);
      if (released.changes === 0) return false;
      const now = this.c.now().toISOString();
      const error = outcome.kind === 'delivered' ? null : clippedError(outcome.error);
      if (outcome.kind === 'disable') {
        this.c.sql('UPDATE webhook_endpoints SET enabled = 0, last_error = ? WHERE id = ?').run(error, delivery.endpointId);
      } else if (delivery.deadLetterId !== null) {
        this.completeRedelivery(delivery, outcome, error, now);
      } else if (outcome.kind === 'retry') {
        this.c
          .sql('UPDATE webhook_endpoints SET next_attempt_at = ?, last_error = ? WHERE id = ?')
          .run(outcome.retryAt, error, delivery.endpointId);
      } else {
        if (outcome.kind === 'dead') {
          this.c
            .sql(
              `INSERT INTO webhook_dead_letters (endpoint_id, seq, event_id, attempts, last_error, dead_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (endpoint_id, seq) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error,
                 dead_at = excluded.dead_at, queued = 0, next_attempt_at = NULL`,
            )
            .run(delivery.endpointId, delivery.seq, delivery.eventId, delivery.attempt, error, now);
        }
        // The endpoint goes on with the next change, whether this one was delivered or given up on.
        this.c
          .sql(
            'UPDATE webhook_endpoints SET delivered_seq = max(delivered_seq, ?), attempts = 0, next_attempt_at = NULL, last_error = ? WHERE id = ?',
          )
          .run(delivery.seq, error, delivery.endpointId);
      }
      return true;
    });
  }

  /** A dead letter's redelivery: delivered, it is gone; failed, it waits for its retry or is dead again. */
  private completeRedelivery(delivery: WebhookDelivery, outcome: WebhookOutcome, error: string | null, now: string): void {
    const id = delivery.deadLetterId;
    if (outcome.kind === 'delivered') this.c.sql('DELETE FROM webhook_dead_letters WHERE id = ?').run(id);
    else if (outcome.kind === 'retry') {
      this.c.sql('UPDATE webhook_dead_letters SET next_attempt_at = ?, last_error = ? WHERE id = ?').run(outcome.retryAt, error, id);
    } else {
      this.c
        .sql('UPDATE webhook_dead_letters SET queued = 0, next_attempt_at = NULL, last_error = ?, dead_at = ? WHERE id = ?')
        .run(error, now, id);
    }
  }

  async listWebhookDeadLetters(first: number, after?: number): Promise<WebhookDeadLetterRow[]> {
    check('first', first, nonNegativeInt);
    const from = after === undefined ? 0 : check('after', after, nonNegativeInt);
    return this.c.run('listWebhookDeadLetters', 'read', () =>
      (this.c.sql('SELECT * FROM webhook_dead_letters WHERE id > ? ORDER BY id LIMIT ?').all(from, first) as DeadLetterSqlRow[]).map(
        deadLetterOf,
      ),
    );
  }

  async redeliverWebhookDeadLetters(ids: number[]): Promise<number[]> {
    const checked = checkDeadLetterIds(ids);
    return this.c.run('redeliverWebhookDeadLetters', 'write', () => {
      const requeue = this.c.sql('UPDATE webhook_dead_letters SET queued = 1, attempts = 0, next_attempt_at = NULL WHERE id = ?');
      return checked.filter((id) => requeue.run(id).changes > 0);
    });
  }
}
