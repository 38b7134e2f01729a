import { createHash } from 'node:crypto';

import type { ProductVectorBlock } from '../catalogue-store';
import { checkVectorModel, checkVectors } from '../checks';
import { modelKey, StoreError, type FetchedUrl, type ProductsWrite, type VectorModel } from '../port';
import { Part } from '../composed';
import type { Connection } from './connection';
import { binaryTableOf, createBinaryTable } from './schema';
import { copyStoredVectors, placesTable, type StoredRow } from './vec0-storage';

/**
 * Vectors in sqlite-vec vec0 tables, one image table and one product table per model (with a
 * binary-quantized copy of the product vectors, see schema.ts), made on the model's first write;
 * and the kept bytes of inline images and the last fetch of image URLs.
 */

export interface ModelTables {
  dim: number;
  image: string;
  product: string;
  /** The binary-quantized copy of `product` (a plain table), or null when dim is not a multiple of 8. */
  binary: string | null;
  /** How many product vectors the model holds. */
  count: number;
  /** 1 when changes to `product` are logged in vector_changes for an approximate index (hnsw/), else 0. */
  logged: number;
  /** The saved index the store last registered (hnsw/), null for none, and the last change it holds. */
  indexToken: string | null;
  indexSeq: number;
}

/** The vector's bytes, as vec0 takes them (little-endian float32, as on every platform Node runs on). */
export function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** A copy (a Buffer from SQLite may sit at any byte offset, and is not ours to keep). */
export function fromBlob(blob: Buffer): Float32Array {
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}

/** The names of a model's vec0 tables: from a hash of its key, so no user text reaches SQL. */
function tableNames(key: string): { image: string; product: string } {
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 20);
  return { image: `vec_image_${digest}`, product: `vec_product_${digest}` };
}

export class Vectors extends Part<Connection> {
  /** The model's tables, or undefined when it has none yet; DIMENSION_MISMATCH if its key was stored with another dim. */
  tablesOf(model: VectorModel): ModelTables | undefined {
    const key = modelKey(model);
    const row = this.c
      .sql(
        `SELECT dim, image_table AS image, product_table AS product, binary_table AS binary, product_count AS count,
           index_logged AS logged, index_token AS indexToken, index_seq AS indexSeq
         FROM models WHERE key = ?`,
      )
      .get(key) as ModelTables | undefined;
    if (row && row.dim !== model.dim) {
      throw new StoreError('DIMENSION_MISMATCH', `model ${key} holds vectors of ${row.dim} values, but was given as ${model.dim}`);
    }
    return row;
  }

  /** The model's tables, created on its first write (inside the caller's transaction). */
  ensureTables(model: VectorModel): ModelTables {
    const existing = this.tablesOf(model);
    if (existing) return existing;
    const key = modelKey(model);
    const { image, product } = tableNames(key);
    // The dim is a checked positive integer and the names are hex digests: nothing here is user text.
    this.c.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${image} USING vec0(hash TEXT PRIMARY KEY, embedding float[${model.dim}])`);
    this.c.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${product} USING vec0(embedding float[${model.dim}] distance_metric=cosine)`);
    const binary = binaryTableOf(product, model.dim);
    if (binary) this.c.db.exec(createBinaryTable(binary));
    this.c
      .sql('INSERT INTO models (key, dim, image_table, product_table, binary_table, product_count) VALUES (?, ?, ?, ?, ?, 0)')
      .run(key, model.dim, image, product, binary);
    return { dim: model.dim, image, product, binary, count: 0, logged: 0, indexToken: null, indexSeq: 0 };
  }

  /** Deletes these products' vectors of every model (and their binary copies), keeping the counts right. */
  dropProductVectors(pks: number[]): void {
    const tables = this.c.sql('SELECT key, product_table AS product, binary_table AS binary, index_logged AS logged FROM models').all() as {
      key: string;
      product: string;
      binary: string | null;
      logged: number;
    }[];
    for (const { key, product, binary, logged } of tables) {
      const remove = this.c.sql(`DELETE FROM ${product} WHERE rowid = ?`);
      const removeBinary = binary && this.c.sql(`DELETE FROM ${binary} WHERE pk = ?`);
      const log = logged ? this.changeLog(product) : undefined;
      let removed = 0;
      for (const pk of pks) {
        const gone = remove.run(BigInt(pk)).changes;
        removed += gone;
        if (removeBinary) removeBinary.run(BigInt(pk));
        if (gone && log) log(pk);
      }
      if (removed > 0) this.c.sql('UPDATE models SET product_count = product_count - ? WHERE key = ?').run(removed, key);
    }
  }

  /**
   * Notes a product vector written or deleted, in the write's transaction, for the approximate
   * index that catches up from these notes (hnsw/): a note is committed exactly when its change is.
   */
  private changeLog(productTable: string): (pk: number) => void {
    const note = this.c.sql('INSERT INTO vector_changes (product_table, pk) VALUES (?, ?)');
    return (pk) => note.run(productTable, pk);
  }

  async putImageVectors(model: VectorModel, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model);
    checkVectors(model, vectors, 'vectors', false);
    return this.c.run('putImageVectors', 'write', () => this.writeImageVectors(this.ensureTables(model), vectors));
  }

  /** A write's vectors and kept bytes and fetched URLs (not its products or tags), inside the caller's transaction. */
  writeVectors(write: Omit<ProductsWrite, 'tags'>): void {
    const tables = this.ensureTables(write.model);
    this.writeImageVectors(tables, write.imageVectors);
    const keep = this.c.sql('INSERT OR IGNORE INTO image_bytes (hash, bytes) VALUES (?, ?)');
    for (const { hash, bytes } of write.imageBytes) keep.run(hash, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const fetched = this.c.sql('INSERT OR REPLACE INTO fetched_urls (url, hash, etag, last_modified) VALUES (?, ?, ?, ?)');
    for (const f of write.fetchedUrls ?? []) fetched.run(f.url, f.hash, f.etag, f.lastModified);
    this.writeProductVectors(write.model, tables, write.productVectors);
  }

  private writeImageVectors(tables: ModelTables, vectors: { hash: string; vector: Float32Array }[]): void {
    // vec0 tables take no UPSERT: a stored hash is deleted, then inserted again.
    const remove = this.c.sql(`DELETE FROM ${tables.image} WHERE hash = ?`);
    const insert = this.c.sql(`INSERT INTO ${tables.image} (hash, embedding) VALUES (?, ?)`);
    for (const { hash, vector } of vectors) {
      remove.run(hash);
      insert.run(hash, toBlob(vector));
    }
  }

  async getImageVectors(model: VectorModel, hashes: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model);
    return this.c.run('getImageVectors', 'read', () => {
      const found = new Map<string, Float32Array>();
      const tables = this.tablesOf(model);
      if (!tables) return found;
      // One point lookup per hash: vec0 plans `hash IN (...)` as a scan of the whole table.
      const lookup = this.c.sql(`SELECT embedding FROM ${tables.image} WHERE hash = ?`).pluck();
      for (const hash of new Set(hashes)) {
        const blob = lookup.get(hash) as Buffer | undefined;
        if (blob) found.set(hash, fromBlob(blob));
      }
      return found;
    });
  }

  async getImageBytes(hashes: string[]): Promise<Map<string, Uint8Array>> {
    return this.c.run('getImageBytes', 'read', () => {
      const found = new Map<string, Uint8Array>();
      const lookup = this.c.sql('SELECT bytes FROM image_bytes WHERE hash = ?').pluck();
      for (const hash of new Set(hashes)) {
        const blob = lookup.get(hash) as Buffer | undefined;
        if (blob) found.set(hash, new Uint8Array(blob));
      }
      return found;
    });
  }

  async getFetchedUrls(urls: string[]): Promise<Map<string, FetchedUrl>> {
    return this.c.run('getFetchedUrls', 'read', () => {
      const found = new Map<string, FetchedUrl>();
      const lookup = this.c.sql('SELECT url, hash, etag, last_modified AS lastModified FROM fetched_urls WHERE url = ?');
      for (const url of new Set(urls)) {
        const row = lookup.get(url) as FetchedUrl | undefined;
        if (row) found.set(url, row);
      }
      return found;
    });
  }

  /** Vectors of products that do not exist (deleted while their vectors were made) are skipped. */
  async putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model);
    checkVectors(model, rows, 'rows', true);
    return this.c.run('putProductVectors', 'write', () => this.writeProductVectors(model, this.ensureTables(model), rows));
  }

  /** Rows naming `imageHashes` are written only while the product still has exactly those images. */
  private writeProductVectors(
    model: VectorModel,
    tables: ModelTables,
    rows: { productId: string; vector: Float32Array; imageHashes?: string[] }[],
  ): void {
    const { product, binary } = tables;
    const stored = this.c.sql('SELECT pk, image_hashes FROM products WHERE id = ?');
    const remove = this.c.sql(`DELETE FROM ${product} WHERE rowid = ?`);
    const insert = this.c.sql(`INSERT INTO ${product} (rowid, embedding) VALUES (?, ?)`);
    // The binary copy is written with the float vector, in the same transaction.
    const upsertBinary = binary && this.c.sql(`INSERT OR REPLACE INTO ${binary} (pk, bits) VALUES (?, vec_quantize_binary(?))`);
    const log = tables.logged ? this.changeLog(product) : undefined;
    let added = 0;
    for (const { productId, vector, imageHashes } of rows) {
      const row = stored.get(productId) as { pk: number; image_hashes: string } | undefined;
      if (row === undefined || (imageHashes !== undefined && row.image_hashes !== JSON.stringify(imageHashes))) continue;
      const pk = BigInt(row.pk);
      const blob = toBlob(vector);
      added += 1 - remove.run(pk).changes;
      insert.run(pk, blob);
      if (upsertBinary) upsertBinary.run(pk, blob);
      if (log) log(row.pk);
    }
    if (added > 0) this.c.sql('UPDATE models SET product_count = product_count + ? WHERE key = ?').run(added, modelKey(model));
  }

  async getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined> {
    checkVectorModel(model);
    return this.c.run('getProductVector', 'read', () => {
      const tables = this.tablesOf(model);
      if (!tables) return undefined;
      const pk = this.c.sql('SELECT pk FROM products WHERE id = ?').pluck().get(productId) as number | undefined;
      if (pk === undefined) return undefined;
      const blob = this.c.sql(`SELECT embedding FROM ${tables.product} WHERE rowid = ?`).pluck().get(BigInt(pk)) as Buffer | undefined;
      return blob ? fromBlob(blob) : undefined;
    });
  }

  async getProductVectors(model: VectorModel, productIds: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model);
    return this.c.run('getProductVectors', 'read', () => {
      const found = new Map<string, Float32Array>();
      const tables = this.tablesOf(model);
      if (!tables || productIds.length === 0) return found;
      // CROSS JOIN fixes the loop order: the ids outside, one point lookup each in products and in vec0.
      const rows = this.c
        .sql(
          `SELECT p.id AS id, v.embedding AS embedding
         FROM json_each(?) c CROSS JOIN products p ON p.id = c.value CROSS JOIN ${tables.product} v ON v.rowid = p.pk`,
        )
        .all(JSON.stringify(productIds)) as { id: string; embedding: Buffer }[];
      for (const { id, embedding } of rows) found.set(id, fromBlob(embedding));
      return found;
    });
  }

  async getProductVectorBlock(model: VectorModel, productIds: string[]): Promise<ProductVectorBlock> {
    checkVectorModel(model);
    return this.c.run('getProductVectorBlock', 'read', () => {
      const tables = this.tablesOf(model);
      const asked = JSON.stringify([...new Set(productIds)]);
      if (!tables) {
        const none = this.c.sql('SELECT p.id FROM json_each(?) c CROSS JOIN products p ON p.id = c.value').pluck().all(asked) as string[];
        return { ids: [], vectors: new Float32Array(0), withoutVector: none };
      }
      // The products, then (LEFT JOIN) each one's slot in the vec0 table's storage: the ids outside, as in getProductVectors.
      const rows = this.c
        .sql(
          `SELECT p.id AS id, s.rowid AS rowid, s.chunk_id AS chunk, s.chunk_offset AS offset
           FROM json_each(?) c CROSS JOIN products p ON p.id = c.value LEFT JOIN ${placesTable(tables.product)} s ON s.rowid = p.pk`,
        )
        .all(asked) as { id: string; rowid: number | null; chunk: number; offset: number }[];
      const ids: string[] = [];
      const stored: StoredRow[] = [];
      const withoutVector: string[] = [];
      for (const row of rows) {
        if (row.rowid === null) withoutVector.push(row.id);
        else {
          ids.push(row.id);
          stored.push(row as StoredRow);
        }
      }
      const vectors = new Float32Array(ids.length * model.dim);
      copyStoredVectors((text) => this.c.sql(text), tables.product, model.dim, stored, vectors);
      return { ids, vectors, withoutVector };
    });
  }
}
