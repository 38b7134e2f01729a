import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openPostgresStore, openSqliteStore, type CatalogueStore, type TagRow } from '../../../gateway/store';
import { WebhookDeliveries } from '../../../gateway/webhooks';
import { startPostgres, type PostgresServer } from '../../helpers/postgres';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

/**
 * Two gateways' delivery workers on one store, on SQLite (two connections to one file) and on
 * PostgreSQL (PGlite's real engine): every endpoint gets every change once and in seq order, with
 * no crash to make it twice, whichever worker claims which delivery.
 */

const SECRET = 'shared-store-secret-0123456789';
const CHANGES = 12;
const OPTIONS = { pollMs: 10, timeoutMs: 5_000, leaseMs: 30_000, retryBaseMs: 5, retryMaxMs: 20, concurrency: 2 };

function tag(productId: string, label: string): TagRow {
  return {
    productId,
    facet: 'colour',
    label,
    score: 0.9,
    similarity: 0.3,
    source: 'auto',
    needsReview: false,
    model: 'm|fp32',
    taxonomyVersion: 1,
  };
}

async function deliverAcross(stores: [CatalogueStore, CatalogueStore], receivers: WebhookReceiver[]): Promise<void> {
  const [first] = stores;
  await first.upsertProducts(
    ['a', 'b'].map((id) => ({
      id,
      title: id,
      description: null,
      attributes: null,
      imageHashes: [id.repeat(64)],
      imageUrls: [null],
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
    })),
  );
  for (const receiver of receivers) await first.createWebhookEndpoint({ url: receiver.url, secret: SECRET });
  const workers = stores.map((store) => new WebhookDeliveries(store, OPTIONS));
  for (const worker of workers) worker.start();
  try {
    for (let i = 0; i < CHANGES; i++) await first.replaceAutoTags([i % 2 ? 'b' : 'a'], [tag(i % 2 ? 'b' : 'a', `label-${i}`)]);
    const seqs = (await first.tagChanges(undefined, 100)).map((c) => c.seq);
    expect(seqs).toHaveLength(CHANGES);
    for (const receiver of receivers) {
      const got = await receiver.waitFor(CHANGES);
      expect(got.map((d) => d.event.seq)).toEqual(seqs);
      expect(got.every((d) => d.verified && d.headers['x-clip-gateway-delivery-attempt'] === '1')).toBe(true);
    }
    const deadline = Date.now() + 10_000;
    while ((await first.listWebhookEndpoints()).some((e) => e.pending > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await first.listWebhookEndpoints()).map((e) => e.pending)).toEqual(receivers.map(() => 0));
    // Nothing was posted twice: each receiver has each change once.
    for (const receiver of receivers) expect(receiver.received).toHaveLength(CHANGES);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

describe('webhook workers of two gateways on one store', () => {
  let receivers: WebhookReceiver[] = [];
  beforeEach(async () => {
    receivers = [await startWebhookReceiver(() => SECRET), await startWebhookReceiver(() => SECRET)];
  });
  afterEach(async () => {
    await Promise.all(receivers.map((r) => r.close()));
  });

  it('deliver every change once and in order on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webhooks-shared-'));
    const path = join(dir, 'catalogue.sqlite');
    const stores: [CatalogueStore, CatalogueStore] = [await openSqliteStore({ path }), await openSqliteStore({ path })];
    try {
      await stores[0].migrate();
      await deliverAcross(stores, receivers);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('on PostgreSQL', () => {
    let server: PostgresServer;
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterAll(() => server?.stop());

    it('deliver every change once and in order', async () => {
      // One connection for both workers: PGlite interleaves the messages of concurrent connections (see test/helpers/postgres.ts),
      // so the two workers' transactions take turns on it, as two gateways' would on the database's row locks.
      const store = await openPostgresStore({ url: server.url, schema: 'webhooks_shared', poolSize: 1 });
      try {
        await store.migrate();
        await deliverAcross([store, store], receivers);
      } finally {
        await store.close();
      }
    });
  });
});
