import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { consoleBundleDir } from '../../../gateway/console';
import { OPERATIONS } from '../../../gateway/console/page/operations';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

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

describe("the console's persisted query list", () => {
  const MANIFEST = join(ROOT, 'dist', 'console', 'persisted-query-manifest.json');
  type Manifest = { format: string; version: number; operations: { id: string; name: string; type: string; body: string }[] };
  const manifest = () => JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;

  it("is the page's operations, each by the SHA-256 of its text, in Apollo's manifest format", () => {
    const built = manifest();
    expect([built.format, built.version]).toEqual(['apollo-persisted-query-manifest', 1]);
    expect(built.operations.map(({ name, body }) => [name, body])).toEqual(Object.entries(OPERATIONS));
    for (const { id, body, type } of built.operations) {
      expect(id).toBe(createHash('sha256').update(body).digest('hex'));
      expect(body.startsWith(`${type} `)).toBe(true);
    }
  });

  it('lets a gateway that runs only its operations (PERSISTED_QUERIES=safelist) serve the console, uploads included, and nothing else', async () => {
    const gateway = await startGateway({ sandbox: false, persistedQueries: { mode: 'safelist', manifest: MANIFEST } });
    const post = async (body: object) => {
      const response = await fetch(`${gateway.origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] };
    };
    try {
      for (const { id, name } of manifest().operations) {
        // By hash alone, as a client with Apollo's persisted query link sends it (variables left out: a
        // refusal of the operation itself would come before any complaint about them).
        const answer = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: id } } });
        const codes = (answer.errors ?? []).map((e) => e.extensions?.code);
        expect([name, codes.filter((code) => code === 'PERSISTED_QUERY_NOT_FOUND' || code === 'QUERY_NOT_IN_SAFELIST')]).toEqual([
          name,
          [],
        ]);
      }
      expect((await post({ query: OPERATIONS.Model })).data?.model).toMatchObject({ name: 'tiny-clip' });
      // An upload is the same listed operation, sent as the console sends files: a multipart request.
      const form = new FormData();
      form.append(
        'operations',
        JSON.stringify({ query: OPERATIONS.Classify, variables: { images: [{ file: null }], labels: ['a star'] } }),
      );
      form.append('map', JSON.stringify({ 0: ['variables.images.0.file'] }));
      form.append('0', new Blob([readFileSync(join(TINY_CLIP_DIR, 'images', 'tall-blue-star.png'))], { type: 'image/png' }), 'star.png');
      const upload = await fetch(`${gateway.origin}/graphql`, {
        method: 'POST',
        headers: { 'apollo-require-preflight': 'true' },
        body: form,
      });
      const classified = (await upload.json()) as { data?: { classify: { labels: { label: string }[] }[] }; errors?: unknown };
      expect([upload.status, classified.errors, classified.data?.classify[0].labels[0].label]).toEqual([200, undefined, 'a star']);
      // Served beside the page, for whoever assembles a deployment's list.
      expect(await (await fetch(`${gateway.origin}/console/persisted-query-manifest.json`)).json()).toEqual(manifest());
      const other = await post({ query: 'mutation { taxonomySet(facets: []) { userErrors { message } } }' });
      expect(other.errors?.map((e) => e.extensions?.code)).toEqual(['QUERY_NOT_IN_SAFELIST']);
    } finally {
      await gateway.stop();
    }
  });
});
