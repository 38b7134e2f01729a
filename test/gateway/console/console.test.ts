import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { consoleBundleDir } from '../../../gateway/console';
import { startGateway, type RunningGateway } from '../../helpers/gateway';

const ROOT = join(__dirname, '..', '..', '..');

describe('the web console, served', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ sandbox: false });
  });
  afterAll(() => gw.stop());

  it('finds the bundle from the package root, from the sources and from dist/', () => {
    const bundle = join(ROOT, 'dist', 'console');
    expect(consoleBundleDir(join(ROOT, 'gateway', 'console'))).toBe(bundle);
    expect(consoleBundleDir(join(ROOT, 'dist', 'gateway', 'console'))).toBe(bundle);
  });

  it('serves the page at /console with its one script and stylesheet, all from the gateway', async () => {
    const page = await fetch(`${gw.origin}/console`);
    const html = await page.text();
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(html).not.toMatch(/https?:\/\//);
    const refs = [...html.matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)].map((m) => m[1]!);
    expect(refs.sort()).toEqual(['/console/console.css', '/console/console.js']);
    for (const [ref, type] of [
      ['/console/console.js', /^text\/javascript/],
      ['/console/console.css', /^text\/css/],
    ] as const) {
      const asset = await fetch(`${gw.origin}${ref}`);
      expect([asset.status, asset.headers.get('content-type')]).toEqual([200, expect.stringMatching(type)]);
      const text = await asset.text();
      // Bundled: nothing imported at run time, from here or elsewhere.
      expect(text).not.toMatch(/\bimport\s*\(?\s*["']https?:/);
    }
    // The console's build is part of npm run build: the bundle is the page's source, built.
    expect(readFileSync(join(consoleBundleDir(), 'index.html'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'gateway', 'console', 'page', 'index.html'), 'utf8'),
    );
    const missing = await fetch(`${gw.origin}/console/missing.js`);
    expect([missing.status, await missing.text()]).toEqual([
      404,
      expect.stringMatching(/^No such file in the bundle of the web console\.$/m),
    ]);
  });

  it("type-checks the page's source with its own settings (DOM)", async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'gateway', 'console', 'page', 'tsconfig.json')], {
      cwd: ROOT,
    });
    await expect(run.catch((error: { stdout?: string }) => Promise.reject(new Error(error.stdout)))).resolves.toBeDefined();
  });
});
