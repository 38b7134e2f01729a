import { randomUUID } from 'node:crypto';

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
 * the order recorded. SQLite has one writer at a time, so a claim inside a write transaction is
 * never given to two claimers.
 */
export class Inbound extends Part<Connection> {
  async recordInboundWebhook(delivery: NewInboundWebhook): Promise<{ webhook: InboundWebhookRow; created: boolean }> {
    const d = checkNewInboundWebhook(delivery);
    return this.c.run('recordInboundWebhook', 'write', () => {
      const done = d.outcome !== undefined;
      const inserted = this.c
        .sql(
          `INSERT INTO inbound_webhooks (webhook_id, topic, shop_domain, event_id, triggered_at, api_version, body, received_at,
             status, outcome, message, finished_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (webhook_id) DO NOTHING`,
        )
        .run(
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
        );
      return { webhook: this.get(d.webhookId)!, created: inserted.changes === 1 };
    });
  }

  async claimInboundWebhook(worker: string, now: string, leaseMs: number): Promise<InboundWebhookRow | undefined> {
    checkInboundClaim(worker, now, leaseMs);
    const at = isoTime('now', now);
    const stale = staleBefore(now, leaseMs);
    return this.c.run('claimInboundWebhook', 'write', () => {
      const due = this.c
        .sql(
          `SELECT webhook_id FROM inbound_webhooks
           WHERE (status = 'pending' AND (not_before IS NULL OR not_before <= ?)) OR (status = 'processing' AND claimed_at < ?)
           ORDER BY seq LIMIT 1`,
        )
        .pluck()
        .get(at, stale) as string | undefined;
      if (due === undefined) return undefined;
      this.c
        .sql(
          `UPDATE inbound_webhooks SET status = 'processing', claim = ?, claimed_at = ?, attempts = attempts + 1, not_before = NULL
           WHERE webhook_id = ?`,
        )
        .run(`${worker}:${randomUUID()}`, at, due);
      return this.get(due);
    });
  }

  async finishInboundWebhook(webhookId: string, claim: string, result: InboundResult): Promise<boolean> {
    checkInboundResult(webhookId, claim, result);
    return this.c.run('finishInboundWebhook', 'write', () => {
      const finished =
        result.status === 'done'
          ? this.c
              .sql(
                `UPDATE inbound_webhooks SET status = 'done', outcome = ?, message = ?, finished_at = ?, claim = NULL
                 WHERE webhook_id = ? AND status = 'processing' AND claim = ?`,
              )
              .run(result.outcome, result.message, isoTime('at', result.at), webhookId, claim)
          : this.c
              .sql(
                `UPDATE inbound_webhooks SET status = 'pending', message = ?, not_before = ?, claim = NULL
                 WHERE webhook_id = ? AND status = 'processing' AND claim = ?`,
              )
              .run(result.message, isoTime('notBefore', result.notBefore), webhookId, claim);
      return finished.changes === 1;
    });
  }

  async getInboundWebhook(webhookId: string): Promise<InboundWebhookRow | undefined> {
    return this.c.run('getInboundWebhook', 'read', () => this.get(webhookId));
  }

  private get(webhookId: string): InboundWebhookRow | undefined {
    const row = this.c.sql('SELECT * FROM inbound_webhooks WHERE webhook_id = ?').get(webhookId) as InboundColumns | undefined;
    return row && inboundOf(row);
  }
}
