import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { indexRootOf, openSqliteStore, type SqliteStore } from '../../../../../gateway/store';
import { cosine, seededRandom } from '../../../../helpers/tiny-clip';
import { gaussian, normalise, product } from '../../contract/fixtures';

/**
 * The embedded store's HNSW graph (gateway/store/sqlite/hnsw/): made in a worker, saved beside the
 * database file, caught up with every write before a search, loaded and repaired at the next start,
 * rebuilt when its files are missing or unreadable, and repaired after a writer is killed mid-write.
 * At these sizes the graph finds the exact neighbours, so every answer is compared with brute force.
 */

const MODEL = { name: 'hnsw-test', dtype: 'fp32', dim: 16 };
const COUNT = 3000;
const K = 10;

describe('the HNSW search index of the SQLite store', () => {
  let dir: string;
  let path: string;
  let logs: string[];
  const open: SqliteStore[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'catalogue-hnsw-'));
    path = join(dir, 'catalogue.sqlite');
    logs = [];
  });

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openStore(): Promise<SqliteStore> {
    // Every search approximate, so the graph answers at a size where brute force is cheap to check.
    const store = await openSqliteStore({ path, approximateSearchAbove: 0, log: (message) => logs.push(message) });
    await store.migrate();
    open.push(store);
    return store;
  }

  async function close(store: SqliteStore): Promise<void> {
    open.splice(open.indexOf(store), 1);
    await store.close();
  }

  const random = seededRandom(20261207);
  const centres = Array.from({ length: 12 }, () => normalise(Float32Array.from({ length: 16 }, () => gaussian(random))));
  const near = (centre: Float32Array) => normalise(centre.map((x) => x + 0.4 * gaussian(random)));

  /** Writes `count` products from `from` on, 40% of them `{ shelf: "a" }`; returns their vectors. */
  async function fill(store: SqliteStore, from: number, count: number): Promise<Map<string, Float32Array>> {
    const vectors = new Map<string, Float32Array>();
    for (let i = from; i < from + count; i++) vectors.set(`p${i}`, near(centres[i % centres.length]));
    const ids = [...vectors.keys()];
    await store.upsertProducts(ids.map((id, i) => product(id, { attributes: { shelf: (from + i) % 5 < 2 ? 'a' : 'b' } })));
    await store.putProductVectors(
      MODEL,
      ids.map((productId) => ({ productId, vector: vectors.get(productId)! })),
    );
    return vectors;
  }

  /** The store's own vectors of every product, read back: the truth the answers are checked against. */
  async function storedVectors(store: SqliteStore): Promise<Map<string, { vector: Float32Array; shelf: unknown }>> {
    const all = new Map<string, { vector: Float32Array; shelf: unknown }>();
    for (let after: string | undefined; ;) {
      const page = await store.listProducts({}, 500, after);
      const vectors = await store.getProductVectors(
        MODEL,
        page.items.map((p) => p.id),
      );
      for (const p of page.items) if (vectors.has(p.id)) all.set(p.id, { vector: vectors.get(p.id)!, shelf: p.attributes?.shelf });
      if (!page.hasNextPage) return all;
      after = page.endCursor;
    }
  }

  async function expectExactAnswers(store: SqliteStore, queries = 8): Promise<void> {
    const truth = await storedVectors(store);
    for (let q = 0; q < queries; q++) {
      const query = near(centres[q % centres.length]);
      for (const filter of [undefined, { attributes: { shelf: 'a' } }]) {
        const expected = [...truth]
          .filter(([, p]) => !filter || p.shelf === 'a')
          .map(([productId, p]) => ({ productId, score: cosine(query, p.vector) }))
          .sort((x, y) => y.score - x.score || (x.productId < y.productId ? -1 : 1))
          .slice(0, K);
        const hits = await store.searchProducts(MODEL, query, K, filter);
        expect(hits.map((h) => h.productId)).toEqual(expected.map((h) => h.productId));
        hits.forEach((hit, i) => expect(Math.abs(hit.score - expected[i].score)).toBeLessThan(1e-5));
      }
    }
  }

  it('is built in a worker, saved beside the database, and answers as brute force does through the graph', async () => {
    const store = await openStore();
    await fill(store, 0, COUNT);
    await store.prepareSearch(MODEL);
    expect(logs).toEqual([
      expect.stringMatching(/^search index of model hnsw-test\|fp32: rebuilt from the store because no index was saved: 3000 vectors/),
    ]);
    expect(readdirSync(indexRootOf(path))).toEqual([expect.stringMatching(/^vec_product_[0-9a-f]{20}\.[0-9a-f-]{36}$/)]);
    await expectExactAnswers(store);
    // Filtered searches match 1,200 products: more than the exact path takes, so the graph answers them too.
    expect(store.approximateSearches).toEqual({ graph: 16, codes: 0, binary: 0 });
  });

  it('catches up with products written, replaced and deleted before the next search answers', async () => {
    const store = await openStore();
    await fill(store, 0, COUNT);
    await store.prepareSearch(MODEL);
    await fill(store, COUNT, 40);
    await store.putProductVectors(MODEL, [
      { productId: 'p5', vector: near(centres[3]) },
      { productId: 'p17', vector: near(centres[0]) },
    ]);
    await store.deleteProducts(['p3', 'p15', 'p27', `p${COUNT + 3}`]);
    // Every answer from the graph, none while it is remade: the changes were applied before searching.
    await expectExactAnswers(store);
    expect(store.approximateSearches).toEqual({ graph: 16, codes: 0, binary: 0 });
    expect((await store.searchProducts(MODEL, near(centres[3]), COUNT)).map((h) => h.productId)).not.toContain('p3');
  });

  it('is remade in the background when more changes are pending than a search applies, answering meanwhile', async () => {
    const store = await openStore();
    await fill(store, 0, COUNT);
    await store.prepareSearch(MODEL);
    logs = [];
    await fill(store, COUNT, 1000);
    // 1,000 changes pending: more than a search applies before answering; this one takes the binary copy.
    await store.searchProducts(MODEL, near(centres[2]), K);
    expect(store.approximateSearches).toEqual({ graph: 0, codes: 0, binary: 1 });
    await store.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/loaded the saved index and applied 1000 changes logged since \(4000 vectors\)/)]);
    await expectExactAnswers(store, 3);
    expect(store.approximateSearches).toEqual({ graph: 6, codes: 0, binary: 1 });
  });

  it('is loaded at the next start and repaired with the changes logged since it was saved', async () => {
    const first = await openStore();
    await fill(first, 0, COUNT);
    await first.prepareSearch(MODEL);
    await fill(first, COUNT, 30);
    await first.deleteProducts(['p1', 'p2']);
    await close(first);
    logs = [];
    const second = await openStore();
    await second.prepareSearch(MODEL);
    // 30 vectors written and 2 deleted since the save.
    expect(logs).toEqual([
      expect.stringMatching(
        /^search index of model hnsw-test\|fp32: loaded the saved index and applied 32 changes logged since \(3028 vectors\)/,
      ),
    ]);
    await expectExactAnswers(second);
    expect(readdirSync(indexRootOf(path))).toHaveLength(1);
  });

  it('is loaded once at a start that finds it current, and saved again by the worker when it has no codes', async () => {
    const first = await openStore();
    await fill(first, 0, COUNT);
    await first.prepareSearch(MODEL);
    await close(first);
    const [saved] = readdirSync(indexRootOf(path));
    logs = [];
    const second = await openStore();
    await second.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/loaded the saved index and applied 0 changes logged since \(3000 vectors\)/)]);
    // Loaded where it lies: no worker saved a copy under a new name.
    expect(readdirSync(indexRootOf(path))).toEqual([saved]);
    await expectExactAnswers(second, 3);
    await close(second);
    // As a version that kept no codes saved it: the worker makes them from the graph's vectors and saves it anew.
    rmSync(join(indexRootOf(path), saved, 'codes.bin'));
    logs = [];
    const third = await openStore();
    await third.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/loaded the saved index and applied 0 changes logged since \(3000 vectors\)/)]);
    const [resaved] = readdirSync(indexRootOf(path));
    expect(resaved).not.toBe(saved);
    expect(existsSync(join(indexRootOf(path), resaved, 'codes.bin'))).toBe(true);
    await expectExactAnswers(third, 3);
  });

  it('stops its worker between two vectors when the store closes mid-build, leaving nothing registered', async () => {
    const first = await openStore();
    await fill(first, 0, 20_000);
    const making = first.prepareSearch(MODEL);
    // The worker is adding vectors by now (a build of 20,000 takes seconds).
    await new Promise((resolve) => setTimeout(resolve, 700));
    const started = Date.now();
    await close(first);
    await making;
    // Asked to stop, it stopped well before the close's deadline to terminate it.
    expect(Date.now() - started).toBeLessThan(5_000);
    logs = [];
    const second = await openStore();
    await second.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/rebuilt from the store because no index was saved: 20000 vectors/)]);
  }, 60_000);

  it('is rebuilt, saying why, when its files are unreadable or gone', async () => {
    const first = await openStore();
    await fill(first, 0, 500);
    await first.prepareSearch(MODEL);
    await close(first);
    const [saved] = readdirSync(indexRootOf(path));
    writeFileSync(join(indexRootOf(path), saved, 'graph.hnsw'), 'not a graph');
    logs = [];
    const second = await openStore();
    await second.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/rebuilt from the store because the saved index could not be read \(.+\): 500 vectors/)]);
    await expectExactAnswers(second, 3);
    await close(second);
    rmSync(indexRootOf(path), { recursive: true });
    logs = [];
    const third = await openStore();
    await third.prepareSearch(MODEL);
    expect(logs).toEqual([
      expect.stringMatching(/rebuilt from the store because the saved index \/.+-hnsw\/vec_product_\w+\.[\w-]+ is missing: 500 vectors/),
    ]);
    await expectExactAnswers(third, 3);
  });

  it('answers through the binary copy while the graph is made, then through the graph', async () => {
    const store = await openStore();
    await fill(store, 0, COUNT);
    const query = near(centres[1]);
    const before = await store.searchProducts(MODEL, query, K);
    expect(store.approximateSearches).toEqual({ graph: 0, codes: 0, binary: 1 });
    await store.prepareSearch(MODEL);
    const after = await store.searchProducts(MODEL, query, K);
    // The same products; scores computed in double precision on the graph's copy, in float32 by sqlite-vec.
    expect(after.map((h) => h.productId)).toEqual(before.map((h) => h.productId));
    after.forEach((hit, i) => expect(Math.abs(hit.score - before[i].score)).toBeLessThan(1e-6));
    expect(store.approximateSearches).toEqual({ graph: 1, codes: 0, binary: 1 });
  });

  it('is never made when turned off (searchIndex: false): searches take the binary copy', async () => {
    const store = await openSqliteStore({ path, approximateSearchAbove: 0, searchIndex: false, log: (message) => logs.push(message) });
    await store.migrate();
    open.push(store);
    await fill(store, 0, 500);
    await store.prepareSearch(MODEL);
    await store.searchProducts(MODEL, near(centres[0]), K);
    expect(store.approximateSearches).toEqual({ graph: 0, codes: 0, binary: 1 });
    expect(logs).toEqual([]);
    expect(existsSync(indexRootOf(path))).toBe(false);
  });

  it('stops logging changes once a store that had a graph is opened with it turned off', async () => {
    const first = await openStore();
    await fill(first, 0, 300);
    await first.prepareSearch(MODEL);
    await close(first);
    const off = await openSqliteStore({ path, approximateSearchAbove: 0, searchIndex: false, log: () => undefined });
    await off.migrate();
    open.push(off);
    await off.prepareSearch(MODEL);
    await fill(off, 300, 50);
    await close(off);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) FROM vector_changes').pluck().get()).toBe(0);
      expect(db.prepare('SELECT index_logged, index_token FROM models').raw().all()).toEqual([[0, null]]);
    } finally {
      db.close();
    }
    // Turned on again, the graph is rebuilt from the vectors, the 50 written meanwhile with them.
    logs = [];
    const on = await openStore();
    await on.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/rebuilt from the store because no index was saved: 350 vectors/)]);
    await expectExactAnswers(on, 2);
  });

  it('is built in memory, never saved, for an in-memory store', async () => {
    const store = await openSqliteStore({ path: ':memory:', approximateSearchAbove: 0, log: (message) => logs.push(message) });
    await store.migrate();
    open.push(store);
    await fill(store, 0, 800);
    await store.prepareSearch(MODEL);
    expect(logs).toEqual([expect.stringMatching(/^search index of model hnsw-test\|fp32: built from 800 vectors in memory/)]);
    await fill(store, 800, 10);
    await store.deleteProducts(['p4']);
    await expectExactAnswers(store, 3);
    expect(store.approximateSearches.binary).toBe(0);
  });

  it('is repaired at start after a writer was killed (SIGKILL) in the middle of its writes', async () => {
    const setup = await openStore();
    await fill(setup, 0, 400);
    await close(setup);
    const writer = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'writer.ts'), path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    writer.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Killed once it has committed a few batches after its index was saved: mid-way through the next.
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/wrote 5\n/.test(output)) {
          writer.kill('SIGKILL');
          resolve();
        }
      });
      writer.once('exit', (code) => code !== null && reject(new Error(`the writer stopped by itself (${code}): ${output}`)));
    });
    await new Promise((resolve) => writer.once('close', resolve));
    expect(output).toMatch(/^ready\n/);
    const store = await openStore();
    await store.prepareSearch(MODEL);
    expect(logs).toEqual([
      expect.stringMatching(/^search index of model hnsw-test\|fp32: loaded the saved index and applied [1-9]\d* changes logged since/),
    ]);
    await expectExactAnswers(store);
    expect(existsSync(indexRootOf(path))).toBe(true);
  });
});
