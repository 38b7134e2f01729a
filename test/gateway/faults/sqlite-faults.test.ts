import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import Database from 'better-sqlite3';
import sharp from 'sharp';

import { openSqliteStore } from '../../../gateway/store';
import { shapeProducts } from '../../helpers/catalogue';
import { startGateway, type GraphQLResponse, type RunningGateway } from '../../helpers/gateway';
import { loadReference, seededBytes } from '../../helpers/tiny-clip';

const ROOT = resolve(__dirname, '../../..');
const TAXONOMY = `mutation ($labels: [String!]!) { taxonomySet(facets: [{ name: "kind", labels: $labels }]) { userErrors { message } } }`;
const UPSERT = `mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { products { id } userErrors { field message code } } }`;
const PRODUCT = `query ($id: ID!) { product(id: $id) { id title tags { facet label source } } }`;
const IDS = `{ products(first: 500) { edges { node { id } } } }`;
const EMBED = `{ embed(inputs: [{ text: "a red circle" }]) { dim } }`;
/** What a client is told when the catalogue's database cannot take a call. */
const UNAVAILABLE = { message: 'The catalogue database is unavailable; try again later.', code: 'STORE_UNAVAILABLE' };

type Products = Awaited<ReturnType<typeof shapeProducts>>;
type UpsertResponse = GraphQLResponse<{ productsUpsert: { products: ({ id: string } | null)[]; userErrors: unknown[] } }>;

function failures(response: GraphQLResponse<unknown>) {
  return (response.errors ?? []).map((e) => ({ message: e.message, code: e.extensions?.code }));
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

async function storedIds(gw: RunningGateway): Promise<string[]> {
  const { data } = await gw.graphql<{ products: { edges: { node: { id: string } }[] } }>(IDS);
  return data!.products.edges.map((e) => e.node.id);
}

/** Checks the file with a connection of its own: intact, and holding exactly these products. */
function checkFile(path: string, ids: string[]): void {
  const db = new Database(path, { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare('SELECT id FROM products ORDER BY id').pluck().all()).toEqual(ids);
    // Every product stored has its automatic tag: nothing of a product was left half-written.
    expect(db.prepare("SELECT DISTINCT product_id FROM tags WHERE source = 'auto' ORDER BY product_id").pluck().all()).toEqual(ids);
  } finally {
    db.close();
  }
}

/**
 * Another OS process holding SQLite's write lock on `path` (BEGIN IMMEDIATE) until release():
 * what a second gateway in a long write, a migration or an `sqlite3` shell in a transaction does.
 */
async function holdWriteLock(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script, path], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before it held the lock`)));
  });
  return {
    release: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.write('release\n');
      await exited;
    },
  };
}

/** A PNG of random pixels: ~50 KB that no compression shrinks, so a batch of them needs real space. */
async function noisePng(seed: number, side = 128): Promise<string> {
  const pixels = seededBytes(seed, side * side * 3);
  return (
    await sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
      .png()
      .toBuffer()
  ).toString('base64');
}

async function noisyProducts(prefix: string, count: number): Promise<Products> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      id: `${prefix}${String(i).padStart(2, '0')}`,
      title: `noise ${i}`,
      images: [{ base64: await noisePng(1000 + i) }],
      attributes: { colour: 'none', shape: 'none' },
    })),
  );
}

const reference = loadReference();

describe('SQLite locked by another process, through the gateway', () => {
  let dir: string;
  let path: string;
  let gw: RunningGateway;
  let products: Products;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-locked-'));
    path = join(dir, 'catalogue.sqlite');
    products = await shapeProducts(5);
    // The gateway as deployed: its own SQLite store, default busy timeout (5 s), its job runner polling.
    gw = await startGateway({ store: { kind: 'sqlite', path } });
    expect(failures(await gw.graphql(TAXONOMY, { labels: reference.classes }))).toEqual([]);
    const seeded = await gw.graphql<UpsertResponse['data']>(UPSERT, { p: products.slice(0, 4) });
    expect(seeded.data!.productsUpsert.userErrors).toEqual([]);
  });

  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails productsUpsert with STORE_UNAVAILABLE after the busy timeout, keeps answering reads meanwhile, and writes once released', async () => {
    const lock = await holdWriteLock(path);
    let upsert: Promise<{ value: UpsertResponse; ms: number }>;
    let settled = false;
    try {
      upsert = timed(gw.graphql(UPSERT, { p: products.slice(4, 8) }));
      void upsert.finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));

      // While the upsert waits for the lock, the rest of the gateway answers at once: embed, a product
      // with its tags, the health check. (The job runner's polls wait for the lock too, meanwhile.)
      for (let round = 0; round < 3; round++) {
        const embed = await timed(gw.graphql<{ embed: { dim: number }[] }>(EMBED));
        expect(embed.value.data!.embed[0].dim).toBe(gw.gateway.model.info.dim);
        expect(embed.ms).toBeLessThan(1_000);
        const product = await timed(gw.graphql<{ product: { tags: unknown[] } }>(PRODUCT, { id: 'p00' }));
        expect(product.value.data!.product.tags).toEqual([{ facet: 'kind', label: 'red circle', source: 'AUTO' }]);
        expect(product.ms).toBeLessThan(1_000);
        const health = await timed(fetch(`${gw.origin}/healthz`));
        expect(health.value.status).toBe(200);
        expect(health.ms).toBeLessThan(1_000);
      }
      expect(settled).toBe(false);

      const { value: refused, ms } = await upsert;
      // It waited for the lock as long as the busy timeout says (5 s), not forever.
      expect(ms).toBeGreaterThanOrEqual(4_000);
      expect(ms).toBeLessThan(9_000);
      expect(refused.data).toBeNull();
      expect(failures(refused)).toEqual([UNAVAILABLE]);
      expect(refused.errors![0].path).toEqual(['productsUpsert']);
      // The client's sentence is generic; the operator's log says what happened.
      expect(gw.logs.join('\n')).toMatch(/error while resolving .*saveProducts failed: .*locked by another connection.*SQLITE_BUSY/);
      expect((await gw.graphql<{ product: null }>(PRODUCT, { id: 'p04' })).data!.product).toBeNull();
    } finally {
      await lock.release();
    }

    const again = await gw.graphql<UpsertResponse['data']>(UPSERT, { p: products.slice(4, 8) });
    expect(again.errors).toBeUndefined();
    expect(again.data!.productsUpsert.userErrors).toEqual([]);
    const stored = await gw.graphql<{ product: { title: string; tags: unknown[] } }>(PRODUCT, { id: 'p04' });
    expect(stored.data!.product).toEqual({ id: 'p04', title: products[4].title, tags: [expect.objectContaining({ source: 'AUTO' })] });
    checkFile(path, ['p00', 'p01', 'p02', 'p03', 'p04', 'p05', 'p06', 'p07']);
  }, 30_000);
});

/**
 * Mounts a tmpfs of `bytes` at `dir` (synchronously, so that jest can skip the test that needs it).
 * Mounting needs root (CAP_SYS_ADMIN); without it, the reason is returned.
 */
function mountTmpfs(dir: string, bytes: number): string | undefined {
  if (process.getuid?.() !== 0) return `mounting a tmpfs needs root (CAP_SYS_ADMIN), and this process runs as uid ${process.getuid?.()}`;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

describe('the disk holding SQLite full, through the gateway', () => {
  const tmpfsDir = mkdtempSync(join(tmpdir(), 'sqlite-full-'));
  const notMounted = mountTmpfs(tmpfsDir, 8 * 1024 * 1024);

  afterAll(() => {
    if (!notMounted) execFileSync('umount', [tmpfsDir]);
    rmSync(tmpfsDir, { recursive: true, force: true });
  });

  (notMounted ? it.skip : it)(
    `fails an upsert with STORE_UNAVAILABLE on a full filesystem, writing nothing of it, and writes once space is freed${notMounted ? ` (skipped: ${notMounted})` : ''}`,
    async () => {
      const path = join(tmpfsDir, 'catalogue.sqlite');
      const ballast = join(tmpfsDir, 'ballast');
      const gw = await startGateway({ store: { kind: 'sqlite', path } });
      try {
        expect(failures(await gw.graphql(TAXONOMY, { labels: reference.classes }))).toEqual([]);
        const small = (await shapeProducts(9)).slice(0, 4);
        expect((await gw.graphql<UpsertResponse['data']>(UPSERT, { p: small })).data!.productsUpsert.userErrors).toEqual([]);

        // Everything but 32 KiB of the filesystem taken; the next batch holds ~1 MB of images, which
        // the catalogue keeps (inline images), more than the write-ahead log already has room for.
        const { bavail, bsize } = statfsSync(tmpfsDir);
        writeFileSync(ballast, Buffer.alloc(Math.max(0, bavail * bsize - 32 * 1024)));
        const big = await noisyProducts('n', 20);
        const { value: refused, ms } = await timed(gw.graphql<UpsertResponse['data']>(UPSERT, { p: big }));
        expect(failures(refused)).toEqual([UNAVAILABLE]);
        expect(ms).toBeLessThan(5_000);
        expect(gw.logs.join('\n')).toMatch(
          /error while resolving .*the catalogue database, or the disk holding it, is full \(SQLITE_FULL\)/,
        );

        // Nothing of it is visible, reads and embeddings go on.
        expect(await storedIds(gw)).toEqual(small.map((p) => p.id));
        expect((await gw.graphql<{ product: { tags: unknown[] } }>(PRODUCT, { id: 'p00' })).data!.product.tags).toHaveLength(1);
        expect(failures(await gw.graphql(EMBED))).toEqual([]);
        checkFile(
          path,
          small.map((p) => p.id),
        );

        unlinkSync(ballast);
        const again = await gw.graphql<UpsertResponse['data']>(UPSERT, { p: big });
        expect(again.errors).toBeUndefined();
        expect(again.data!.productsUpsert.userErrors).toEqual([]);
        const all = [...small, ...big].map((p) => p.id).sort();
        expect((await storedIds(gw)).sort()).toEqual(all);
        checkFile(path, all);
      } finally {
        await gw.stop();
      }
    },
    30_000,
  );

  it('fails an upsert with STORE_UNAVAILABLE at the database size limit (max_page_count), writing nothing of it, and keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-limit-'));
    const path = join(dir, 'catalogue.sqlite');
    // The store the gateway would open, with a size limit the gateway's configuration has no variable for.
    const gw = await startGateway(
      { store: { kind: 'sqlite', path } },
      { store: await openSqliteStore({ path, maxBytes: 2 * 1024 * 1024 }) },
    );
    try {
      expect(failures(await gw.graphql(TAXONOMY, { labels: reference.classes }))).toEqual([]);
      const small = (await shapeProducts(9)).slice(0, 4);
      expect((await gw.graphql<UpsertResponse['data']>(UPSERT, { p: small })).data!.productsUpsert.userErrors).toEqual([]);
      const pages = () => {
        const db = new Database(path, { readonly: true });
        try {
          return db.pragma('page_count', { simple: true }) as number;
        } finally {
          db.close();
        }
      };
      const before = pages();

      const big = await noisyProducts('n', 50);
      const { value: refused, ms } = await timed(gw.graphql<UpsertResponse['data']>(UPSERT, { p: big }));
      expect(failures(refused)).toEqual([UNAVAILABLE]);
      expect(ms).toBeLessThan(5_000);
      // The failed transaction took no page, and nothing of it is visible.
      expect(pages()).toBe(before);
      expect(await storedIds(gw)).toEqual(small.map((p) => p.id));
      checkFile(
        path,
        small.map((p) => p.id),
      );
      expect(failures(await gw.graphql(EMBED))).toEqual([]);

      // What still fits is written.
      const fits = big.slice(0, 2);
      expect((await gw.graphql<UpsertResponse['data']>(UPSERT, { p: fits })).data!.productsUpsert.userErrors).toEqual([]);
      checkFile(path, [...fits, ...small].map((p) => p.id).sort());
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
