import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { openSqliteStore, type CatalogueStore } from '../../../../gateway/store';
import { copyStoredVectors, placesTable, type Prepare, type StoredRow } from '../../../../gateway/store/sqlite/vec0-storage';
import { MODEL_A, product } from '../contract';
import { vec } from '../contract/fixtures';

/** Vectors read from vec0's storage, against what was written, through a real sqlite-vec table whose rows were deleted and slots reused. */

const DIM = 4;
const ROWS = 3000;

/** Row r's vector: distinct in every value, so a vector from a wrong slot or offset shows. */
const vectorOf = (r: number, version = 0) => new Float32Array([r, -r, r / 7, version + 0.5]);

describe('vec0 storage', () => {
  let db: Database.Database;
  /** Statement texts prepared, to tell which path a read took. */
  let prepared: string[];
  const prepare: Prepare = (text) => {
    prepared.push(text);
    return db.prepare(text);
  };
  const expected = new Map<number, Float32Array>();

  beforeAll(() => {
    db = new Database(':memory:');
    sqliteVec.load(db);
    db.exec(`CREATE VIRTUAL TABLE v USING vec0(embedding float[${DIM}] distance_metric=cosine)`);
    const insert = db.prepare('INSERT INTO v (rowid, embedding) VALUES (?, ?)');
    const write = (r: number, vector: Float32Array) => {
      insert.run(BigInt(r), Buffer.from(vector.buffer));
      expected.set(r, vector);
    };
    for (let r = 1; r <= ROWS; r++) write(r, vectorOf(r));
    // Rows deleted (their slots freed), new rows in the freed slots, a vector replaced in place.
    db.prepare('DELETE FROM v WHERE rowid BETWEEN 100 AND 199').run();
    for (let r = 100; r < 200; r++) expected.delete(r);
    for (let r = ROWS + 1; r <= ROWS + 50; r++) write(r, vectorOf(r));
    db.prepare('UPDATE v SET embedding = ? WHERE rowid = 5').run(Buffer.from(vectorOf(5, 1).buffer));
    expected.set(5, vectorOf(5, 1));
  });

  afterAll(() => db.close());
  beforeEach(() => {
    prepared = [];
  });

  const placesOf = (rowids: number[]) =>
    db
      .prepare(
        `SELECT s.rowid AS rowid, s.chunk_id AS chunk, s.chunk_offset AS offset FROM json_each(?) c CROSS JOIN ${placesTable('v')} s ON s.rowid = c.value`,
      )
      .all(JSON.stringify(rowids)) as StoredRow[];

  const read = (rowids: number[]) => {
    const rows = placesOf(rowids);
    const into = new Float32Array(rows.length * DIM);
    copyStoredVectors(prepare, 'v', DIM, rows, into);
    return { rows, into };
  };

  const expectVectors = ({ rows, into }: { rows: StoredRow[]; into: Float32Array }, rowids: number[]) => {
    expect(rows.map((r) => r.rowid)).toEqual(rowids);
    rows.forEach((r, i) => expect(into.subarray(i * DIM, (i + 1) * DIM)).toEqual(expected.get(r.rowid)));
  };

  it('reads rows packed in chunks from one read of each chunk, in the order asked, slots reused and replaced included', () => {
    const rowids = [...expected.keys()].filter((r) => r <= 2500 || r > ROWS).reverse();
    const result = read(rowids);
    expectVectors(result, rowids);
    expect(new Set(result.rows.map((r) => r.chunk)).size).toBeGreaterThan(1);
    expect(prepared.some((text) => text.includes('substr(vectors'))).toBe(true);
  });

  it('reads rows spread thinly over the chunks one by one', () => {
    const rowids = [3, 5, 1500, 2999, ROWS + 7];
    expectVectors(read(rowids), rowids);
    expect(prepared.some((text) => text.includes('substr(vectors'))).toBe(false);
  });

  it('reads a table laid out by another version of sqlite-vec one row at a time', () => {
    const version = db.prepare("SELECT value FROM v_info WHERE key = 'CREATE_VERSION'").pluck().get() as string;
    expect(version).toMatch(/^v0\.1\./);
    // A shadow table is read-only to SQL but in better-sqlite3's unsafe mode (SQLite's defensive flag off).
    const setVersion = (value: string) => {
      db.unsafeMode(true);
      db.prepare("UPDATE v_info SET value = ? WHERE key = 'CREATE_VERSION'").run(value);
      db.unsafeMode(false);
    };
    setVersion('v0.2.0');
    try {
      const rowids = Array.from({ length: 1000 }, (_, i) => i + 1000);
      expectVectors(read(rowids), rowids);
      expect(prepared.some((text) => text.includes('substr(vectors'))).toBe(false);
    } finally {
      setVersion(version);
    }
  });

  it('names the table and the row when a row has no vector', () => {
    expect(() => copyStoredVectors(prepare, 'v', DIM, [{ rowid: 150, chunk: 1, offset: 149 }], new Float32Array(DIM))).toThrow(
      'v has no vector of 4 values for row 150',
    );
  });
});

describe("the SQLite store's vector block", () => {
  let dir: string;
  let store: CatalogueStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vec0-storage-'));
    store = await openSqliteStore({ path: join(dir, 'catalogue.sqlite') });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the vectors written, after products were deleted and others took their slots', async () => {
    const ids = Array.from({ length: 1500 }, (_, i) => `p${String(i).padStart(4, '0')}`);
    const vectorOfId = (id: string, version: number) => vec(Number(id.slice(1)), version, 1, -1);
    await store.upsertProducts(ids.map((id) => product(id)));
    await store.putProductVectors(
      MODEL_A,
      ids.map((id) => ({ productId: id, vector: vectorOfId(id, 0) })),
    );
    const gone = ids.slice(200, 400);
    await store.deleteProducts(gone);
    const added = Array.from({ length: 100 }, (_, i) => `q${String(i).padStart(4, '0')}`);
    await store.upsertProducts(added.map((id) => product(id)));
    await store.putProductVectors(MODEL_A, [
      ...added.map((id) => ({ productId: id, vector: vec(-Number(id.slice(1)), 2, 1, -1) })),
      { productId: 'p0007', vector: vectorOfId('p0007', 1) },
    ]);
    const asked = [...added, ...ids].reverse();
    const block = await store.getProductVectorBlock(MODEL_A, asked);
    const kept = asked.filter((id) => !gone.includes(id));
    expect(block.ids).toEqual(kept);
    expect(block.withoutVector).toEqual([]);
    kept.forEach((id, i) => {
      const want = id.startsWith('q') ? vec(-Number(id.slice(1)), 2, 1, -1) : vectorOfId(id, id === 'p0007' ? 1 : 0);
      expect(block.vectors.subarray(i * 4, (i + 1) * 4)).toEqual(want);
    });
  });
});
