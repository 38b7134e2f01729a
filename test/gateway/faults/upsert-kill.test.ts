import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import sharp from 'sharp';
import * as sqliteVec from 'sqlite-vec';

import { startBuiltGateway, type TestGateway } from '../../helpers/gateway-process';
import { loadReference, seededBytes } from '../../helpers/tiny-clip';

const BATCHES = 4;
const PER_BATCH = 30;
const LABELS = loadReference().classes;

const TAXONOMY = `mutation ($labels: [String!]!) { taxonomySet(facets: [{ name: "kind", labels: $labels }]) { userErrors { message } } }`;
const UPSERT = `mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { products { id } userErrors { field message code } } }`;
const LISTING = `{ products(first: 500) { edges { node { id tags { facet label source } } } } }`;
const PRODUCT = `query ($id: ID!) { product(id: $id) { id title tags { facet label source } } }`;

interface ProductInput {
  id: string;
  title: string;
  images: { base64: string }[];
}

/** A product as the file holds it, every table of it. */
interface StoredProduct {
  imageHashes: string[];
  productVector: boolean;
  imageVectors: number;
  keptImages: number;
  tags: string[];
}

/**
 * A PNG of random pixels, ~100 KB, kept by the catalogue (inline images are): a batch of 30 writes
 * ~3 MB in its transaction, more than SQLite's page cache holds (2 MB), so pages go to the WAL
 * before the commit and a kill can land inside the transaction.
 */
async function noisePng(seed: number): Promise<string> {
  const side = 182;
  const pixels = seededBytes(seed, side * side * 3);
  return (
    // Stored, not deflated: noise does not compress, and deflating 120 of them only costs CPU.
    (
      await sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer()
    ).toString('base64')
  );
}

/**
 * Reads the catalogue with a connection of its own (opening it read-write, as the next gateway
 * would, recovers the WAL a killed process left): the file's integrity and every product in it.
 */
function readCatalogue(path: string): { integrity: string; products: Map<string, StoredProduct>; orphans: Record<string, number> } {
  const db = new Database(path);
  try {
    sqliteVec.load(db);
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const models = db.prepare('SELECT image_table AS image, product_table AS product, product_count AS count FROM models').all() as {
      image: string;
      product: string;
      count: number;
    }[];
    // One model (the tiny CLIP) from the first upsert on: its tables hold every vector.
    expect(models).toHaveLength(1);
    const [tables] = models;
    const rows = db.prepare('SELECT pk, id, image_hashes FROM products ORDER BY id').all() as {
      pk: number;
      id: string;
      image_hashes: string;
    }[];
    const products = new Map<string, StoredProduct>();
    for (const row of rows) {
      const imageHashes = JSON.parse(row.image_hashes) as string[];
      const count = (sql: string, ...params: unknown[]) =>
        db
          .prepare(sql)
          .pluck()
          .get(...params) as number;
      products.set(row.id, {
        imageHashes,
        productVector: count(`SELECT count(*) FROM ${tables.product} WHERE rowid = ?`, BigInt(row.pk)) === 1,
        imageVectors: imageHashes.filter((hash) => count(`SELECT count(*) FROM ${tables.image} WHERE hash = ?`, hash) === 1).length,
        keptImages: imageHashes.filter((hash) => count('SELECT count(*) FROM image_bytes WHERE hash = ?', hash) === 1).length,
        tags: (
          db
            .prepare('SELECT facet, label, source, taxonomy_version AS version FROM tags WHERE product_id = ? ORDER BY facet, label')
            .all(row.id) as { facet: string; label: string; source: string; version: number }[]
        ).map((t) => `${t.facet}:${t.label}:${t.source}:v${t.version}`),
      });
    }
    // Rows no product accounts for: what a half-applied transaction would leave behind.
    const orphans = {
      productVectors: (db.prepare(`SELECT count(*) FROM ${tables.product}`).pluck().get() as number) - rows.length,
      productCount: tables.count - rows.length,
      imageVectors: (db.prepare(`SELECT count(*) FROM ${tables.image}`).pluck().get() as number) - rows.length,
      keptImages: (db.prepare('SELECT count(*) FROM image_bytes').pluck().get() as number) - rows.length,
    };
    return { integrity, products, orphans };
  } finally {
    db.close();
  }
}

/** Every product present is whole: its row, its image's vector and kept bytes, its vector, its one automatic tag. */
function expectComplete(stored: Map<string, StoredProduct>): void {
  for (const [id, product] of stored) {
    expect({ id, ...product, tags: product.tags.length }).toEqual({
      id,
      imageHashes: [expect.stringMatching(/^[0-9a-f]{64}$/)],
      productVector: true,
      imageVectors: 1,
      keptImages: 1,
      tags: 1,
    });
    expect(product.tags[0]).toMatch(new RegExp(`^kind:(${LABELS.join('|')}):auto:v1$`));
  }
}

/**
 * kill -9 of a real gateway process (dist/gateway/index.js, SQLite in DATA_DIR) while it takes
 * upserts: the file stays intact, every upsert call landed whole or not at all, every product
 * present is whole, and the next process on the same DATA_DIR serves them and completes the
 * catalogue when the calls are sent again. (A tagging job across kill -9: jobs-process.test.ts.)
 */
describe('kill -9 during product upserts (the process)', () => {
  const running: ChildProcess[] = [];
  const dirs: string[] = [];
  let batches: ProductInput[][];

  beforeAll(async () => {
    batches = await Promise.all(
      Array.from({ length: BATCHES }, (_, b) =>
        Promise.all(
          Array.from({ length: PER_BATCH }, async (_, i) => ({
            id: `b${b}-${String(i).padStart(2, '0')}`,
            title: `batch ${b} product ${i}`,
            images: [{ base64: await noisePng(b * 1000 + i) }],
          })),
        ),
      ),
    );
  });

  afterEach(() => {
    for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function start(dataDir: string): Promise<TestGateway> {
    return startBuiltGateway({ LOCAL_WORKERS: '1', CLIP_MODEL_DIR: '', DATA_DIR: dataDir }, { onSpawn: (child) => running.push(child) });
  }

  async function upsert(gateway: TestGateway, batch: ProductInput[]): Promise<void> {
    const { productsUpsert } = await gateway.graphql<{ productsUpsert: { userErrors: unknown[] } }>(UPSERT, { p: batch });
    expect(productsUpsert.userErrors).toEqual([]);
  }

  /**
   * Upserts batch 0 and waits for it, then sends the others one after the other and kills the
   * process when `when` says so; the calls cut off by the kill fail, as their clients would see.
   * Returns how many batches the file holds afterwards, having checked everything about it.
   */
  async function killedRound(name: string, when: (walGrew: () => boolean) => Promise<void>): Promise<number> {
    const dataDir = mkdtempSync(join(tmpdir(), 'gateway-upsert-kill-'));
    dirs.push(dataDir);
    const path = join(dataDir, 'catalogue.sqlite');
    const first = await start(dataDir);
    await first.graphql(TAXONOMY, { labels: LABELS });
    await upsert(first, batches[0]);
    const wal = `${path}-wal`;
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0);
    const walAfterFirst = walSize();
    const rest = (async () => {
      for (const batch of batches.slice(1)) await upsert(first, batch);
    })().catch(() => undefined); // the connection is cut by the kill
    await when(() => walSize() > walAfterFirst);
    await first.kill();
    const walAtKill = walSize();
    await rest;

    const afterKill = readCatalogue(path);
    expect(afterKill.integrity).toBe('ok');
    expect(afterKill.orphans).toEqual({ productVectors: 0, productCount: 0, imageVectors: 0, keptImages: 0 });
    expectComplete(afterKill.products);
    // Each call landed whole or not at all, batch 0 (answered before the kill) whole.
    const landed = batches.map((batch) => batch.filter((p) => afterKill.products.has(p.id)).length);
    for (const count of landed) expect([0, PER_BATCH]).toContain(count);
    expect(landed[0]).toBe(PER_BATCH);
    expect(afterKill.products.size).toBe(landed.reduce((a, b) => a + b, 0));
    // Which batches landed, and how far the WAL had grown past batch 0: frames of a batch that did
    // not land are its transaction's, written before its commit and ignored on recovery.
    process.stdout.write(
      `kill ${name}: batches landed ${landed.map((n) => (n ? 'yes' : 'no')).join(', ')}; ` +
        `WAL ${walAfterFirst} -> ${walAtKill} bytes at the kill\n`,
    );

    // The next process on the same DATA_DIR serves what is there, tags included.
    const second = await start(dataDir);
    const { products } = await second.graphql<{ products: { edges: { node: { id: string; tags: { label: string }[] } }[] } }>(LISTING);
    expect(products.edges.map((e) => e.node.id)).toEqual([...afterKill.products.keys()]);
    for (const { node } of products.edges) {
      expect(node.tags.map((t) => `kind:${t.label}:auto:v1`)).toEqual(afterKill.products.get(node.id)!.tags);
    }
    const one = await second.graphql<{ product: { title: string; tags: unknown[] } }>(PRODUCT, { id: batches[0][7].id });
    expect(one.product).toMatchObject({ title: batches[0][7].title, tags: [expect.objectContaining({ facet: 'kind', source: 'AUTO' })] });

    // Sending every call again completes the catalogue; what had landed is unchanged.
    for (const batch of batches) await upsert(second, batch);
    second.child.kill('SIGTERM');
    await second.exited;
    const complete = readCatalogue(path);
    expect(complete.integrity).toBe('ok');
    expect(complete.orphans).toEqual({ productVectors: 0, productCount: 0, imageVectors: 0, keptImages: 0 });
    expect([...complete.products.keys()]).toEqual(batches.flat().map((p) => p.id));
    expectComplete(complete.products);
    for (const [id, product] of afterKill.products) expect(complete.products.get(id)).toEqual(product);
    return landed.filter((n) => n > 0).length;
  }

  it('leaves every upsert whole or absent, whenever the kill lands, and the next process completes the catalogue', async () => {
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    const landed: number[] = [];
    // As soon as the WAL grows past batch 0: batch 1's transaction is writing its pages.
    landed.push(
      await killedRound('as the WAL grows', async (walGrew) => {
        for (const deadline = Date.now() + 15_000; !walGrew() && Date.now() < deadline;) await sleep(1);
        expect(walGrew()).toBe(true);
      }),
    );
    // Early: batch 1 is still being decoded and embedded.
    landed.push(await killedRound('30 ms into batch 1', () => sleep(30)));
    // Later: a batch or two may have landed, another may be writing (how many depends on the machine's load).
    landed.push(await killedRound('250 ms into batch 1', () => sleep(250)));
    // At least one kill cut the sequence of calls mid-way: some landed, some did not.
    expect(landed.some((n) => n > 0 && n < BATCHES)).toBe(true);
  }, 120_000);
});
