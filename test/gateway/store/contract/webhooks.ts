/** The contract's outbound webhooks: endpoints' positions in the outbox, claims with a lease, completions, dead letters. */
import type { CatalogueStore } from '../../../../gateway/store';
import { webhookEventId, type WebhookDelivery } from '../../../../gateway/store/webhooks';
import { product, tag, type Subject } from './fixtures';

const LEASE_MS = 60_000;
/** Times of the claims: each one a minute on, so a claim made at one is stale at the next but one. */
const at = (minutes: number) => new Date(Date.UTC(2030, 0, 1, 0, minutes)).toISOString();

export function webhooksContract(subject: Subject): void {
  describe('webhooks', () => {
    let store: CatalogueStore;
    beforeEach(async () => {
      store = subject.store;
      await store.upsertProducts(['a', 'b', 'c'].map((id) => product(id)));
    });

    /** One more tag change in the outbox: product `id`'s colour becomes `label`. Returns its seq. */
    async function change(id: string, label: string): Promise<number> {
      await store.replaceAutoTags([id], [tag(id, 'colour', label)]);
      return store.lastTagChangeSeq();
    }

    const claim = (minutes: number, worker = 'w1') => store.claimWebhookDelivery(worker, at(minutes), LEASE_MS);

    it('starts an endpoint after the newest change, and shows its position but never its secret', async () => {
      const before = await change('a', 'red');
      const endpoint = await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's3cret' });
      expect(endpoint).toEqual({
        id: expect.any(String),
        url: 'http://127.0.0.1:9/hook',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        enabled: true,
        deliveredSeq: before,
        attempts: 0,
        nextAttemptAt: null,
        lastError: null,
        pending: 0,
        deadLetters: 0,
      });
      expect(JSON.stringify(await store.listWebhookEndpoints())).not.toContain('s3cret');
      expect(await claim(0)).toBeUndefined();
      await change('b', 'green');
      await change('c', 'green');
      expect((await store.listWebhookEndpoints()).map((e) => [e.id, e.pending])).toEqual([[endpoint.id, 2]]);
    });

    it('hands out the changes in seq order, each one after the last is delivered, with the signing secret', async () => {
      const endpoint = await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's3cret' });
      const seqs = [await change('a', 'red'), await change('b', 'red'), await change('a', 'green')];
      const got: WebhookDelivery[] = [];
      for (let i = 0; ; i++) {
        const delivery = await claim(i);
        if (!delivery) break;
        // While claimed, the endpoint's next change is not handed to anyone else.
        expect(await claim(i, 'w2')).toBeUndefined();
        got.push(delivery);
        expect(await store.completeWebhookDelivery(delivery, { kind: 'delivered' })).toBe(true);
      }
      expect(got.map((d) => [d.seq, d.attempt, d.secret, d.deadLetterId])).toEqual(seqs.map((seq) => [seq, 1, 's3cret', null]));
      expect(got.map((d) => d.eventId)).toEqual(seqs.map((seq) => webhookEventId(endpoint.id, seq)));
      expect(new Set(got.map((d) => d.eventId)).size).toBe(3);
      expect(got[0].eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ deliveredSeq: seqs[2], pending: 0, attempts: 0 }]);
    });

    it('lets another worker take over a claim older than the lease: the same change and event id, the next attempt', async () => {
      await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's' });
      const seq = await change('a', 'red');
      const first = (await claim(0, 'dies'))!;
      // Within the lease (one minute on, the lease is one minute): still held.
      expect(await claim(1, 'w2')).toBeUndefined();
      const second = (await claim(2, 'w2'))!;
      expect(second).toMatchObject({ seq, eventId: first.eventId, attempt: 2 });
      expect(second.claim).not.toBe(first.claim);
      // The first worker's late answer records nothing: the change is the second's now.
      expect(await store.completeWebhookDelivery(first, { kind: 'delivered' })).toBe(false);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ deliveredSeq: seq - 1 }]);
      expect(await store.completeWebhookDelivery(second, { kind: 'delivered' })).toBe(true);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ deliveredSeq: seq, pending: 0 }]);
    });

    it('keeps a failed change for its retry time, then hands it out again as the next attempt', async () => {
      await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's' });
      const seq = await change('a', 'red');
      const first = (await claim(0))!;
      expect(await store.completeWebhookDelivery(first, { kind: 'retry', error: 'HTTP 500', retryAt: at(10) })).toBe(true);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ attempts: 1, nextAttemptAt: at(10), lastError: 'HTTP 500' }]);
      expect(await claim(9)).toBeUndefined();
      const again = (await claim(10))!;
      expect(again).toMatchObject({ seq, attempt: 2, eventId: first.eventId });
      await store.completeWebhookDelivery(again, { kind: 'delivered' });
      expect(await store.listWebhookEndpoints()).toMatchObject([{ deliveredSeq: seq, attempts: 0, nextAttemptAt: null, lastError: null }]);
    });

    it('dead-letters a change given up on and goes on with the next; a redelivered dead letter comes first, under its own id', async () => {
      const endpoint = await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's' });
      const dead = await change('a', 'red');
      const next = await change('b', 'red');
      const given = (await claim(0))!;
      await store.completeWebhookDelivery(given, { kind: 'dead', error: 'HTTP 500 eight times' });
      const letters = await store.listWebhookDeadLetters(10);
      expect(letters).toEqual([
        {
          id: expect.any(Number),
          endpointId: endpoint.id,
          seq: dead,
          eventId: given.eventId,
          attempts: 1,
          lastError: 'HTTP 500 eight times',
          deadAt: expect.stringMatching(/^\d{4}-/),
          queued: false,
        },
      ]);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ deliveredSeq: dead, pending: 1, deadLetters: 1 }]);
      expect(await store.redeliverWebhookDeadLetters([letters[0].id, 999_999])).toEqual([letters[0].id]);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ pending: 2, deadLetters: 0 }]);
      const redelivery = (await claim(1))!;
      expect(redelivery).toMatchObject({ seq: dead, eventId: given.eventId, attempt: 1, deadLetterId: letters[0].id });
      await store.completeWebhookDelivery(redelivery, { kind: 'delivered' });
      expect(await store.listWebhookDeadLetters(10)).toEqual([]);
      expect(await claim(2)).toMatchObject({ seq: next, attempt: 1, deadLetterId: null });
    });

    it('pages dead letters by id, and a redelivered one that dies again keeps its id', async () => {
      await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's' });
      for (const id of ['a', 'b', 'c']) await change(id, 'red');
      for (let i = 0; i < 3; i++) await store.completeWebhookDelivery((await claim(i))!, { kind: 'dead', error: `failed ${i}` });
      const all = await store.listWebhookDeadLetters(10);
      expect(all.map((l) => l.lastError)).toEqual(['failed 0', 'failed 1', 'failed 2']);
      expect(await store.listWebhookDeadLetters(2, all[0].id)).toEqual(all.slice(1));
      await store.redeliverWebhookDeadLetters([all[1].id]);
      const again = (await claim(5))!;
      expect(again.deadLetterId).toBe(all[1].id);
      await store.completeWebhookDelivery(again, { kind: 'dead', error: 'failed again' });
      expect((await store.listWebhookDeadLetters(10)).map((l) => [l.id, l.lastError, l.queued])).toEqual([
        [all[0].id, 'failed 0', false],
        [all[1].id, 'failed again', false],
        [all[2].id, 'failed 2', false],
      ]);
    });

    it('stops posting to an endpoint that is gone, and hands out endpoints in turns', async () => {
      const gone = await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/gone', secret: 's' });
      const other = await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/other', secret: 's' });
      await change('a', 'red');
      await change('b', 'red');
      const first = (await claim(0))!;
      const second = (await claim(0, 'w2'))!;
      expect(new Set([first.endpointId, second.endpointId])).toEqual(new Set([gone.id, other.id]));
      const [toGone, toOther] = first.endpointId === gone.id ? [first, second] : [second, first];
      await store.completeWebhookDelivery(toGone, { kind: 'disable', error: 'HTTP 410 Gone' });
      await store.completeWebhookDelivery(toOther, { kind: 'delivered' });
      expect(await claim(1)).toMatchObject({ endpointId: other.id, attempt: 1 });
      expect((await store.listWebhookEndpoints()).find((e) => e.id === gone.id)).toMatchObject({
        enabled: false,
        lastError: 'HTTP 410 Gone',
      });
    });

    it('deletes an endpoint with its dead letters; a delivery in flight then completes to nothing', async () => {
      const endpoint = await store.createWebhookEndpoint({ url: 'http://127.0.0.1:9/hook', secret: 's' });
      await change('a', 'red');
      await change('b', 'red');
      await store.completeWebhookDelivery((await claim(0))!, { kind: 'dead', error: 'no' });
      const inFlight = (await claim(1))!;
      expect(await store.deleteWebhookEndpoint(endpoint.id)).toBe(true);
      expect(await store.deleteWebhookEndpoint(endpoint.id)).toBe(false);
      expect(await store.completeWebhookDelivery(inFlight, { kind: 'delivered' })).toBe(false);
      expect(await store.listWebhookEndpoints()).toEqual([]);
      expect(await store.listWebhookDeadLetters(10)).toEqual([]);
    });

    it('refuses a claim time that is not one, and dead letter ids that are not ids', async () => {
      await expect(store.claimWebhookDelivery('w', 'yesterday', LEASE_MS)).rejects.toThrow('now must be an ISO 8601 time, got "yesterday"');
      await expect(store.redeliverWebhookDeadLetters([1, 0])).rejects.toThrow('ids[1] must be a positive integer, got 0');
    });
  });
}
