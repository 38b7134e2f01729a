import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import express from 'express';

import { explorer, explorerBundleDir } from '../../../gateway/explorer';

const ROOT = join(__dirname, '..', '..', '..');

/** The explorer's router alone, over a bundle directory of the test's choosing. */
async function serve(bundleDir: string): Promise<{ origin: string; close(): Promise<void> }> {
  const app = express().use('/graphiql', explorer(bundleDir));
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the explorer', () => {
  let empty: string;
  let built: string;

  beforeAll(() => {
    empty = mkdtempSync(join(tmpdir(), 'explorer-missing-'));
    built = mkdtempSync(join(tmpdir(), 'explorer-built-'));
    writeFileSync(join(built, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(built, 'graphiql.js'), 'console.log(1);');
  });
  afterAll(() => {
    rmSync(empty, { recursive: true, force: true });
    rmSync(built, { recursive: true, force: true });
  });

  it('finds the bundle from the package root, from the sources and from dist/', () => {
    const bundle = join(ROOT, 'dist', 'explorer');
    expect(explorerBundleDir(join(ROOT, 'gateway', 'explorer'))).toBe(bundle);
    expect(explorerBundleDir(join(ROOT, 'dist', 'gateway', 'explorer'))).toBe(bundle);
    expect(explorerBundleDir()).toBe(bundle);
  });

  it('answers 503 with what to run when the bundle is missing', async () => {
    const server = await serve(empty);
    try {
      const page = await fetch(`${server.origin}/graphiql`);
      expect(page.status).toBe(503);
      expect(await page.text()).toMatch(/not built.*run `npm run build`/);
    } finally {
      await server.close();
    }
  });

  it('serves the page at /graphiql and its files below it, and nothing else', async () => {
    const server = await serve(built);
    try {
      const page = await fetch(`${server.origin}/graphiql`);
      expect([page.status, page.headers.get('cache-control'), await page.text()]).toEqual([200, 'no-cache', expect.stringMatching(/root/)]);
      const script = await fetch(`${server.origin}/graphiql/graphiql.js`);
      expect([script.status, script.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/javascript/)]);
      await script.text();

      const slash = await fetch(`${server.origin}/graphiql/?x=1`, { redirect: 'manual' });
      expect([slash.status, slash.headers.get('location')]).toEqual([301, '/graphiql']);
      const missing = await fetch(`${server.origin}/graphiql/missing.js`);
      expect([missing.status, await missing.text()]).toEqual([404, expect.stringMatching(/No such file/)]);
    } finally {
      await server.close();
    }
  });

  it("type-checks the page's source with its own settings (DOM, JSX)", async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'gateway', 'explorer', 'page', 'tsconfig.json')], {
      cwd: ROOT,
    });
    await expect(run.catch((error: { stdout?: string }) => Promise.reject(new Error(error.stdout)))).resolves.toBeDefined();
  });
});
