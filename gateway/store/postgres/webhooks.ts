import { randomUUID } from 'node:crypto';

import type { PoolClient } from 'pg';

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
import type { Names } from './schema';

/** bigint and count(*) come out of pg as text; every one here stays far below 2^53. */
interface EndpointColumns {
  id: string;
  url: string;
  created_at: string;
  enabled: boolean;
  delivered_seq: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  pending: string;
  dead_letters: string;
}

interface DeadLetterColumns {
  id: string;
  endpoint_id: string;
  seq: string;
  event_id: string;
  attempts: number;
  last_error: string;
  dead_at: string;
  queued: boolean;
}

/** The webhook tables, in the store's schema. */
function tables(n: Names): { endpoints: string; deadLetters: string } {
  return { endpoints: n.table('webhook_endpoints'), deadLetters: n.table('webhook_dead_letters') };
}

function endpointOf(row: EndpointColumns): WebhookEndpointRow {
  return {
    id: row.id,
    url: row.url,
    createdAt: row.created_at,
    enabled: row.enabled,
    deliveredSeq: Number(row.delivered_seq),
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    pending: Number(row.pending),
    deadLetters: Number(row.dead_letters),
  };
}

function deadLetterOf(row: DeadLetterColumns): WebhookDeadLetterRow {
  return {
    id: Number(row.id),
    endpointId: row.endpoint_id,
    seq: Number(row.seq),
    eventId: row.event_id,
    attempts: row.attempts,
    lastError: row.last_error,
    deadAt: row.dead_at,
    queued: row.queued,
  };
}

/**
 * Webhook endpoints, their deliveries and dead letters, shared by every gateway on the database: a
 * claim locks its endpoint's row (`FOR UPDATE SKIP LOCKED`), so two claimers never take the same
 * endpoint and neither waits for the other.
 */
export class Webhooks extends Part<Connection> {
  private get t() {
    return tables(this.c.names);
  }

  private withCounts(where: string): string {
    const { endpoints, deadLetters } = this.t;
    return `SELECT e.id, e.url, e.created_at, e.enabled, e.delivered_seq, e.attempts, e.next_attempt_at, e.last_error,
        (SELECT count(*) FROM ${this.c.names.tagChanges} t WHERE t.seq > e.delivered_seq)
          + (SELECT count(*) FROM ${deadLetters} d WHERE d.endpoint_id = e.id AND d.queued) AS pending,
        (SELECT count(*) FROM ${deadLetters} d WHERE d.endpoint_id = e.id AND NOT d.queued) AS dead_letters
      FROM ${endpoints} e ${where}`;
  }

  async createWebhookEndpoint(endpoint: { url: string; secret: string }): Promise<WebhookEndpointRow> {
    const url = check('url', endpoint?.url, nonEmpty);
    const secret = check('secret', endpoint.secret, nonEmpty);
    const id = randomUUID();
    return this.c.transaction(async (client) => {
      // Writers of tag changes commit in seq order (see tags.ts), so the newest committed seq is a position with nothing still to come below it.
      await client.query(
        `INSERT INTO ${this.t.endpoints} (id, url, secret, created_at, delivered_seq)
         SELECT $1, $2, $3, $4, coalesce(max(seq), 0) FROM ${this.c.names.tagChanges}`,
        [id, url, secret, new Date().toISOString()],
      );
      return endpointOf((await client.query<EndpointColumns>(this.withCounts('WHERE e.id = $1'), [id])).rows[0]);
    });
  }

  async listWebhookEndpoints(): Promise<WebhookEndpointRow[]> {
    return (await this.c.rows<EndpointColumns>(this.withCounts('ORDER BY e.created_at, e.id'))).map(endpointOf);
  }

  async deleteWebhookEndpoint(id: string): Promise<boolean> {
    return this.c.withClient(
      async (client) => ((await client.query(`DELETE FROM ${this.t.endpoints} WHERE id = $1`, [id])).rowCount ?? 0) > 0,
    );
  }

  async claimWebhookDelivery(worker: string, now: string, leaseMs: number): Promise<WebhookDelivery | undefined> {
    check('worker', worker, nonEmpty);
    const times = claimTimes(now, leaseMs);
    const { endpoints, deadLetters } = this.t;
    return this.c.transaction(async (client) => {
      const found = await client.query<{ id: string; url: string; secret: string; delivered_seq: string; attempts: number }>(
        `SELECT e.id, e.url, e.secret, e.delivered_seq, e.attempts FROM ${endpoints} e
         WHERE ${claimableEndpoint('$1', '$2', this.c.names.tagChanges, deadLetters, 'true')}
         ORDER BY e.claimed_at NULLS FIRST, e.id LIMIT 1 FOR UPDATE OF e SKIP LOCKED`,
        [times.now, times.staleBefore],
      );
      const endpoint = found.rows[0];
      if (!endpoint) return undefined;
      const claim = randomUUID();
      await client.query(`UPDATE ${endpoints} SET claim_token = $2, claimed_by = $3, claimed_at = $4 WHERE id = $1`, [
        endpoint.id,
        claim,
        worker,
        times.now,
      ]);
      const base = { endpointId: endpoint.id, url: endpoint.url, secret: endpoint.secret, claim };
      const queued = await client.query<{ id: string; seq: string; attempts: number }>(
        `UPDATE ${deadLetters} SET attempts = attempts + 1
         WHERE id = (SELECT id FROM ${deadLetters} WHERE endpoint_id = $1 AND queued AND coalesce(next_attempt_at, '') <= $2
                     ORDER BY seq LIMIT 1)
         RETURNING id, seq, attempts`,
        [endpoint.id, times.now],
      );
      const letter = queued.rows[0];
      if (letter) {
        const seq = Number(letter.seq);
        return { ...base, attempt: letter.attempts, seq, eventId: webhookEventId(endpoint.id, seq), deadLetterId: Number(letter.id) };
      }
      const next = await client.query<{ seq: string }>(`SELECT min(seq) AS seq FROM ${this.c.names.tagChanges} WHERE seq > $1`, [
        endpoint.delivered_seq,
      ]);
      const seq = Number(next.rows[0].seq);
      await client.query(`UPDATE ${endpoints} SET attempts = attempts + 1 WHERE id = $1`, [endpoint.id]);
      return { ...base, attempt: endpoint.attempts + 1, seq, eventId: webhookEventId(endpoint.id, seq), deadLetterId: null };
    });
  }

  async completeWebhookDelivery(delivery: WebhookDelivery, outcome: WebhookOutcome): Promise<boolean> {
    const { endpoints, deadLetters } = this.t;
    return this.c.transaction(async (client) => {
      const released = await client.query(`UPDATE ${endpoints} SET claim_token = NULL WHERE id = $1 AND claim_token = $2`, [
        delivery.endpointId,
        delivery.claim,
      ]);
      if (released.rowCount === 0) return false;
      const now = new Date().toISOString();
      const error = outcome.kind === 'delivered' ? null : clippedError(outcome.error);
      if (outcome.kind === 'disable') {
        await client.query(`UPDATE ${endpoints} SET enabled = false, last_error = $2 WHERE id = $1`, [delivery.endpointId, error]);
      } else if (delivery.deadLetterId !== null) {
        await this.completeRedelivery(client, delivery, outcome, error, now);
      } else if (outcome.kind === 'retry') {
        await client.query(`UPDATE ${endpoints} SET next_attempt_at = $2, last_error = $3 WHERE id = $1`, [
          delivery.endpointId,
          outcome.retryAt,
          error,
        ]);
      } else {
        if (outcome.kind === 'dead') {
          await client.query(
            `INSERT INTO ${deadLetters} (endpoint_id, seq, event_id, attempts, last_error, dead_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (endpoint_id, seq) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error,
               dead_at = excluded.dead_at, queued = false, next_attempt_at = NULL`,
            [delivery.endpointId, delivery.seq, delivery.eventId, delivery.attempt, error, now],
          );
        }
        // The endpoint goes on with the next change, whether this one was delivered or given up on.
        await client.query(
          `UPDATE ${endpoints} SET delivered_seq = greatest(delivered_seq, $2), attempts = 0, next_attempt_at = NULL, last_error = $3
           WHERE id = $1`,
          [delivery.endpointId, delivery.seq, error],
        );
      }
      return true;
    });
  }

  /** A dead letter's redelivery: delivered, it is gone; failed, it waits for its retry or is dead again. */
  private async completeRedelivery(
    client: PoolClient,
    delivery: WebhookDelivery,
    outcome: WebhookOutcome,
    error: string | null,
    now: string,
  ): Promise<void> {
    const { deadLetters } = this.t;
    const id = delivery.deadLetterId;
    if (outcome.kind === 'delivered') await client.query(`DELETE FROM ${deadLetters} WHERE id = $1`, [id]);
    else if (outcome.kind === 'retry') {
      await client.query(`UPDATE ${deadLetters} SET next_attempt_at = $2, last_error = $3 WHERE id = $1`, [id, outcome.retryAt, error]);
    } else {
      await client.query(`UPDATE ${deadLetters} SET queued = false, next_attempt_at = NULL, last_error = $2, dead_at = $3 WHERE id = $1`, [
        id,
        error,
        now,
      ]);
    }
  }

  async listWebhookDeadLetters(first: number, after?: number): Promise<WebhookDeadLetterRow[]> {
    check('first', first, nonNegativeInt);
    const from = after === undefined ? 0 : check('after', after, nonNegativeInt);
    if (first === 0) return [];
    const rows = await this.c.rows<DeadLetterColumns>(`SELECT * FROM ${this.t.deadLetters} WHERE id > $1 ORDER BY id LIMIT $2`, [
      from,
      first,
    ]);
    return rows.map(deadLetterOf);
  }

  async redeliverWebhookDeadLetters(ids: number[]): Promise<number[]> {
    const checked = checkDeadLetterIds(ids);
    if (checked.length === 0) return [];
    const rows = await this.c.rows<{ id: string }>(
      `UPDATE ${this.t.deadLetters} SET queued = true, attempts = 0, next_attempt_at = NULL WHERE id = ANY($1::bigint[]) RETURNING id`,
      [checked],
    );
    const found = new Set(rows.map((row) => Number(row.id)));
    return checked.filter((id) => found.has(id));
  }
}
