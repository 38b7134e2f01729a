import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { openSqliteStore, type CatalogueStore } from '../../../../gateway/store';
import { MIGRATIONS } from '../../../../gateway/store/sqlite/schema';
import { product } from '../contract';

/**
 * Products' attributes by key and value (gateway/store/sqlite/attributes.ts): kept with every write,
 * filled in for a store made before it, and what an attribute filter reads. (The filters' meaning is
 * the store contract's; this is where the rows come from.)
 */

describe('product_attributes on SQLite', () => {
  let dir: string;
  let path: string;
  let store: CatalogueStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'attributes-'));
    path = join(dir, 'catalogue.sqlite');
    store = await openSqliteStore({ path });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function rows(): [string, string, string][] {
    const db = new Database(path, { readonly: true });
    try {
      return db
        .prepare('SELECT a.key, a.value, p.id FROM product_attributes a JOIN products p ON p.pk = a.pk ORDER BY p.id, a.key')
        .raw()
        .all() as [string, string, string][];
    } finally {
      db.close();
    }
  }

  const ids = async (attributes: Record<string, unknown>) => (await store.listProducts({ attributes }, 10)).items.map((p) => p.id);

  it("holds each product's top-level attributes as JSON, follows updates and deletions, and leaves out keys a path cannot name", async () => {
    await store.upsertProducts([
      product('a', { attributes: { brand: 'acme', size: 42, tags: ['x', 'y'], nested: { b: 1, a: 2 }, none: null, 'say "hi"': 1 } }),
      product('b', { attributes: { brand: 'zeta' } }),
      product('c', { attributes: null }),
    ]);
    expect(rows()).toEqual([
      ['brand', '"acme"', 'a'],
      ['nested', '{"a":2,"b":1}', 'a'],
      ['none', 'null', 'a'],
      ['size', '42', 'a'],
      ['tags', '["x","y"]', 'a'],
      ['brand', '"zeta"', 'b'],
    ]);
    expect(await ids({ brand: 'acme' })).toEqual(['a']);
    expect(await ids({ nested: { a: 2, b: 1 } })).toEqual(['a']);
    expect(await ids({ 'say "hi"': 1 })).toEqual(['a']);
    await store.upsertProducts([product('a', { attributes: { brand: 'zeta' } })]);
    await store.deleteProducts(['b']);
    expect(rows()).toEqual([['brand', '"zeta"', 'a']]);
    expect(await ids({ brand: 'zeta' })).toEqual(['a']);
    expect(await ids({ brand: 'acme' })).toEqual([]);
  });

  it('is what an attribute filter reads, not every product', async () => {
    await store.close();
    const db = new Database(path);
    sqliteVec.load(db);
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT p.pk FROM products p
         WHERE p.pk IN (SELECT a.pk FROM product_attributes a WHERE a.key = 'brand' AND a.value = json('"acme"'))`,
      )
      .all()
      .map((row) => (row as { detail: string }).detail)
      .join('\n');
    db.close();
    expect(plan).toMatch(/SEARCH a USING PRIMARY KEY \(key=\? AND value=\?\)/);
    expect(plan).not.toMatch(/SCAN p\b/);
    store = await openSqliteStore({ path });
  });

  it('is filled in at migration for the products of a store made before it', async () => {
    await store.upsertProducts([product('a', { attributes: { brand: 'acme' } }), product('b', { attributes: { brand: 'zeta', n: 1 } })]);
    await store.close();
    const db = new Database(path);
    sqliteVec.load(db);
    const mine = MIGRATIONS.findIndex((m) => typeof m === 'string' && m.includes('CREATE TABLE IF NOT EXISTS product_attributes')) + 1;
    db.exec(`DROP TABLE product_attributes; DELETE FROM schema_version WHERE version >= ${mine};`);
    db.close();
    store = await openSqliteStore({ path });
    await store.migrate();
    expect(rows()).toEqual([
      ['brand', '"acme"', 'a'],
      ['brand', '"zeta"', 'b'],
      ['n', '1', 'b'],
    ]);
    expect(await ids({ n: 1 })).toEqual(['b']);
  });
});
