import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { openSqliteStore, StoreError, type CatalogueStore } from '../../../gateway/store';
import { MIGRATIONS } from '../../../gateway/store/sqlite/schema';
import { AUTO_TAG_WRITES } from '../../../gateway/store/sqlite/tags';
import { cosine, describeSearchContract, describeStoreContract, hash, MODEL_A, product, tag } from './contract';

const MODEL_8 = { name: 'eight', dtype: 'fp32', dim: 8 };

function scratchDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'catalogue-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a StoreError, the call succeeded');
}

describeStoreContract('sqlite (file)', async () => {
  const scratch = scratchDir();
  const path = join(scratch.dir, 'catalogue.sqlite');
  const store = await openSqliteStore({ path });
  await store.migrate();
  return {
    store,
    reopen: () => openSqliteStore({ path }),
    cleanup: async () => {
      await store.close();
      scratch.remove();
    },
  };
});

describeSearchContract('sqlite (file), every search through the HNSW graph', async () => {
  const scratch = scratchDir();
  const path = join(scratch.dir, 'catalogue.sqlite');
  const store = await openSqliteStore({ path, approximateSearchAbove: 0, log: () => undefined });
  await store.migrate();
  // Each search waits for the graph (made on first need, then caught up with the writes before it):
  // never the binary copy the store answers with while the graph is being made.
  const graphFirst = new Proxy(store, {
    get(target, name) {
      if (name === 'searchProducts') {
        return async (...args: Parameters<CatalogueStore['searchProducts']>) => {
          await target.prepareSearch(args[0]).catch(() => undefined);
          const before = target.approximateSearches;
          const hits = await target.searchProducts(...args);
          expect(target.approximateSearches.binary).toBe(before.binary);
          return hits;
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: graphFirst,
    cleanup: async () => {
      await store.close();
      scratch.remove();
    },
  };
});

describeStoreContract('sqlite (:memory:)', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  await store.migrate();
  return { store, cleanup: () => store.close() };
});

describe('SqliteStore', () => {
  let scratch: ReturnType<typeof scratchDir>;
  let path: string;
  let store: CatalogueStore;

  beforeEach(async () => {
    scratch = scratchDir();
    path = join(scratch.dir, 'catalogue.sqlite');
    store = await openSqliteStore({ path, busyTimeoutMs: 100 });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    scratch.remove();
  });

  it('opens the file in WAL mode with foreign keys on, and records the schema version', async () => {
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(MIGRATIONS.length);
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
      expect(tables).toEqual(expect.arrayContaining(['models', 'products', 'schema_version', 'tag_changes', 'tags', 'taxonomies']));
    } finally {
      db.close();
    }
  });

  it('names vector tables from a hash of the model key, never from its text', async () => {
    const hostile = { name: "x'; DROP TABLE products; --", dim: 3, dtype: 'fp32"]' };
    await store.upsertProducts([product('a')]);
    await store.putImageVectors(hostile, [{ hash: hash('1'), vector: new Float32Array([1, 2, 3]) }]);
    await store.putProductVectors(hostile, [{ productId: 'a', vector: new Float32Array([1, 0, 0]) }]);
    expect((await store.searchProducts(hostile, new Float32Array([1, 0, 0]), 1)).map((h) => h.productId)).toEqual(['a']);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const models = db.prepare('SELECT key, dim, image_table, product_table FROM models').all();
      expect(models).toEqual([
        {
          key: `${hostile.name}|${hostile.dtype}`,
          dim: 3,
          image_table: expect.stringMatching(/^vec_image_[0-9a-f]{20}$/),
          product_table: expect.stringMatching(/^vec_product_[0-9a-f]{20}$/),
        },
      ]);
      expect(db.prepare('SELECT count(*) FROM products').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });

  it("serves labelTopProducts from the label's entries of its index (sorting only those) and tagsForReview without sorting", async () => {
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = (sql: string) =>
        db
          .prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .all()
          .map((row) => (row as { detail: string }).detail)
          .join('\n');
      // Ordered by product within a label (re-tagging writes stay on neighbouring pages): the label's
      // entries carry their scores, and the best k are kept from them, never a read of the table.
      const top = plan(
        "SELECT product_id AS productId, score FROM tags INDEXED BY tags_of_label WHERE facet = 'f' AND label = 'l' ORDER BY score DESC, product_id LIMIT 5",
      );
      expect(top).toContain('USING COVERING INDEX tags_of_label (facet=? AND label=?)');
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'tags_by_label'").pluck().get()).toBe(0);
      const review = plan(
        "SELECT * FROM tags WHERE source = 'auto' AND needs_review = 1 AND (product_id, facet, label) > ('a', 'b', 'c') ORDER BY product_id, facet, label LIMIT 5",
      );
      expect(review).toContain('tags_for_review');
      expect(review).not.toContain('TEMP B-TREE');
      // writeAutoTags' many-row writes find each tag by its primary key, never by a scan of the tags.
      for (const [kind, write] of Object.entries(AUTO_TAG_WRITES)) {
        if (kind === 'inserts') continue;
        const detail = db
          .prepare(`EXPLAIN QUERY PLAN ${write.text(256)}`)
          .all(Array<string>(256 * write.width).fill('x'))
          .map((row) => (row as { detail: string }).detail);
        expect([kind, detail]).toEqual([
          kind,
          expect.arrayContaining(['SEARCH tags USING PRIMARY KEY (product_id=? AND facet=? AND label=?)']),
        ]);
        expect([kind, detail.filter((d) => d.startsWith('SCAN tags'))]).toEqual([kind, []]);
      }
    } finally {
      db.close();
    }
  });

  it('searches exactly under a filter matching more candidates than it scores one by one', async () => {
    // 1 500 of 3 000 products match: over the point-lookup limit, so the constrained KNN answers.
    const count = 3000;
    const ids = Array.from({ length: count }, (_, i) => `q${String(i).padStart(4, '0')}`);
    await store.upsertProducts(ids.map((id, i) => product(id, { attributes: { even: i % 2 === 0 } })));
    const vectors = ids.map((_, i) => new Float32Array([Math.cos(i), Math.sin(i), Math.cos(i / 7), 1]));
    await store.putProductVectors(
      MODEL_A,
      ids.map((productId, i) => ({ productId, vector: vectors[i] })),
    );
    const query = new Float32Array([1, 0.2, -0.5, 0.3]);
    const scored = ids
      .map((productId, i) => ({ productId, score: cosine(query, vectors[i]), even: i % 2 === 0 }))
      .sort((a, b) => b.score - a.score || (a.productId < b.productId ? -1 : 1));
    const everything = scored;
    const expected = scored.filter((h) => h.even);
    const check = (hits: { productId: string; score: number }[], want: typeof expected) => {
      expect(hits.map((h) => h.productId)).toEqual(want.map((h) => h.productId));
      hits.forEach((hit, i) => expect(Math.abs(hit.score - want[i].score)).toBeLessThan(1e-5));
    };
    check(await store.searchProducts(MODEL_A, query, 25, { attributes: { even: true } }), expected.slice(0, 25));
    // k over vec0's KNN limit: answered by an exact scan, with and without the filter.
    check(await store.searchProducts(MODEL_A, query, 5000, { attributes: { even: true } }), expected);
    check(await store.searchProducts(MODEL_A, query, 5000), everything);
  });

  it('searches a table above the approximate threshold with recall@10 of at least 0.95 against brute force', async () => {
    await store.close();
    store = await openSqliteStore({ path, approximateSearchAbove: 1000, approximateSearchCandidates: 200 });
    const dim = 64;
    const model = { name: 'approx', dtype: 'fp32', dim };
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const unit = (v: Float32Array) => {
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const centres = Array.from({ length: 40 }, () => unit(Float32Array.from({ length: dim }, gauss)));
    const near = (c: number) => unit(centres[c].map((x) => x + (0.8 / Math.sqrt(dim)) * gauss()));
    const count = 4000;
    const ids = Array.from({ length: count }, (_, i) => `r${String(i).padStart(4, '0')}`);
    const vectors = ids.map(() => near(Math.floor(random() * centres.length)));
    await store.upsertProducts(ids.map((id, i) => product(id, { attributes: { half: i % 2 } })));
    await store.putProductVectors(
      model,
      ids.map((productId, i) => ({ productId, vector: vectors[i] })),
    );
    let found = 0;
    let wanted = 0;
    for (let n = 0; n < 20; n++) {
      const query = near(Math.floor(random() * centres.length));
      const filter = n % 2 === 0 ? undefined : { attributes: { half: 1 } };
      const truth = ids
        .map((productId, i) => ({ productId, score: cosine(query, vectors[i]), i }))
        .filter((h) => !filter || h.i % 2 === 1)
        .sort((a, b) => b.score - a.score)
        .slice(0, 10);
      const hits = await store.searchProducts(model, query, 10, filter);
      expect(hits).toHaveLength(10);
      // Scores are exact even when the set is approximate, and sorted best first.
      hits.forEach((hit) => expect(Math.abs(hit.score - cosine(query, vectors[ids.indexOf(hit.productId)]))).toBeLessThan(1e-5));
      expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
      const want = new Set(truth.map((h) => h.productId));
      found += hits.filter((h) => want.has(h.productId)).length;
      wanted += want.size;
    }
    expect(found / wanted).toBeGreaterThanOrEqual(0.95);
    // The binary copy follows the float vectors: a deleted product is never a hit.
    const first = (await store.searchProducts(model, vectors[0], 1))[0].productId;
    expect(first).toBe(ids[0]);
    await store.deleteProducts([ids[0]]);
    expect((await store.searchProducts(model, vectors[0], 5)).map((h) => h.productId)).not.toContain(ids[0]);
  });

  it('fills the binary copy of existing vectors when migrating a version 2 database', async () => {
    await store.upsertProducts(['a', 'b', 'c'].map((id) => product(id)));
    await store.putProductVectors(MODEL_8, [
      { productId: 'a', vector: new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]) },
      { productId: 'b', vector: new Float32Array([0, 1, 0, 0, 0, 0, 0, 0]) },
      { productId: 'c', vector: new Float32Array([-1, -1, 0, 0, 0, 0, 0, 1]) },
    ]);
    await store.close();
    const db = new Database(path);
    const binary = db.prepare('SELECT binary_table FROM models').pluck().get() as string;
    db.exec(`DROP TABLE ${binary}; ALTER TABLE models DROP COLUMN binary_table; ALTER TABLE models DROP COLUMN product_count;`);
    db.exec('DELETE FROM schema_version WHERE version >= 3'); // migration 4 runs again: it finds its work done
    db.close();
    store = await openSqliteStore({ path, approximateSearchAbove: 2, approximateSearchCandidates: 1 });
    await store.migrate();
    const hits = await store.searchProducts(MODEL_8, new Float32Array([0, 1, 0, 0, 0, 0, 0, 0.1]), 2);
    expect(hits.map((h) => h.productId)).toEqual(['b', 'a']);
    await store.close();
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare('SELECT product_count FROM models').pluck().get()).toBe(3);
      expect(check.prepare(`SELECT count(*) FROM ${binary}`).pluck().get()).toBe(3);
    } finally {
      check.close();
    }
  });

  it('migrates a version 3 database: its images known by hash only, the model holding most vectors active', async () => {
    await store.upsertProducts([product('a'), product('b')]);
    await store.putProductVectors(MODEL_8, [
      { productId: 'a', vector: new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]) },
      { productId: 'b', vector: new Float32Array([0, 1, 0, 0, 0, 0, 0, 0]) },
    ]);
    await store.putProductVectors(MODEL_A, [{ productId: 'a', vector: new Float32Array([1, 0, 0, 0]) }]);
    await store.close();
    const db = new Database(path);
    db.exec(`DROP INDEX jobs_one_model_change; ALTER TABLE jobs DROP COLUMN model; ALTER TABLE jobs DROP COLUMN changes_model;
      ALTER TABLE products DROP COLUMN image_urls; DROP TABLE image_bytes; DROP TABLE catalogue_state; DROP TABLE tag_changes;
      DELETE FROM schema_version WHERE version >= 4;`);
    db.close();
    store = await openSqliteStore({ path });
    await store.migrate();
    expect((await store.getProducts(['a', 'b'])).map((p) => p.imageUrls)).toEqual([[null], [null]]);
    expect(await store.claimActiveModel(MODEL_A)).toEqual({ active: MODEL_8, target: null });
    expect((await store.createJob({ filter: {}, reembed: false, model: MODEL_8 })).job).toMatchObject({ model: 'eight|fp32', total: 2 });
  });

  it('migrates an outbox that knew no job source: its rows kept, its sequence never reused', async () => {
    await store.upsertProducts([product('a')]);
    for (const label of ['red', 'green', 'blue']) await store.replaceAutoTags(['a'], [tag('a', 'colour', label)]);
    await store.close();
    const db = new Database(path);
    const mine = MIGRATIONS.findIndex((m) => typeof m === 'function' && m.toString().includes('tag_changes_next')) + 1;
    // The outbox as the migrations before it made it, its newest row deleted (its seq must stay spent).
    db.exec(`
      DROP TABLE tag_changes;
      ${MIGRATIONS[4] as string}
      INSERT INTO tag_changes SELECT seq, product_id, facet, previous_labels, labels, source, model, changed_at
        FROM (SELECT 1 AS seq, 'a' AS product_id, 'colour' AS facet, '[]' AS previous_labels, '["red"]' AS labels,
                     'auto' AS source, 'clip-a|fp32' AS model, '2024-01-01T00:00:00.000Z' AS changed_at
              UNION ALL SELECT 2, 'a', 'colour', '["red"]', '["green"]', 'auto', 'clip-a|fp32', '2024-01-01T00:00:00.000Z');
      UPDATE sqlite_sequence SET seq = 3 WHERE name = 'tag_changes';
      DELETE FROM schema_version WHERE version >= ${mine};`);
    expect(() => db.prepare("UPDATE tag_changes SET source = 'job'").run()).toThrow('CHECK constraint failed');
    db.close();
    store = await openSqliteStore({ path });
    await store.migrate();
    expect((await store.tagChanges(undefined, 10)).map((c) => [c.seq, c.labels])).toEqual([
      [1, ['red']],
      [2, ['green']],
    ]);
    await store.replaceAutoTags(['a'], [tag('a', 'colour', 'pink')]);
    expect((await store.tagChanges(2, 10)).map((c) => [c.seq, c.previousLabels, c.labels])).toEqual([[4, ['blue'], ['pink']]]);
  });

  it.each([
    ['ascending', 1],
    ['descending', -1],
  ])('breaks ties by id even when the tie runs past k in the KNN query (ids created %s)', async (_order, direction) => {
    const ids = Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    if (direction < 0) ids.reverse();
    await store.upsertProducts(ids.map((id) => product(id)));
    await store.putProductVectors(
      MODEL_A,
      ids.map((productId) => ({ productId, vector: new Float32Array([0, 1, 0, 0]) })),
    );
    const hits = await store.searchProducts(MODEL_A, new Float32Array([0, 1, 0, 0]), 5);
    expect(hits.map((h) => h.productId)).toEqual(['t00', 't01', 't02', 't03', 't04']);
  });

  it('deletes the product vectors of every model with the product, and keeps image vectors', async () => {
    const other = { name: 'other', dim: 2, dtype: 'fp32' };
    await store.upsertProducts([product('a'), product('b')]);
    await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: new Float32Array([1, 2, 3, 4]) }]);
    await store.putProductVectors(MODEL_A, [
      { productId: 'a', vector: new Float32Array([1, 0, 0, 0]) },
      { productId: 'b', vector: new Float32Array([0, 1, 0, 0]) },
    ]);
    await store.putProductVectors(other, [{ productId: 'a', vector: new Float32Array([1, 0]) }]);
    await store.deleteProducts(['a']);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      sqliteVec.load(db);
      const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
      const tables = db.prepare('SELECT key, image_table, product_table FROM models ORDER BY key').all() as {
        image_table: string;
        product_table: string;
      }[];
      expect(tables.map((t) => [count(t.image_table), count(t.product_table)])).toEqual([
        [1, 1],
        [0, 0],
      ]);
    } finally {
      db.close();
    }
  });

  it('fails a write with STORE_UNAVAILABLE when another connection holds the write lock, writing nothing', async () => {
    await store.upsertProducts([product('a')]);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const failure = await codeOf(store.upsertProducts([product('a', { title: 'changed' }), product('b')]));
      expect(failure.code).toBe('STORE_UNAVAILABLE');
      expect(failure.message).toMatch(/upsertProducts failed: .*locked/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      expect((await codeOf(store.setTaxonomy([]))).code).toBe('STORE_UNAVAILABLE');
      // Reads still work under WAL, and show nothing of the failed writes.
      expect(await store.getProducts(['a', 'b'])).toEqual([product('a')]);
      expect(await store.getTaxonomy()).toBeUndefined();
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    await store.upsertProducts([product('b')]);
    expect((await store.getProducts(['a', 'b'])).map((p) => p.id)).toEqual(['a', 'b']);
  });

  it('fails a write with STORE_UNAVAILABLE when the database is full, writing nothing of it, and keeps serving', async () => {
    await store.close();
    store = await openSqliteStore({ path, maxBytes: 256 * 1024 });
    await store.upsertProducts([product('a')]);
    const big = Array.from({ length: 400 }, (_, i) => product(`big${i}`, { description: 'x'.repeat(2000) }));
    const failure = await codeOf(store.upsertProducts([product('a', { title: 'changed' }), ...big]));
    expect(failure).toEqual({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringMatching(
        /upsertProducts failed: the catalogue database, or the disk holding it, is full \(SQLITE_FULL\); nothing was written/,
      ),
    });
    expect(await store.getProducts(['a', 'big0'])).toEqual([product('a')]);
    await store.upsertProducts([product('b')]);
    expect((await store.getProducts(['a', 'b'])).map((p) => p.id)).toEqual(['a', 'b']);
  });

  it('fails every method of a closed store with STORE_UNAVAILABLE', async () => {
    await store.close();
    await store.close(); // twice is harmless
    const calls: [string, Promise<unknown>][] = [
      ['getProducts', store.getProducts(['a'])],
      ['upsertProducts', store.upsertProducts([product('a')])],
      ['listProducts', store.listProducts({}, 5)],
      ['searchProducts', store.searchProducts(MODEL_A, new Float32Array([1, 0, 0, 0]), 5)],
      ['getTaxonomy', store.getTaxonomy()],
      ['migrate', store.migrate()],
    ];
    for (const [name, call] of calls) {
      const failure = await codeOf(call);
      expect(failure.code).toBe('STORE_UNAVAILABLE');
      expect(failure.message).toBe(`${name} failed: the catalogue store is closed`);
    }
  });

  it('fails to open a file it cannot create with STORE_UNAVAILABLE', async () => {
    const failure = await codeOf(openSqliteStore({ path: join(scratch.dir, 'missing', 'dir', 'catalogue.sqlite') }));
    expect(failure.code).toBe('STORE_UNAVAILABLE');
    expect(failure.message).toContain('cannot be opened');
  });

  it('refuses a database written by a newer schema', async () => {
    await store.close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_version (version) VALUES (99)').run();
    db.close();
    store = await openSqliteStore({ path });
    const failure = await codeOf(store.migrate());
    expect(failure.code).toBe('STORE_UNAVAILABLE');
    expect(failure.message).toContain('schema version 99');
  });

  it('checks its options and arguments, naming them', async () => {
    await expect(openSqliteStore({ path: '' })).rejects.toThrow('path must be a non-empty string, got ""');
    await expect(openSqliteStore({ path: ':memory:', busyTimeoutMs: 0 })).rejects.toThrow('busyTimeoutMs must be an integer from 1 to');
    await expect(openSqliteStore({ path: ':memory:', approximateSearchAbove: -1 })).rejects.toThrow(
      'approximateSearchAbove must be a non-negative integer, got -1',
    );
    await expect(openSqliteStore({ path: ':memory:', approximateSearchCandidates: 5000 })).rejects.toThrow(
      'approximateSearchCandidates must be an integer from 1 to 4096, got 5000',
    );
    await expect(store.listProducts({}, -1)).rejects.toThrow('first must be a non-negative integer, got -1');
    await expect(store.searchProducts(MODEL_A, new Float32Array(4), 1.5)).rejects.toThrow('k must be a non-negative integer, got 1.5');
    await expect(store.putImageVectors({ ...MODEL_A, dim: 0 }, [])).rejects.toThrow('model.dim must be a positive integer, got 0');
    await expect(store.searchProducts(MODEL_A, new Float32Array(4), 1)).rejects.toThrow(
      'query is the zero vector: cosine similarity is undefined for it, so it cannot be searched',
    );
    await store.upsertProducts([product('a')]);
    await expect(store.putProductVectors(MODEL_A, [{ productId: 'a', vector: new Float32Array([0, NaN, 0, 0]) }])).rejects.toThrow(
      'rows[0].vector must hold finite numbers, got NaN at index 1',
    );
    await expect(
      store.replaceAutoTags(
        ['b'],
        [
          {
            productId: 'a',
            facet: 'f',
            label: 'l',
            score: 1,
            similarity: 1,
            source: 'auto',
            needsReview: false,
            model: 'm',
            taxonomyVersion: 1,
          },
        ],
      ),
    ).rejects.toThrow('tags[0].productId "a" is not one of productIds');
  });

  it('migrates two connections on the same file at once without harm', async () => {
    await store.close();
    scratch.remove();
    scratch = scratchDir();
    path = join(scratch.dir, 'catalogue.sqlite');
    const [one, two] = await Promise.all([openSqliteStore({ path }), openSqliteStore({ path })]);
    await Promise.all([one.migrate(), two.migrate()]);
    await one.upsertProducts([product('a')]);
    expect((await two.getProducts(['a'])).map((p) => p.id)).toEqual(['a']);
    await one.close();
    store = two;
  });
});
