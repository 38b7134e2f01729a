import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { decodeResults, decodeResultsV2, encodeRequest, encodeRequestV2, WIRE_V2_CONTENT_TYPE } from '../../../functions/protocol';
import { builtEntry } from '../../helpers/build';
import { cosine, loadReference } from '../../helpers/tiny-clip';
import { FakeHub, tinyClipRepo } from '../hub/fake-hub';
import { spawnFunction, type SpawnedFunction } from './function-process';

const reference = loadReference();
const text = reference.texts[0];
const HTTP_ENTRY = () => builtEntry('functions', 'handlers', 'http.js');

/**
 * A door in front of the fake hub: every request waits until `open()`, so a function pulling its
 * model from the hub stays in its loading state for exactly as long as the test needs.
 */
async function heldHub(target: string) {
  const waiting: (() => void)[] = [];
  let opened = false;
  let asked!: () => void;
  const firstRequest = new Promise<void>((resolve) => (asked = resolve));
  const server = createServer((req, res) => {
    asked();
    const forward = () => {
      const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (error) => res.destroy(error));
      req.pipe(upstream);
    };
    if (opened) forward();
    else waiting.push(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    firstRequest,
    open() {
      opened = true;
      for (const forward of waiting.splice(0)) forward();
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** POST /invocations with the whole body declared but only `sent` bytes of it written: an upload still in flight. */
function partialInvocation(port: number, body: Buffer, sent: number) {
  const req = request({
    host: '127.0.0.1',
    port,
    path: '/invocations',
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  const answer = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
  req.write(body.subarray(0, sent));
  return { answer, finish: () => req.end(body.subarray(sent)) };
}

/** Invocations in flight, as the function's liveness route reports them. */
const inFlight = async (port: number) =>
  ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { inFlight: number }).inFlight;

const textBody = () => Buffer.from(JSON.stringify(encodeRequest({ kind: 'text', items: [text.text] })));

describe('functions/handlers/http.js (the process)', () => {
  const running: SpawnedFunction[] = [];
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const start = async (...args: Parameters<typeof spawnFunction>) => {
    const fn = await spawnFunction(...args);
    running.push(fn);
    return fn;
  };
  afterEach(async () => {
    for (const fn of running.splice(0)) fn.kill();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('listens before the model loads: /ping 204 then 200, /readyz 503 then 200, invocations 503 with Retry-After meanwhile', async () => {
    const hub = await new FakeHub({ 'test/tiny-clip': tinyClipRepo() }).start();
    const held = await heldHub(hub.origin);
    const cache = mkdtempSync(join(tmpdir(), 'function-hf-cache-'));
    cleanups.push(
      () => held.close(),
      () => hub.stop(),
      () => rmSync(cache, { recursive: true, force: true }),
    );
    const fn = await start(process.execPath, [HTTP_ENTRY()], {
      PORT: '0',
      CLIP_MODEL: 'test/tiny-clip',
      HF_ENDPOINT: held.origin,
      HF_HUB_CACHE: cache,
      HF_TOKEN_PATH: join(cache, 'no-token'),
    });
    // The function has asked the hub for its model, and the hub does not answer: it is loading.
    await held.firstRequest;
    expect(await fn.status('/ping')).toBe(204);
    expect(await fn.status('/readyz')).toBe(503);
    const early = await fetch(`http://127.0.0.1:${fn.port}/invocations`, { method: 'POST', body: textBody() });
    expect([early.status, early.headers.get('retry-after')]).toEqual([503, '5']);

    held.open();
    expect(await fn.pingUntilNot(204)).toBe(200);
    expect(await fn.status('/readyz')).toBe(200);
    const answer = await fetch(`http://127.0.0.1:${fn.port}/invocations`, { method: 'POST', body: textBody() });
    const [item] = decodeResults(await answer.json(), 1, 64);
    expect(item.ok && cosine(item.vector, text.embedding)).toBeGreaterThanOrEqual(0.9999);
    expect(fn.log()).toMatch(/CLIP function ready: test\/tiny-clip \(64 dims, cpu\)/);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(0);
  });

  it('serves the health routes on PORT_HEALTH too, and invocations only on PORT', async () => {
    const fn = await start(process.execPath, [HTTP_ENTRY()], { PORT: '0', PORT_HEALTH: '0' });
    expect(fn.healthPort).toEqual(expect.any(Number));
    expect(fn.healthPort).not.toBe(fn.port);
    expect(await fn.pingUntilNot(204)).toBe(200);
    expect(await Promise.all(['/ping', '/readyz', '/healthz'].map((path) => fn.status(path, fn.healthPort)))).toEqual([200, 200, 200]);
    const elsewhere = await fetch(`http://127.0.0.1:${fn.healthPort}/invocations`, { method: 'POST', body: textBody() });
    expect(elsewhere.status).toBe(404);
    const binary = await fetch(`http://127.0.0.1:${fn.port}/invocations`, {
      method: 'POST',
      headers: { 'content-type': WIRE_V2_CONTENT_TYPE },
      body: encodeRequestV2({ kind: 'crops', items: [reference.images[0].crop] }),
    });
    const [item] = decodeResultsV2(new Uint8Array(await binary.arrayBuffer()), 1, 64);
    expect(item.ok && cosine(item.vector, reference.images[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(0);
  });

  it('on SIGTERM stops accepting, finishes the invocation in flight and exits 0, well within 8 s', async () => {
    const fn = await start(process.execPath, [HTTP_ENTRY()], { PORT: '0' });
    expect(await fn.pingUntilNot(204)).toBe(200);
    const body = textBody();
    const upload = partialInvocation(fn.port, body, 10);
    // In flight from the server's side: it has the request and waits for the rest of its body.
    while ((await inFlight(fn.port)) !== 1);
    const signalled = Date.now();
    fn.child.kill('SIGTERM');
    await fn.logged(/SIGTERM: stopping; 1 invocation in flight/);
    expect(await fn.status('/ping')).toBeUndefined(); // no new connections
    upload.finish();
    const answer = await upload.answer;
    expect(answer.status).toBe(200);
    const [item] = decodeResults(JSON.parse(answer.body.toString()), 1, 64);
    expect(item.ok && cosine(item.vector, text.embedding)).toBeGreaterThanOrEqual(0.9999);
    expect(await fn.exited).toBe(0);
    // A generous bound on purpose: the contract is Cloud Run's 10 s, less a margin.
    expect(Date.now() - signalled).toBeLessThan(8_000);
    expect(fn.log()).toMatch(/stopped: 1 invocation finished\n$/);
  });

  it('cuts what is still running when the grace period ends, and says so in its exit', async () => {
    const fn = await start(process.execPath, [HTTP_ENTRY()], { PORT: '0', SHUTDOWN_GRACE_MS: '200' });
    expect(await fn.pingUntilNot(204)).toBe(200);
    const upload = partialInvocation(fn.port, textBody(), 10);
    const outcome = upload.answer.then(
      (answer) => `answered ${answer.status}`,
      (error: Error) => error.message,
    );
    while ((await inFlight(fn.port)) !== 1);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(1);
    expect(await outcome).toBe('socket hang up');
    expect(fn.log()).toMatch(/stopped: 1 invocation still running after 200 ms cut\n$/);
  });

  it('exits non-zero naming a model directory that does not exist', async () => {
    const missing = join(tmpdir(), 'no-such-clip-model');
    const fn = await start(process.execPath, [HTTP_ENTRY()], { PORT: '0', CLIP_MODEL_DIR: missing });
    expect(await fn.exited).toBe(1);
    expect(fn.log()).toMatch(
      new RegExp(
        `\nThe CLIP function could not start: .*${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\nbroken: stopping; 0 invocations in flight\n`,
      ),
    );
    expect(fn.log()).toMatch(/stopped: 0 invocations finished; exit 1\n$/);
  });

  it('exits non-zero naming why when a GPU is required and this host has none', async () => {
    // The machines these tests run on have no CUDA: the real refusal, not a stand-in.
    const fn = await start(process.execPath, [HTTP_ENTRY()], { PORT: '0', CLIP_DEVICE: 'cuda', CLIP_REQUIRE_GPU: 'true' });
    expect(await fn.exited).toBe(1);
    expect(fn.log()).toMatch(/\nThe CLIP function could not start: .*CLIP_REQUIRE_GPU=true.*\n/);
  });

  it('names a bad port setting', async () => {
    for (const [name, value] of [
      ['PORT', 'eighty'],
      ['SAGEMAKER_BIND_TO_PORT', '70000'],
      ['PORT_HEALTH', '-1'],
    ]) {
      const fn = spawnFunction(process.execPath, [HTTP_ENTRY()], { [name]: value });
      await expect(fn).rejects.toThrow(`The CLIP function could not start: ${name} must be an integer from 0 to 65535, got "${value}"`);
    }
  });

  it('on a device failure answers 500 naming it and exits non-zero, so that the platform replaces the worker', async () => {
    const fixture = join(__dirname, 'device-failing-function.ts');
    const fn = await start(process.execPath, ['--import', 'tsx', fixture], { PORT: '0', FAIL_ON_EMBED: '2' });
    expect(await fn.pingUntilNot(204)).toBe(200);
    const post = () => fetch(`http://127.0.0.1:${fn.port}/invocations`, { method: 'POST', body: textBody() });
    expect((await post()).status).toBe(200);
    const failed = await post();
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { message: string }).message).toMatch(
      /^The function's GPU failed \(CUDA failure 700: an illegal memory access/,
    );
    expect(await fn.exited).toBe(1);
    // The one in flight is the failed invocation itself, answering its 500.
    expect(fn.log()).toMatch(
      /\ninvocation failed, the device failed: CUDA failure 700: .*; this worker is leaving\nbroken: stopping; 1 invocation in flight\nstopped: 1 invocation finished; exit 1\n$/,
    );
  });
});
