import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { startGateway, type RunningGateway } from '../helpers/gateway';

const CLASSIFY = `query Classify($images: [ImageInput!]!, $labels: [String!]!) {
  classify(images: $images, labels: $labels) { labels { label score } }
}`;
const EMBED = `query Embed($inputs: [MediaInput!]!) { embed(inputs: $inputs) { vector dim model } }`;

/** What only HTTP has: routes, body limits, Sandbox, and clients that hang up. The resolvers are tested in schema/. */
describe('the gateway over HTTP', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway({
      fetch: { timeoutMs: 5_000, maxRedirects: 3, allowNetworks: ['127.0.0.1/32'] },
      bodyLimitBytes: 2 << 20,
    });
  });
  afterAll(() => gw.stop());

  it('answers /healthz, /readyz and /metrics', async () => {
    expect(await (await fetch(`${gw.origin}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${gw.origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', backend: 'local' });
    const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
    for (const name of [
      'clip_gateway_batch_size',
      'clip_gateway_queue_delay_seconds',
      'clip_gateway_inference_seconds',
      'clip_gateway_cache_hit_ratio',
      'clip_gateway_graphql_errors_total',
    ]) {
      expect(metrics).toContain(`# TYPE ${name}`);
    }
  });

  it('serves Apollo Sandbox to a browser opening /graphql', async () => {
    const page = await fetch(`${gw.origin}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/embeddable-sandbox/);
  });

  it('stops fetching an image when the client hangs up', async () => {
    let closedAfterMs = -1;
    const started = performance.now();
    const stalled = createServer((req) => {
      // Never answers: only the gateway giving up closes this connection.
      req.socket.once('close', () => (closedAfterMs = performance.now() - started));
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/slow.png`;
    const request = fetch(`${gw.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: CLASSIFY, variables: { images: [{ url }], labels: ['red circle'] } }),
      signal: AbortSignal.timeout(300),
    });
    await expect(request).rejects.toThrow();
    for (let i = 0; i < 40 && closedAfterMs < 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    stalled.closeAllConnections();
    await new Promise((resolve) => stalled.close(resolve));
    // The gateway's own fetch deadline here is 5 s; hanging up must end the fetch well before.
    expect(closedAfterMs).toBeGreaterThan(0);
    expect(closedAfterMs).toBeLessThan(2_000);
  });

  it('refuses an oversized body and a broken one with clear errors, and keeps serving', async () => {
    const huge = await fetch(`${gw.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: EMBED, variables: { inputs: [{ imageBase64: 'A'.repeat(3 << 20) }] } }),
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({
      errors: [
        {
          message: expect.stringMatching(/^The request body is \d+ bytes; the limit is 2097152 bytes\.$/),
          extensions: { code: 'INPUT_TOO_LARGE' },
        },
      ],
    });

    const bad = await fetch(`${gw.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(bad.status).toBe(400);

    const after = await gw.graphql<{ embed: unknown[] }>(EMBED, { inputs: [{ text: 'still here' }] });
    expect(after.data!.embed).toHaveLength(1);
  });
});
