import { randomUUID } from 'node:crypto';

import type { PoolClient } from 'pg';

import { Part } from '../composed';
import {
  checkInboundClaim,
  checkInboundResult,
  checkNewInboundWebhook,
  inboundOf,
  isoTime,
  staleBefore,
  type InboundColumns,
  type InboundResult,
  type InboundWebhookRow,
  type NewInboundWebhook,
} from '../inbound';
import type { Connection } from './connection';

/**
 * The shop's webhooks coming in (see ../inbound.ts): one row per X-Shopify-Webhook-Id, claimed in
 * the order recorded, with `FOR UPDATE SKIP LOCKED` so that gateways sharing the database never
 * claim the same delivery and never wait for each other's claims.
 */
export class Inbound extends Part<Connection> {
  private get table(): string {
    return this.c.names.table('inbound_webhooks');
  }

  async recordInboundWebhook(delivery: NewInboundWebhook): Promise<{ webhook: InboundWebhookRow; created: boolean }> {
    const d = checkNewInboundWebhook(delivery);
    const done = d.outcome !== undefined;
    return this.c.withClient(async (client) => {
      // One statement: a delivery recorded concurrently by another gateway makes this one a no-op.
      const inserted = await client.query(
        `INSERT INTO ${this.table} (webhook_id, topic, shop_domain, event_id, triggered_at, api_version, body, received_at,
           status, outcome, message, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (webhook_id) DO NOTHING`,
        [
          d.webhookId,
          d.topic,
          d.shopDomain,
          d.eventId,
          d.triggeredAt,
          d.apiVersion,
          d.body,
          d.receivedAt,
          done ? 'done' : 'pending',
          d.outcome?.outcome ?? null,
          d.outcome?.message ?? null,
          done ? d.receivedAt : null,
        ],
      );
      return { webhook: (await this.get(client, d.webhookId))!, created: inserted.rowCount === 1 };
    });
  }

  async claimInboundWebhook(worker: string, now: string, leaseMs: number): Promise<InboundWebhookRow | undefined> {
    checkInboundClaim(worker, now, leaseMs);
    const at = isoTime('now', now);
    const stale = staleBefore(now, leaseMs);
    return this.c.transaction(async (client) => {
      const due = (
        await client.query<{ webhook_id: string }>(
          `SELECT webhook_id FROM ${this.table}
           WHERE (status = 'pending' AND (not_before IS NULL OR not_before <= $1)) OR (status = 'processing' AND claimed_at < $2)
           ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [at, stale],
        )
      ).rows[0];
      if (!due) return undefined;
      await client.query(
        `UPDATE ${this.table} SET status = 'processing', claim = $1, claimed_at = $2, attempts = attempts + 1, not_before = NULL
         WHERE webhook_id = $3`,
        [`${worker}:${randomUUID()}`, at, due.webhook_id],
      );
      return this.get(client, due.webhook_id);
    });
  }

  async finishInboundWebhook(webhookId: string, claim: string, result: InboundResult): Promise<boolean> {
    checkInboundResult(webhookId, claim, result);
    const finished =
      result.status === 'done'
        ? await this.c.withClient((client) =>
            client.query(
              `UPDATE ${this.table} SET status = 'done', outcome = $1, message = $2, finished_at = $3, claim = NULL
               WHERE webhook_id = $4 AND status = 'processing' AND claim = $5`,
              [result.outcome, result.message, isoTime('at', result.at), webhookId, claim],
            ),
          )
        : await this.c.withClient((client) =>
            client.query(
              `UPDATE ${this.table} SET status = 'pending', message = $1, not_before = $2, claim = NULL
               WHERE webhook_id = $3 AND status = 'processing' AND claim = $4`,
              [result.message, isoTime('notBefore', result.notBefore), webhookId, claim],
            ),
          );
    return finished.rowCount === 1;
  }

  async getInboundWebhook(webhookId: string): Promise<InboundWebhookRow | undefined> {
    return this.c.withClient((client) => this.get(client, webhookId));
  }

  private async get(client: PoolClient, webhookId: string): Promise<InboundWebhookRow | undefined> {
    const row = (await client.query<InboundColumns>(`SELECT * FROM ${this.table} WHERE webhook_id = $1`, [webhookId])).rows[0];
    return row && inboundOf(row);
  }
}
