import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { openSqliteStore, type CatalogueStore, type ProductsWrite } from '../../../../gateway/store';
import { MIGRATIONS } from '../../../../gateway/store/sqlite/schema';
import { hash, MODEL_A, product } from '../contract';

/** Unused images on SQLite's file: the space they took comes back with a VACUUM, and those left by an older gateway are swept at migration. */

const PRODUCTS = 200;
const BYTES = 16 * 1024;

/** Products with an inline image each (its bytes kept) and its vector. */
function write(ids: string[]): ProductsWrite {
  return {
    model: MODEL_A,
    products: ids.map((id) => product(id, { imageHashes: [hash(id)], imageUrls: [null] })),
    imageVectors: ids.map((id, i) => ({ hash: hash(id), vector: new Float32Array([1, i, 0, 0]) })),
    imageBytes: ids.map((id) => ({ hash: hash(id), bytes: new Uint8Array(BYTES).fill(id.length) })),
    fetchedUrls: [],
    productVectors: [],
  };
}

describe('unused images on SQLite', () => {
  let dir: string;
  let path: string;
  let store: CatalogueStore;
  const ids = Array.from({ length: PRODUCTS }, (_, i) => `p${String(i).padStart(3, '0')}`);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'unused-images-'));
    path = join(dir, 'catalogue.sqlite');
    store = await openSqliteStore({ path });
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The file after a VACUUM (the vec0 tables need their module loaded). */
  function vacuumed(): number {
    const db = new Database(path);
    sqliteVec.load(db);
    db.exec('VACUUM');
    db.close();
    return statSync(path).size;
  }

  it('gives back the space of deleted products’ images after a VACUUM', async () => {
    await store.saveProducts(write(ids));
    await store.close();
    const full = vacuumed();
    expect(full).toBeGreaterThan(PRODUCTS * BYTES);
    store = await openSqliteStore({ path });
    await store.deleteProducts(ids);
    await store.close();
    const empty = vacuumed();
    // Nothing of the images is left: the file is a fraction of what their bytes took.
    expect(empty).toBeLessThan(full / 10);
    store = await openSqliteStore({ path });
    expect((await store.getImageBytes(ids.map(hash))).size).toBe(0);
  });

  it('sweeps at migration what an older gateway left behind, and keeps what products use', async () => {
    await store.saveProducts(write(ids.slice(0, 4)));
    await store.close();
    // As a gateway before this migration left it: products deleted, their images kept.
    const db = new Database(path);
    sqliteVec.load(db);
    const mine = MIGRATIONS.findIndex((m) => typeof m === 'function' && m.toString().includes('unused_images')) + 1;
    db.exec(`
      DROP TABLE image_refs; DROP TABLE unused_images;
      DELETE FROM products WHERE id IN ('p000', 'p001');
      DELETE FROM schema_version WHERE version >= ${mine};
    `);
    expect(db.prepare('SELECT count(*) FROM image_bytes').pluck().get()).toBe(4);
    db.close();
    store = await openSqliteStore({ path });
    await store.migrate();
    const left = ids.slice(0, 4).map(hash);
    expect([...(await store.getImageBytes(left)).keys()]).toEqual(left.slice(2));
    expect([...(await store.getImageVectors(MODEL_A, left)).keys()]).toEqual(left.slice(2));
  });
});
