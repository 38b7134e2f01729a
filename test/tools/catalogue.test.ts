import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { configFromEnv } from '../../gateway/config';
import { builtEntry } from '../helpers/build';
import { runBuiltTool } from '../helpers/built-tool';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { exportOnLoopback } from '../helpers/shop-export';
import { drawShape, loadReference, seededRandom } from '../helpers/tiny-clip';

/** `npm run catalogue -- ARGS`, built. */
const run = (args: string[]) => runBuiltTool('catalogue.js', args);

/** `npm run catalogue -- import FILE` against a real gateway on loopback. */
describe('tools/catalogue.ts import', () => {
  let gw: RunningGateway;
  let dir: string;
  const reference = loadReference();

  beforeAll(async () => {
    gw = await startGateway();
    dir = mkdtempSync(join(tmpdir(), 'catalogue-import-'));
  });
  afterAll(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const productIds = async () => {
    const { data } = await gw.graphql<{ products: { edges: { node: { id: string } }[] } }>(
      '{ products(first: 100) { edges { node { id } } } }',
    );
    return data!.products.edges.map((e) => e.node.id).sort();
  };

  async function writeProducts(name: string, count: number): Promise<string> {
    const random = seededRandom(count);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const png = await drawShape(reference, reference.classes[i % reference.classes.length], random);
      lines.push(
        JSON.stringify({ id: `${name}-${i}`, title: `Product ${i}`, images: [`data:image/png;base64,${png.toString('base64')}`] }),
      );
    }
    const file = join(dir, `${name}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  it('imports a file in batches, lists the products it could not import, and writes them to a file', async () => {
    const file = join(dir, 'mixed.jsonl');
    const good = await writeProducts('good', 3);
    writeFileSync(
      file,
      `${readFileSync(good, 'utf8')}{"id": "broken",\n${JSON.stringify({ id: 'bad-image', images: ['data:image/png;base64,!!!'] })}\n`,
    );
    const { code, stdout } = await run(['import', file, '--url', `${gw.origin}/graphql`, '--batch', '2']);
    expect(code).toBe(1);
    expect(stdout).toContain('3 imported, 2 failed, of 5 products');
    expect(stdout).toContain('\n  line 4: not valid JSON\n');
    expect(stdout).toMatch(/line 5 \(bad-image\): /);
    expect(readFileSync(`${file}.failures.jsonl`, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(await productIds()).toEqual(expect.arrayContaining(['good-0', 'good-1', 'good-2']));
    expect(existsSync(`${file}.progress.json`)).toBe(false);
  });

  it('names each line it cannot read once, with what is wrong with it, on screen and in the failures file', async () => {
    const file = join(dir, 'unreadable.jsonl');
    const lines = [
      '{"id": "broken",',
      '[1, 2]',
      '{"title": "no id", "images": ["https://example.com/a.png"]}',
      '{"id": "no-images", "images": []}',
      '{"id": "odd-image", "images": [42]}',
      '{"id": "listed-attributes", "images": ["https://example.com/a.png"], "attributes": [1]}',
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { code, stdout } = await run(['import', file, '--url', `${gw.origin}/graphql`]);
    expect(code).toBe(1);
    expect(stdout).toContain('0 imported, 6 failed, of 6 products');
    const expected = [
      { line: 1, message: 'not valid JSON' },
      { line: 2, message: 'not a JSON object' },
      { line: 3, message: 'id is missing' },
      { line: 4, id: 'no-images', message: 'images must be a non-empty list' },
      { line: 5, id: 'odd-image', message: 'each image must be a URL, a data: URI, or {"url"} / {"base64"}' },
      { line: 6, id: 'listed-attributes', message: 'attributes must be a JSON object' },
    ];
    for (const { line, id, message } of expected) expect(stdout).toContain(`\n  line ${line}${id ? ` (${id})` : ''}: ${message}\n`);
    expect(stdout).not.toMatch(/line \d+(?: \([^)]*\))?: line \d+/);
    const failures = readFileSync(`${file}.failures.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(failures).toEqual(expected);
  });

  it('resumes after the products a previous run already sent', async () => {
    const file = await writeProducts('resume', 5);
    const { size, mtimeMs } = statSync(file);
    // As a run stopped after its first two batches of two would have left it.
    writeFileSync(`${file}.progress.json`, JSON.stringify({ file: { size, mtimeMs }, done: 4, imported: 4, failed: 0 }));
    const { code, stdout, stderr } = await run(['import', file, '--url', `${gw.origin}/graphql`, '--batch', '2']);
    expect(code).toBe(0);
    expect(stderr).toContain('Resuming after 4 products');
    expect(stdout).toContain('5 imported, 0 failed, of 5 products');
    const ids = await productIds();
    expect(ids).toContain('resume-4');
    expect(ids).not.toContain('resume-0');
  });

  /**
   * A fixture whose image URLs on `origin` are served from this machine instead (a drawing for each
   * path), and a gateway allowed to fetch from it: a shop's export with its CDN on loopback.
   */
  async function onLoopback(
    fixture: string,
    origin: RegExp,
    use: (file: string, shop: RunningGateway, host: string, served: string[]) => Promise<void>,
    options: { gifs?: string[]; delayMs?: number } = {},
  ) {
    const shopExport = await exportOnLoopback(fixture, origin, dir, options);
    const shop = await startGateway({ fetch: { ...configFromEnv({}).fetch, allowNetworks: ['127.0.0.1/32'] } });
    try {
      await use(shopExport.file, shop, shopExport.host, shopExport.served);
    } finally {
      await shop.stop();
      await shopExport.close();
    }
  }

  type Imported = { title: string; imageCount: number; imageUrls: string[]; attributes: Record<string, unknown> };
  const product = async (shop: RunningGateway, id: string) =>
    (await shop.graphql<{ product: Imported | null }>(`{ product(id: ${JSON.stringify(id)}) { title imageCount imageUrls attributes } }`))
      .data?.product;

  it("imports Shopify's product CSV (--format shopify-csv): one product per handle, its images in position order from the shop's host, a GIF left out", async () => {
    const gif = '/s/files/1/0612/3456/7890/files/shirt-back.jpg';
    await onLoopback(
      'products_export_classic.csv',
      /https:\/\/cdn\.shopify\.com/,
      async (file, shop, host, served) => {
        const { code, stdout } = await run(['import', file, '--format', 'shopify-csv', '--url', `${shop.origin}/graphql`]);
        // The gift card has no image and one row has no handle: both named with their line. The
        // shirt's GIF is left out and the rest of the shirt imported.
        expect(code).toBe(1);
        expect(stdout).toContain('2 imported, 2 failed, of 4 products in');
        expect(stdout).toContain('1 image left out: the gateway cannot decode it.');
        expect(stdout).toContain(`(linen-shirt): left out ${host}${gif}: `);
        expect((await product(shop, 'linen-shirt'))?.imageUrls).not.toContain(`${host}${gif}`);
        expect(stdout).toContain('\n  line 24: the row has no handle');
        expect(stdout).toContain('\n  line 25 (gift-card): no image');
        const shirt = await product(shop, 'linen-shirt');
        expect(shirt?.title).toBe('Linen Shirt');
        expect(shirt?.imageUrls.every((url) => url.startsWith(`${host}/`))).toBe(true);
        expect(shirt?.imageCount).toBe(new Set(shirt?.imageUrls).size);
        expect(shirt?.attributes).toMatchObject({ vendor: expect.any(String), options: expect.any(Object) });
        expect((await product(shop, 'gallery-vase'))?.imageCount).toBe(10);
        // The same export again: every image the gateway keeps is revalidated, none fetched again
        // (the GIF, never kept, is), and no product's tags change.
        const fetchedFirst = served.length;
        const changesFirst = await shop.graphql<{ tagChanges: { edges: unknown[] } }>('{ tagChanges(first: 100) { edges { cursor } } }');
        const again = await run(['import', file, '--format', 'shopify-csv', '--url', `${shop.origin}/graphql`, '--restart']);
        expect(again.stdout).toContain('2 imported, 2 failed, of 4 products in');
        expect(served.slice(fetchedFirst)).toEqual([gif]);
        const changesAgain = await shop.graphql<{ tagChanges: { edges: unknown[] } }>('{ tagChanges(first: 100) { edges { cursor } } }');
        expect(changesAgain.data?.tagChanges.edges).toHaveLength(changesFirst.data!.tagChanges.edges.length);
      },
      { gifs: [gif] },
    );
  });

  it('imports a Merchant Center XML feed (--format merchant-xml): variants grouped by item_group_id, items without an image or id named', async () => {
    await onLoopback('merchant-catalogue.xml', /https:\/\/shop\.test/, async (file, shop, host) => {
      const { code, stdout } = await run(['import', file, '--format', 'merchant-xml', '--url', `${shop.origin}/graphql`]);
      expect(code).toBe(1);
      expect(stdout).toContain('4 imported, 2 failed, of 6 products');
      expect(stdout).toContain('\n  line 74 (lamp-9): Item "lamp-9" has no image_link');
      expect(stdout).toContain('\n  line 97: The item has no id');
      // Three variants, not next to one another in the feed, are one product of at most 10 images.
      const dress = await product(shop, 'dress-7');
      expect(dress?.imageCount).toBe(10);
      expect(dress?.imageUrls.every((url) => url.startsWith(`${host}/`))).toBe(true);
      expect(dress?.attributes).toMatchObject({ material: 'linen' });
      expect(await product(shop, 'dress-7-s-red')).toBeNull();
    });
  });

  it('resumes a Merchant Center feed after the import is killed mid-way, grouped products included', async () => {
    // Images answered slowly, one product a batch: the import is still running when it is killed.
    await onLoopback(
      'merchant-catalogue.xml',
      /https:\/\/shop\.test/,
      async (file, shop) => {
        const args = ['import', file, '--format', 'merchant-xml', '--url', `${shop.origin}/graphql`, '--batch', '1'];
        const child = spawn(process.execPath, [builtEntry('tools', 'catalogue.js'), ...args], { stdio: 'ignore' });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        const progressFile = `${file}.progress.json`;
        const done = () => (existsSync(progressFile) ? (JSON.parse(readFileSync(progressFile, 'utf8')) as { done: number }).done : 0);
        for (let waited = 0; done() < 2 && waited < 20_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
        child.kill('SIGKILL');
        await exited;
        const killedAfter = done();
        expect(killedAfter).toBeGreaterThanOrEqual(2);
        expect(killedAfter).toBeLessThan(6);
        const { code, stdout, stderr } = await run(args);
        expect(stderr).toContain(`Resuming after ${killedAfter} products`);
        expect(code).toBe(1);
        expect(stdout).toContain('4 imported, 2 failed, of 6 products');
        for (const id of ['mug-1', 'poster-3', 'sock-2', 'dress-7'])
          expect(await product(shop, id)).toMatchObject({ imageCount: expect.any(Number) });
        // (A kill between a failure's line and the progress after it would write that line twice: the same line.)
        expect(new Set(readFileSync(`${file}.failures.jsonl`, 'utf8').trim().split('\n')).size).toBe(2);
      },
      { delayMs: 150 },
    );
  });

  it("waits as long as a gateway's Retry-After asks when it sheds a batch, and imports everything", async () => {
    // Writes limited to 1 a second in bursts of 2: the second batch of two is refused (429) once.
    const limited = await startGateway({
      rateLimits: { ...configFromEnv({}).rateLimits, writesPerSecond: 1, writesBurst: 2, loopback: true },
    });
    try {
      const file = await writeProducts('limited', 5);
      const started = Date.now();
      const { code, stdout } = await run(['import', file, '--url', `${limited.origin}/graphql`, '--batch', '2']);
      expect(code).toBe(0);
      expect(stdout).toContain('5 imported, 0 failed, of 5 products');
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      const shed = (await limited.gateway.metrics.shed.get()).values.find((v) => v.labels.reason === 'rate_limited');
      expect(shed?.value).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.stop();
    }
  }, 30_000);

  it('says what is wrong with its arguments', async () => {
    expect(await run(['export', 'x'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "export"') });
    expect(await run(['import', join(dir, 'missing.jsonl')])).toMatchObject({ code: 2, stderr: expect.stringContaining('does not exist') });
    expect(await run(['import', join(dir, 'x'), '--batch', '0'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--batch must be'),
    });
    expect(await run(['import', join(dir, 'x.csv'), '--format', 'excel'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--format must be one of jsonl, csv.*, got "excel"/),
    });
  });
});

/** `npm run catalogue -- key`: a new API key, and a gateway that takes it. */
describe('tools/catalogue.ts key', () => {
  /** The key and its API_KEYS entry, from the command's output. */
  async function newKey(args: string[] = []): Promise<{ key: string; entry: string; stdout: string }> {
    const { code, stdout, stderr } = await run(['key', ...args]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const [key, entry] = [...stdout.matchAll(/^ {2}(\S+)$/gm)].map((m) => m[1]);
    return { key, entry, stdout };
  }

  it('prints a new random key (clip_ and 32 bytes in base64url) and its API_KEYS entry, read by default', async () => {
    const first = await newKey();
    expect(first.key).toMatch(/^clip_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(first.key.slice('clip_'.length), 'base64url')).toHaveLength(32);
    expect(first.entry).toBe(`${createHash('sha256').update(first.key).digest('hex')}:read`);
    expect(first.stdout).toContain('Authorization: Bearer');
    expect(configFromEnv({ API_KEYS: first.entry }).apiKeys).toEqual([{ sha256: first.entry.split(':')[0], scope: 'read' }]);
    const second = await newKey(['--scope', 'write']);
    expect(second.entry).toMatch(/^[0-9a-f]{64}:write$/);
    expect(second.key).not.toBe(first.key);
  });

  it('makes a write key that a gateway with API_KEYS takes for an import', async () => {
    const { key, entry } = await newKey(['--scope', 'write']);
    const gw = await startGateway({ apiKeys: configFromEnv({ API_KEYS: entry }).apiKeys });
    const dir = mkdtempSync(join(tmpdir(), 'catalogue-key-'));
    try {
      const reference = loadReference();
      const png = await drawShape(reference, reference.classes[0], seededRandom(1));
      const file = join(dir, 'one.jsonl');
      writeFileSync(file, `${JSON.stringify({ id: 'keyed', images: [`data:image/png;base64,${png.toString('base64')}`] })}\n`);
      const url = `${gw.origin}/graphql`;
      const refused = await run(['import', file, '--url', url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('This gateway needs an API key');
      const imported = await run(['import', file, '--url', url, '--key', key, '--restart']);
      expect(imported).toMatchObject({ code: 0, stdout: expect.stringContaining('1 imported, 0 failed, of 1 products') });
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what is wrong with its arguments', async () => {
    expect(await run(['key', '--scope', 'owner'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--scope must be read, write or admin'),
    });
    expect(await run(['key', 'extra'])).toMatchObject({ code: 2, stderr: expect.stringContaining('key takes no arguments') });
    expect(await run(['import', 'x.jsonl', '--scope', 'write'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--scope is for the key command'),
    });
  });
});
