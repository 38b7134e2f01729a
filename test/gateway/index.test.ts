import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startBuiltGateway } from '../helpers/gateway-process';
import { loadReference } from '../helpers/tiny-clip';

/**
 * The real process entry (built by `npm run build`): it starts from the environment alone and,
 * on SIGTERM, finishes the request in flight before it exits 0.
 */
describe('gateway/index.ts (the process)', () => {
  let running: ChildProcess | undefined;
  let slow: Server | undefined;
  // A failing run must not leave a gateway or a server behind.
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    if (running && running.exitCode === null) running.kill('SIGKILL');
    for (const cleanup of cleanups.splice(0)) cleanup();
    if (slow?.listening) await new Promise((resolve) => slow!.close(resolve));
  });

  it('serves, then drains an in-flight request on SIGTERM and exits 0', async () => {
    // The catalogue's SQLite file goes to a directory of the test's own, never into the repository.
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-data-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const image = loadReference().images[0].bytes;
    // A slow image host: the classify request is still in flight when SIGTERM arrives, sent once
    // the gateway has asked for the image (a fixed wait would race the request on a busy machine).
    let asked!: () => void;
    const imageAsked = new Promise<void>((resolve) => (asked = resolve));
    slow = createServer((_req, res) => {
      asked();
      setTimeout(() => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(image), 700);
    });
    await new Promise<void>((resolve) => slow!.listen(0, '127.0.0.1', resolve));
    const slowPort = (slow.address() as AddressInfo).port;

    let log = '';
    const gateway = await startBuiltGateway(
      {
        // HOST unset: all interfaces, and the log must still print a URL a person can open.
        HOST: '',
        LOCAL_WORKERS: '1',
        IMAGE_FETCH_ALLOW_NETWORKS: '127.0.0.1/32',
        CLIP_MODEL_DIR: '',
        DATA_DIR: dataDir,
      },
      { onSpawn: (child) => (running = child), onLog: (text) => (log += text) },
    );
    const origin = gateway.origin;
    expect(origin).toMatch(/^http:\/\/localhost:\d+$/);
    expect(log).toMatch(/Neither CLIP_MODEL nor CLIP_MODEL_DIR is set: serving the bundled tiny CLIP/);

    // The most labels a classify may have: every prompt listens for the client hanging up, and
    // that must not look like a leak (Node warns on stderr past an AbortSignal's listener bound).
    const labels = Array.from({ length: 1000 }, (_, i) => `shape number ${i}`);
    const many = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'query($images: [ImageInput!]!, $labels: [String!]!) { classify(images: $images, labels: $labels, topK: 1) { labels { label } } }',
        variables: { images: [{ base64: image.toString('base64') }], labels },
      }),
    });
    expect(((await many.json()) as { errors?: unknown }).errors).toBeUndefined();

    const inFlight = fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ classify(images: [{ url: "http://127.0.0.1:${slowPort}/a.jpg" }], labels: ["red circle", "blue star"]) { labels { label } } }`,
      }),
    });
    await imageAsked;
    gateway.child.kill('SIGTERM');

    const response = await inFlight;
    expect(await response.json()).toEqual({ data: { classify: [{ labels: [{ label: 'red circle' }, { label: 'blue star' }] }] } });
    expect((await gateway.exited).code).toBe(0);
    expect(log).toMatch(/SIGTERM: no longer accepting requests/);
    expect(log).toMatch(/stopped/);
    expect(log).not.toMatch(/MaxListenersExceeded|Warning/);
    await expect(fetch(`${origin}/healthz`)).rejects.toThrow();
  });
});
