import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { startBuiltGateway, type TestGateway } from '../../helpers/gateway-process';
import { loadReference } from '../../helpers/tiny-clip';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

const SECRET = 'kill-nine-secret-0123456789';

/**
 * At least once across kill -9: a real gateway process posts a tag change's event, the receiver
 * has it but holds its answer, and the gateway is SIGKILLed before it can record the delivery. A
 * new process on the same DATA_DIR takes the claim over once its lease has run out and posts the
 * same event again: the same event id, the next attempt, and then the endpoint is done with it.
 */
describe('a webhook delivery across SIGKILL (the process)', () => {
  const running: ChildProcess[] = [];
  let dataDir: string;
  let receiver: WebhookReceiver | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'gateway-webhooks-'));
  });

  afterEach(async () => {
    for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function start(): Promise<TestGateway> {
    return startBuiltGateway(
      {
        LOCAL_WORKERS: '1',
        CLIP_MODEL_DIR: '',
        DATA_DIR: dataDir,
        API_KEYS: '',
        WEBHOOK_POLL_MS: '50',
        WEBHOOK_TIMEOUT_MS: '2000',
        // A claim outlives its POST's deadline; the next process takes it over once this has passed.
        WEBHOOK_LEASE_MS: '2500',
        WEBHOOK_RETRY_BASE_MS: '50',
        WEBHOOK_RETRY_MAX_MS: '200',
      },
      { onSpawn: (child) => running.push(child) },
    );
  }

  it('is posted again by the next process on the same DATA_DIR, with the same event id', async () => {
    let holding = true;
    let release: (status: number) => void = () => undefined;
    receiver = await startWebhookReceiver(
      () => SECRET,
      () => (holding ? new Promise<number>((resolve) => (release = resolve)) : 200),
    );
    const first = await start();
    await first.graphql(
      `mutation { taxonomySet(facets: [{ name: "kind", labels: ["red circle", "blue star", "green square"] }]) { userErrors { message } } }`,
    );
    const made = await first.graphql<{ webhookEndpointCreate: { endpoint: { id: string }; userErrors: unknown[] } }>(
      'mutation ($url: String!, $secret: String) { webhookEndpointCreate(url: $url, secret: $secret) { endpoint { id } userErrors { message } } }',
      { url: receiver.url, secret: SECRET },
    );
    expect(made.webhookEndpointCreate.userErrors).toEqual([]);
    const upserted = await first.graphql<{ productsUpsert: { userErrors: unknown[] } }>(
      'mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }',
      { p: [{ id: 'p1', images: [{ base64: loadReference().images[0].bytes.toString('base64') }] }] },
    );
    expect(upserted.productsUpsert.userErrors).toEqual([]);

    const [held] = await receiver.waitFor(1);
    await first.kill();
    expect(held.verified).toBe(true);
    expect(held.headers['x-clip-gateway-delivery-attempt']).toBe('1');
    // The killed process never recorded the delivery: its endpoint is still before the change, under its claim.
    const db = new Database(join(dataDir, 'catalogue.sqlite'), { readonly: true });
    try {
      const row = db.prepare('SELECT delivered_seq, attempts, claim_token FROM webhook_endpoints').get() as Record<string, unknown>;
      expect(row).toEqual({ delivered_seq: held.event.seq - 1, attempts: 1, claim_token: expect.any(String) });
    } finally {
      db.close();
    }
    holding = false;
    release(200); // the killed gateway's connection is gone: this answer reaches no one

    const second = await start();
    const [, again] = await receiver.waitFor(2);
    expect(again.verified).toBe(true);
    expect(again.event.id).toBe(held.event.id);
    expect(again.headers['x-clip-gateway-event-id']).toBe(held.event.id);
    expect(again.headers['x-clip-gateway-delivery-attempt']).toBe('2');
    expect(again.body).toBe(held.body);

    const ENDPOINTS = '{ webhookEndpoints { pending attempts lastError deadLetters } }';
    let endpoints: { pending: number }[];
    const deadline = Date.now() + 10_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 50));
      endpoints = (await second.graphql<{ webhookEndpoints: { pending: number }[] }>(ENDPOINTS)).webhookEndpoints;
    } while (endpoints[0].pending > 0 && Date.now() < deadline);
    expect(endpoints).toEqual([{ pending: 0, attempts: 0, lastError: null, deadLetters: 0 }]);
    expect(receiver.received).toHaveLength(2);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
