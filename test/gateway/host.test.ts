import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { SANDBOX_OFF, SEND_JSON, UPLOAD_NEEDS_PREFLIGHT } from '../../gateway/host';
import { startGateway, type RunningGateway } from '../helpers/gateway';

const CLASSIFY = `query Classify($images: [ImageInput!]!, $labels: [String!]!) {
  classify(images: $images, labels: $labels) { labels { label score } }
}`;
const EMBED = `query Embed($inputs: [MediaInput!]!) { embed(inputs: $inputs) { vector dim model } }`;
const MODEL = '{ model { name } }';
/** What a browser sends when it opens a URL. */
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

/** The answer to a request Apollo's CSRF prevention refuses, in one sentence. */
function refusal(message: string) {
  return { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] };
}

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

  it('serves GraphiQL at /graphiql, with every script and stylesheet from the gateway itself', async () => {
    const page = await fetch(`${gw.origin}/graphiql`);
    const html = await page.text();
    if (page.status !== 200) throw new Error(`/graphiql answered ${page.status}: ${html}`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(html).not.toMatch(/https?:\/\//);
    const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!);
    const styles = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    for (const [refs, type] of [
      [scripts, /^text\/javascript/],
      [styles, /^text\/css/],
    ] as const) {
      for (const ref of refs) {
        const url = new URL(ref, `${gw.origin}/graphiql`);
        expect(url.origin).toBe(gw.origin);
        const asset = await fetch(url);
        expect([url.pathname, asset.status, asset.headers.get('content-type')]).toEqual([url.pathname, 200, expect.stringMatching(type)]);
        expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      }
    }
    // Monaco's workers, which the page starts from its script's address.
    for (const worker of ['editor', 'json', 'graphql']) {
      const asset = await fetch(`${gw.origin}/graphiql/${worker}.worker.js`);
      expect([worker, asset.status, asset.headers.get('content-type')]).toEqual([worker, 200, expect.stringMatching(/^text\/javascript/)]);
      await asset.arrayBuffer();
    }
  });

  it('sends a browser opening / to the web console, and anyone else the list of endpoints', async () => {
    const browser = await fetch(`${gw.origin}/`, { headers: BROWSER, redirect: 'manual' });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('/console');

    for (const accept of ['application/json', '*/*']) {
      const index = await fetch(`${gw.origin}/`, { headers: { accept } });
      expect(index.status).toBe(200);
      const { endpoints } = (await index.json()) as { endpoints: Record<string, string> };
      expect(Object.keys(endpoints)).toEqual(['/graphql', '/console', '/graphiql', '/healthz', '/readyz', '/metrics']);
      expect(endpoints['/graphql']).toMatch(/Sandbox/);
    }
  });

  it('answers what Apollo would refuse as a cross-site forgery in one sentence, and still refuses it', async () => {
    const url = `${gw.origin}/graphql`;
    const body = JSON.stringify({ query: MODEL });
    const get = `${url}?query=${encodeURIComponent(MODEL)}`;
    for (const [what, request] of [
      ['a POST without a content type', fetch(url, { method: 'POST', body })],
      ['a POST of text/plain', fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body })],
      ['a GET without a preflight header', fetch(get)],
      ['a GET with an empty preflight header', fetch(get, { headers: { 'apollo-require-preflight': '' } })],
    ] as const) {
      const response = await request;
      expect([what, response.status, await response.json()]).toEqual([what, 400, refusal(SEND_JSON)]);
    }
    // A form is how files are uploaded (the GraphQL multipart request spec): its sentence names the header uploads need.
    const form = await fetch(url, { method: 'POST', headers: { 'content-type': 'Multipart/Form-Data; boundary=x' }, body });
    expect([form.status, await form.json()]).toEqual([400, refusal(UPLOAD_NEEDS_PREFLIGHT)]);

    // What Apollo lets through its CSRF check is still Apollo's to answer.
    const preflighted = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-apollo-operation-name': 'M' },
      body,
    });
    expect(preflighted.status).toBe(400);
    expect(JSON.stringify(await preflighted.json())).toMatch(/POST body missing/);
    const viaGet = await fetch(get, { headers: { 'apollo-require-preflight': 'true' } });
    expect(await viaGet.json()).toEqual({ data: { model: { name: 'tiny-clip' } } });
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

describe('the gateway over HTTP with Sandbox off', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway({ sandbox: false });
  });
  afterAll(() => gw.stop());

  it('tells a browser opening /graphql that Sandbox is off and where the explorer is', async () => {
    const page = await fetch(`${gw.origin}/graphql`, { headers: BROWSER });
    expect(page.status).toBe(400);
    expect(await page.json()).toEqual(refusal(SANDBOX_OFF));
    expect(SANDBOX_OFF).toMatch(/Sandbox is off.*\/graphiql/);

    // The explorer is the gateway's own, on either way; the index no longer offers Sandbox.
    const explorer = await fetch(`${gw.origin}/graphiql`, { headers: BROWSER });
    expect(explorer.status).toBe(200);
    expect(await explorer.text()).toMatch(/<div id="root">/);
    const { endpoints } = (await (await fetch(`${gw.origin}/`)).json()) as { endpoints: Record<string, string> };
    expect(endpoints['/graphql']).not.toMatch(/Sandbox/);
  });

  it('still answers queries sent as JSON', async () => {
    const response = await gw.graphql<{ model: { name: string } }>(MODEL);
    expect(response.data).toEqual({ model: { name: 'tiny-clip' } });
  });
});
