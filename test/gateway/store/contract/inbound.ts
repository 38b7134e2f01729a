/** The contract's inbox of the shop's webhooks: recorded once per webhook id, claimed once, finished under its claim. */
import type { NewInboundWebhook } from '../../../../gateway/store/inbound';
import type { CatalogueStore } from '../../../../gateway/store';
import { T0, T1, type Subject } from './fixtures';

function delivery(webhookId: string, patch: Partial<NewInboundWebhook> = {}): NewInboundWebhook {
  return {
    webhookId,
    topic: 'products/update',
    shopDomain: 'shop.myshopify.com',
    eventId: `event-${webhookId}`,
    triggeredAt: '2024-01-01T00:00:00.000Z',
    apiVersion: '2025-07',
    body: `{"id":1,"title":"caf\u00e9 ${webhookId}"}`,
    receivedAt: T0,
    ...patch,
  };
}

const LEASE = 60_000;
/** A minute after T0: later than any lease of these tests counts from T0. */
const AFTER_LEASE = '2024-01-01T00:01:00.001Z';

export function inboundContract(subject: Subject): void {
  describe("the shop's webhooks coming in (the inbox)", () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });

    it('records a delivery once: the same webhook id again changes nothing and says it was there', async () => {
      const first = await store.recordInboundWebhook(delivery('w1'));
      expect(first.created).toBe(true);
      expect(first.webhook).toMatchObject({
        webhookId: 'w1',
        topic: 'products/update',
        shopDomain: 'shop.myshopify.com',
        eventId: 'event-w1',
        apiVersion: '2025-07',
        body: '{"id":1,"title":"café w1"}',
        receivedAt: T0,
        status: 'pending',
        outcome: null,
        attempts: 0,
        claim: null,
      });
      const again = await store.recordInboundWebhook(delivery('w1', { body: '{"other":true}', receivedAt: T1 }));
      expect(again.created).toBe(false);
      expect(again.webhook).toEqual(first.webhook);
      expect(await store.getInboundWebhook('w1')).toEqual(first.webhook);
      expect(await store.getInboundWebhook('never')).toBeUndefined();
    });

    it('records a delivery that needs no processing as done with its outcome', async () => {
      const { webhook } = await store.recordInboundWebhook(
        delivery('w1', { topic: 'orders/create', outcome: { outcome: 'ignored', message: 'not a product topic' } }),
      );
      expect(webhook).toMatchObject({ status: 'done', outcome: 'ignored', message: 'not a product topic', finishedAt: T0 });
      expect(await store.claimInboundWebhook('worker', T0, LEASE)).toBeUndefined();
    });

    it('hands each delivery to one claimer, in the order recorded, and finishes it only under that claim', async () => {
      for (const id of ['w1', 'w2']) await store.recordInboundWebhook(delivery(id));
      const a = await store.claimInboundWebhook('a', T0, LEASE);
      const b = await store.claimInboundWebhook('b', T0, LEASE);
      expect([a?.webhookId, b?.webhookId]).toEqual(['w1', 'w2']);
      expect(a).toMatchObject({ status: 'processing', attempts: 1, claimedAt: T0 });
      expect(a!.claim).not.toBe(b!.claim);
      expect(await store.claimInboundWebhook('c', T0, LEASE)).toBeUndefined();
      expect(await store.finishInboundWebhook('w1', b!.claim!, { status: 'done', outcome: 'stored', message: null, at: T1 })).toBe(false);
      expect(await store.finishInboundWebhook('w1', a!.claim!, { status: 'done', outcome: 'stored', message: null, at: T1 })).toBe(true);
      expect(await store.getInboundWebhook('w1')).toMatchObject({ status: 'done', outcome: 'stored', finishedAt: T1, claim: null });
      // Done is final: the old claim cannot finish it again, nor can anyone claim it.
      expect(await store.finishInboundWebhook('w1', a!.claim!, { status: 'pending', notBefore: T1, message: 'again' })).toBe(false);
      expect(await store.claimInboundWebhook('c', AFTER_LEASE, LEASE)).toMatchObject({ webhookId: 'w2', attempts: 2 });
    });

    it('gives a delivery put back to wait to no claimer before its time, then to the next', async () => {
      await store.recordInboundWebhook(delivery('w1'));
      const first = await store.claimInboundWebhook('a', T0, LEASE);
      const later = '2024-01-01T00:00:30.000Z';
      expect(
        await store.finishInboundWebhook('w1', first!.claim!, {
          status: 'pending',
          notBefore: later,
          message: 'the image host answered 503',
        }),
      ).toBe(true);
      expect(await store.getInboundWebhook('w1')).toMatchObject({
        status: 'pending',
        message: 'the image host answered 503',
        notBefore: later,
      });
      expect(await store.claimInboundWebhook('b', '2024-01-01T00:00:29.999Z', LEASE)).toBeUndefined();
      const second = await store.claimInboundWebhook('b', later, LEASE);
      expect(second).toMatchObject({ webhookId: 'w1', attempts: 2, notBefore: null });
      expect(await store.finishInboundWebhook('w1', first!.claim!, { status: 'done', outcome: 'failed', message: 'x', at: later })).toBe(
        false,
      );
    });

    it('gives a delivery whose claim outlived its lease (its gateway died) to the next claimer', async () => {
      await store.recordInboundWebhook(delivery('w1'));
      const dead = await store.claimInboundWebhook('dead', T0, LEASE);
      expect(await store.claimInboundWebhook('b', '2024-01-01T00:00:59.999Z', LEASE)).toBeUndefined();
      const taken = await store.claimInboundWebhook('b', AFTER_LEASE, LEASE);
      expect(taken).toMatchObject({ webhookId: 'w1', status: 'processing', attempts: 2 });
      expect(await store.finishInboundWebhook('w1', dead!.claim!, { status: 'done', outcome: 'stored', message: null, at: T1 })).toBe(
        false,
      );
      expect(await store.finishInboundWebhook('w1', taken!.claim!, { status: 'done', outcome: 'stored', message: null, at: T1 })).toBe(
        true,
      );
    });

    it('refuses arguments that are not of their form, naming them', async () => {
      await expect(store.recordInboundWebhook(delivery(''))).rejects.toThrow(/webhookId/);
      await expect(store.recordInboundWebhook(delivery('w1', { topic: '' }))).rejects.toThrow(/topic/);
      await expect(store.claimInboundWebhook('a', 'yesterday', LEASE)).rejects.toThrow(/now must be an ISO 8601 time: "yesterday"/);
      await expect(store.claimInboundWebhook('a', T0, 0)).rejects.toThrow(/leaseMs/);
      await expect(
        store.finishInboundWebhook('w1', 'c', { status: 'done', outcome: 'lost' as never, message: null, at: T0 }),
      ).rejects.toThrow(/outcome must be one of stored, deleted, unchanged, ignored, failed: "lost"/);
    });
  });
}
