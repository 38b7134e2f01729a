import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { openSqliteStore, type ProductFilter, type SqliteStore } from '../../../../gateway/store';
import { attributeTestByPk, filterConditions, matchingPks } from '../../../../gateway/store/sqlite/filters';
import { cosine, seededRandom } from '../../../helpers/tiny-clip';
import { gaussian, normalise, product, tag } from '../contract/fixtures';

/**
 * The SQLite store's search where the store contract's small catalogues never reach: a filter
 * matching more products than are scored one by one, yet too few for a filtered walk of the graph,
 * whose products are ranked by the graph's 8-bit codes and the best scored exactly; and the lists
 * of a filter's products it ranks (matchingPks), which must be the products the filter matches.
 */

const MODEL = { name: 'selective', dtype: 'fp32', dim: 8 };

describe('SQLite search under filters, at 200,000 products', () => {
  let dir: string;
  let store: SqliteStore;
  const random = seededRandom(20261207);
  const vectors = new Map<string, Float32Array>();
  /** 1 product in 160 is on the rare shelf: 1,250 of 200,000 (0.6%). */
  const COUNT = 200_000;
  const rare = (i: number) => i % 160 === 3;
  /** 3 products in 4 are tagged style: plain. */
  const plainStyle = (i: number) => i % 4 !== 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'selective-'));
    store = await openSqliteStore({ path: join(dir, 'catalogue.sqlite'), searchIndexShape: { m: 16, efConstruction: 32 }, log: () => {} });
    await store.migrate();
    for (let from = 0; from < COUNT; from += 10_000) {
      const rows = [];
      const written = [];
      for (let i = from; i < from + 10_000; i++) {
        const id = `p${String(i).padStart(6, '0')}`;
        rows.push(product(id, { attributes: { shelf: rare(i) ? 'rare' : 'common' }, imageHashes: [], imageUrls: [] }));
        const vector = normalise(Float32Array.from({ length: MODEL.dim }, () => gaussian(random)));
        vectors.set(id, vector);
        written.push({ productId: id, vector });
      }
      await store.upsertProducts(rows);
      await store.putProductVectors(MODEL, written);
      const plain = rows.map((row) => row.id).filter((id) => plainStyle(Number(id.slice(1))));
      await store.replaceAutoTags(
        plain,
        plain.map((id) => tag(id, 'style', 'plain')),
      );
    }
    await store.prepareSearch(MODEL);
  }, 120_000);

  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The k nearest rare products by brute force: ids, nearest first (ties by id). */
  function exact(query: Float32Array, k: number): string[] {
    return [...vectors.entries()]
      .filter(([id]) => rare(Number(id.slice(1))))
      .map(([id, v]) => ({ id, similarity: cosine(query, v) }))
      .sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1))
      .slice(0, k)
      .map((x) => x.id);
  }

  const filter: ProductFilter = { attributes: { shelf: 'rare' } };

  it('ranks the matching products by their codes and returns the exact k nearest of them', async () => {
    const before = store.approximateSearches;
    for (let q = 0; q < 10; q++) {
      const query = normalise(Float32Array.from({ length: MODEL.dim }, () => gaussian(random)));
      const hits = await store.searchProducts(MODEL, query, 20, filter);
      expect(hits.map((h) => h.productId)).toEqual(exact(query, 20));
      for (const hit of hits) expect(hit.score).toBeCloseTo(cosine(query, vectors.get(hit.productId)!), 5);
    }
    const after = store.approximateSearches;
    expect(after.binary).toBe(before.binary);
    // The filter's share is estimated on a random sample: one search in thousands may take the walk.
    expect(after.codes - before.codes).toBeGreaterThanOrEqual(9);
  });

  it('returns every matching product, in order, when k is more than match', async () => {
    const query = normalise(Float32Array.from({ length: MODEL.dim }, () => gaussian(random)));
    const hits = await store.searchProducts(MODEL, query, 3000, filter);
    expect(hits).toHaveLength(COUNT / 160);
    expect(hits.map((h) => h.productId)).toEqual(exact(query, 3000));
  });

  it('applies a filter matching most products inside the walk, checking each product it meets', async () => {
    // Too many to list (over 25,000): the walk checks products one by one, on the attribute index
    // alone for an attribute, or through the product for any other filter (here a tag).
    const cases: [ProductFilter, (id: string) => boolean][] = [
      [{ attributes: { shelf: 'common' } }, (id) => !rare(Number(id.slice(1)))],
      [{ tags: [{ facet: 'style', label: 'plain' }] }, (id) => plainStyle(Number(id.slice(1)))],
    ];
    for (const [filter, matches] of cases) {
      let found = 0;
      for (let q = 0; q < 5; q++) {
        const query = normalise(Float32Array.from({ length: MODEL.dim }, () => gaussian(random)));
        const hits = await store.searchProducts(MODEL, query, 20, filter);
        expect(hits).toHaveLength(20);
        expect(hits.every((h) => matches(h.productId))).toBe(true);
        const expected = new Set(
          [...vectors.entries()]
            .filter(([id]) => matches(id))
            .map(([id, v]) => ({ id, similarity: cosine(query, v) }))
            .sort((a, b) => b.similarity - a.similarity)
            .slice(0, 20)
            .map((x) => x.id),
        );
        found += hits.filter((h) => expected.has(h.productId)).length;
      }
      expect(found / 100).toBeGreaterThanOrEqual(0.9);
    }
  });
  it("remembers a filter's checks for the next searches until the database changes, here or in another connection", async () => {
    const common: ProductFilter = { attributes: { shelf: 'common' } };
    // A rare product's own vector: the nearest product of all, once it is common.
    const rareId = 'p000003';
    const query = vectors.get(rareId)!;
    const searchCommon = async () => {
      const before = store.filterChecks;
      const hits = await store.searchProducts(MODEL, query, 20, common);
      return { ids: hits.map((h) => h.productId), checks: store.filterChecks - before };
    };
    const first = await searchCommon();
    expect(first.checks).toBeGreaterThan(0);
    expect(first.ids).not.toContain(rareId);
    const again = await searchCommon();
    expect(again).toEqual({ ids: first.ids, checks: 0 });

    const shelve = async (on: SqliteStore, shelf: string) => {
      await on.upsertProducts([product(rareId, { attributes: { shelf }, imageHashes: [], imageUrls: [] })]);
      await on.putProductVectors(MODEL, [{ productId: rareId, vector: query }]);
    };
    await shelve(store, 'common');
    const afterOwnWrite = await searchCommon();
    expect(afterOwnWrite.checks).toBeGreaterThan(0);
    expect(afterOwnWrite.ids[0]).toBe(rareId);

    const other = await openSqliteStore({ path: join(dir, 'catalogue.sqlite'), log: () => {} });
    try {
      await shelve(other, 'rare');
    } finally {
      await other.close();
    }
    const afterOtherWrite = await searchCommon();
    expect(afterOtherWrite.checks).toBeGreaterThan(0);
    expect(afterOtherWrite.ids).not.toContain(rareId);
    expect(afterOtherWrite.ids).toEqual(first.ids);
  });

  it("keeps a filter of attributes through writes of tags, this store's or another's, and drops a filter of tags at them", async () => {
    const common: ProductFilter = { attributes: { shelf: 'common' } };
    const plain: ProductFilter = { tags: [{ facet: 'style', label: 'plain' }] };
    const query = vectors.get('p000000')!;
    const search = async (filter: ProductFilter) => {
      const before = store.filterChecks;
      const hits = await store.searchProducts(MODEL, query, 20, filter);
      return { ids: hits.map((h) => h.productId), checks: store.filterChecks - before };
    };
    const commonFirst = await search(common);
    expect((await search(common)).checks).toBe(0);
    const plainFirst = await search(plain);
    expect(plainFirst.checks).toBeGreaterThan(0);
    // p000000 is the query's own vector and not tagged plain (1 product in 4 is not).
    expect(plainFirst.ids).not.toContain('p000000');
    expect((await search(plain)).checks).toBe(0);

    await store.replaceAutoTags(['p000000'], [tag('p000000', 'style', 'plain')]);
    expect(await search(common)).toEqual({ ids: commonFirst.ids, checks: 0 });
    const plainAfterOwnWrite = await search(plain);
    expect(plainAfterOwnWrite.checks).toBeGreaterThan(0);
    expect(plainAfterOwnWrite.ids[0]).toBe('p000000');

    const other = await openSqliteStore({ path: join(dir, 'catalogue.sqlite'), log: () => {} });
    try {
      await other.replaceAutoTags(['p000000'], []);
    } finally {
      await other.close();
    }
    expect(await search(common)).toEqual({ ids: commonFirst.ids, checks: 0 });
    const plainAfterOtherWrite = await search(plain);
    expect(plainAfterOtherWrite.checks).toBeGreaterThan(0);
    expect(plainAfterOtherWrite.ids).toEqual(plainFirst.ids);
  });
});

describe('matchingPks and attributeTestByPk', () => {
  let dir: string;

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists exactly the products each kind of filter matches, as the filter over products does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'matching-pks-'));
    const path = join(dir, 'catalogue.sqlite');
    const store = await openSqliteStore({ path });
    await store.migrate();
    const odd = 'say "hi"';
    await store.upsertProducts(
      Array.from({ length: 60 }, (_, i) =>
        product(`p${i}`, { attributes: { colour: ['red', 'blue', 'green'][i % 3], size: i % 4, [odd]: i % 5 === 0 } }),
      ),
    );
    await store.replaceAutoTags(
      Array.from({ length: 60 }, (_, i) => `p${i}`),
      Array.from({ length: 60 }, (_, i) => tag(`p${i}`, 'style', i % 2 === 0 ? 'plain' : 'bold')),
    );
    await store.close();
    const filters: ProductFilter[] = [
      { attributes: { colour: 'red' } },
      { attributes: { colour: 'red', size: 2 } },
      { attributes: { [odd]: true } },
      { tags: [{ facet: 'style', label: 'plain' }] },
      { tags: [{ facet: 'style', label: 'plain' }], attributes: { size: 0 } },
      { ids: ['p1', 'p2', 'p3', 'p40', 'nobody'] },
      { ids: ['p1', 'p2', 'p3'], attributes: { colour: 'blue' } },
      { ids: [] },
      { attributes: { colour: 'purple' } },
    ];
    const db = new Database(path, { readonly: true });
    try {
      for (const filter of filters) {
        const pks = matchingPks(filter);
        const listed = db
          .prepare(pks.sql)
          .pluck()
          .all(...pks.params) as number[];
        const set = filterConditions(filter, 'set');
        const expected = db
          .prepare(`SELECT p.pk FROM products p WHERE ${set.sql.join(' AND ')} ORDER BY p.pk`)
          .pluck()
          .all(...set.params) as number[];
        expect({ filter, pks: [...listed].sort((a, b) => a - b) }).toEqual({ filter, pks: expected });
      }
      // The test of one product by pk, for filters of indexed attributes only (the walk's check).
      const all = db.prepare('SELECT pk FROM products ORDER BY pk').pluck().all() as number[];
      const tested = filters.filter((filter) => attributeTestByPk(filter) !== undefined);
      expect(tested).toEqual([
        { attributes: { colour: 'red' } },
        { attributes: { colour: 'red', size: 2 } },
        { attributes: { colour: 'purple' } },
      ]);
      for (const filter of tested) {
        const test = attributeTestByPk(filter)!;
        const statement = db.prepare(test.sql).pluck();
        const set = filterConditions(filter, 'set');
        const expected = db
          .prepare(`SELECT p.pk FROM products p WHERE ${set.sql.join(' AND ')}`)
          .pluck()
          .all(...set.params) as number[];
        expect({ filter, pks: all.filter((pk) => statement.get(...test.params, { pk }) !== undefined) }).toEqual({ filter, pks: expected });
      }
      // Not a vacuous comparison: the filters above match some products and not others.
      const some = matchingPks({ attributes: { colour: 'red', size: 2 } });
      expect(
        (
          db
            .prepare(some.sql)
            .pluck()
            .all(...some.params) as number[]
        ).length,
      ).toBe(5);
    } finally {
      db.close();
    }
    expect(() => matchingPks({})).toThrow('matchingPks needs a filter with at least one condition');
  });
});
