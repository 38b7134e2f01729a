import type { PoolClient } from 'pg';

import type { ProductVectorBlock } from '../catalogue-store';
import { checkVectorModel, checkVectors } from '../checks';
import { lastById } from '../order';
import { modelKey, StoreError, type FetchedUrl, type ProductsWrite, type VectorModel } from '../port';
import { Part } from '../composed';
import type { Connection, PostgresStoreOptions } from './connection';
import {
  HALFVEC_PGVECTOR,
  hnswIndexFor,
  MAX_DIM,
  modelTableName,
  modelTableStatements,
  SCHEMA_LOCK_KEY,
  versionAtLeast,
  type HnswIndex,
} from './schema';

/**
 * Vectors in pgvector columns: image vectors in one table for every model (point lookups only),
 * product vectors in a typed table per model made on its first write (see schema.ts); and the kept
 * bytes of inline images and the last fetch of image URLs.
 */

export interface ModelTable {
  key: string;
  dim: number;
  /** The product-vector table's bare name. */
  table: string;
  /** Its HNSW index: over halfvec(dim), over vector(dim), or none (see schema.ts). */
  hnsw: HnswIndex;
}

/** pgvector's text form, `[0.1,0.2,...]`: exact for float32 both ways (shortest round-trip decimals). */
export function vectorText(vector: Float32Array): string {
  let text = '[';
  for (let i = 0; i < vector.length; i++) text += (i === 0 ? '' : ',') + String(vector[i]);
  return `${text}]`;
}

/** pgvector's text output (`[1,2.5,1e-07]`) is JSON. */
function parseVector(text: string): Float32Array {
  return Float32Array.from(JSON.parse(text) as number[]);
}

export class Vectors extends Part<Connection, { indexPrecision: PostgresStoreOptions['indexPrecision'] }> {
  /**
   * Model tables known to be committed; a model's dim and table never change once made, and its index
   * only in migrate() (another indexPrecision), which a gateway runs before it serves.
   */
  private readonly models = new Map<string, ModelTable>();
  /** Whether the server's pgvector has halfvec (0.7+); learnt at migrate() or on a model's first write. */
  private halfvec?: boolean;

  /** Takes note of the server's pgvector version (see Lifecycle.migrate). */
  learnPgvector(version: string): void {
    this.halfvec = versionAtLeast(version, HALFVEC_PGVECTOR);
  }

  /** Remembers a table made in a transaction, once it committed. */
  remember(table: ModelTable | undefined): void {
    if (table) this.models.set(table.key, table);
  }

  /** A model's table as committed, or undefined; refuses a model whose dim differs from its table's. */
  async findModel(client: PoolClient, model: VectorModel): Promise<ModelTable | undefined> {
    const key = modelKey(model);
    let found = this.models.get(key);
    if (!found) {
      const row = (
        await client.query<{ dim: number; table_name: string; hnsw: HnswIndex }>(
          `SELECT dim, table_name, hnsw FROM ${this.c.names.vectorModels} WHERE model_key = $1`,
          [key],
        )
      ).rows[0];
      if (row) {
        found = { key, dim: row.dim, table: row.table_name, hnsw: row.hnsw };
        this.models.set(key, found);
      }
    }
    if (found && found.dim !== model.dim) {
      throw new StoreError(
        'DIMENSION_MISMATCH',
        `Model "${key}" was first stored with ${found.dim}-dimensional vectors; it cannot be used with ${model.dim} dimensions.`,
      );
    }
    return found;
  }

  /** A model's table, made (with its index) on its first write, inside the write's transaction. */
  private async modelForWrite(client: PoolClient, model: VectorModel): Promise<ModelTable> {
    const known = await this.findModel(client, model);
    if (known) return known;
    // Another gateway may be making the same model's table: take turns, then look again.
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
    const made = await this.findModel(client, model);
    if (made) return made;
    const table = modelTableName(model);
    const halfvec = this.uses.indexPrecision === 'half' && (this.halfvec ?? (await this.learnHalfvec(client)));
    const hnsw = hnswIndexFor(model.dim, halfvec);
    for (const statement of modelTableStatements(this.c.names, table, model.dim, hnsw)) await client.query(statement);
    await client.query(
      `INSERT INTO ${this.c.names.vectorModels} (model_key, name, dtype, dim, table_name, hnsw) VALUES ($1, $2, $3, $4, $5, $6)`,
      [modelKey(model), model.name, model.dtype, model.dim, table, hnsw],
    );
    // Remembered by the caller once the transaction commits.
    return { key: modelKey(model), dim: model.dim, table, hnsw };
  }

  private async learnHalfvec(client: PoolClient): Promise<boolean> {
    const row = (await client.query<{ v: string | null }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)).rows[0];
    this.halfvec = row?.v ? versionAtLeast(row.v, HALFVEC_PGVECTOR) : false;
    return this.halfvec;
  }

  /** A write's vectors, kept bytes and fetched URLs (not its products or tags), inside the caller's transaction; returns the model's table. */
  async writeVectors(client: PoolClient, write: Omit<ProductsWrite, 'tags'>): Promise<ModelTable> {
    const made = await this.modelForWrite(client, write.model);
    await this.writeImageVectors(client, made, write.imageVectors);
    if (write.imageBytes.length > 0) {
      const kept = lastById(write.imageBytes, (b) => b.hash);
      await client.query(
        `INSERT INTO ${this.c.names.imageBytes} (hash, bytes) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (hash) DO NOTHING`,
        [kept.map((b) => b.hash), kept.map((b) => Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength))],
      );
    }
    const fetched = lastById(write.fetchedUrls ?? [], (f) => f.url);
    if (fetched.length > 0) {
      await client.query(
        `INSERT INTO ${this.c.names.fetchedUrls} (url, hash, etag, last_modified)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (url) DO UPDATE SET hash = EXCLUDED.hash, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified`,
        [fetched.map((f) => f.url), fetched.map((f) => f.hash), fetched.map((f) => f.etag), fetched.map((f) => f.lastModified)],
      );
    }
    await this.writeProductVectors(client, made, write.productVectors);
    return made;
  }

  async putImageVectors(model: VectorModel, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model, MAX_DIM);
    checkVectors(model, vectors, 'vectors', false);
    if (vectors.length === 0) return;
    this.remember(
      await this.c.transaction(async (client) => {
        const made = await this.modelForWrite(client, model);
        await this.writeImageVectors(client, made, vectors);
        return made;
      }),
    );
  }

  private async writeImageVectors(client: PoolClient, table: ModelTable, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    if (vectors.length === 0) return;
    const rows = lastById(vectors, (v) => v.hash);
    await client.query(
      `INSERT INTO ${this.c.names.imageVectors} (model_key, hash, embedding)
       SELECT $1, r.hash, r.embedding::vector FROM unnest($2::text[], $3::text[]) AS r(hash, embedding)
       ON CONFLICT (model_key, hash) DO UPDATE SET embedding = EXCLUDED.embedding`,
      [table.key, rows.map((r) => r.hash), rows.map((r) => vectorText(r.vector))],
    );
  }

  async getImageVectors(model: VectorModel, hashes: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model, MAX_DIM);
    if (hashes.length === 0) return new Map();
    const rows = await this.c.withClient(async (client) => {
      if (!(await this.findModel(client, model))) return [];
      return (
        await client.query<{ hash: string; embedding: string }>(
          `SELECT hash, embedding::text AS embedding FROM ${this.c.names.imageVectors} WHERE model_key = $1 AND hash = ANY($2::text[])`,
          [modelKey(model), hashes],
        )
      ).rows;
    });
    return new Map(rows.map((row) => [row.hash, parseVector(row.embedding)]));
  }

  async getImageBytes(hashes: string[]): Promise<Map<string, Uint8Array>> {
    if (hashes.length === 0) return new Map();
    const rows = await this.c.rows<{ hash: string; bytes: Buffer }>(
      `SELECT hash, bytes FROM ${this.c.names.imageBytes} WHERE hash = ANY($1::text[])`,
      [hashes],
    );
    return new Map(rows.map((row) => [row.hash, new Uint8Array(row.bytes)]));
  }

  async getFetchedUrls(urls: string[]): Promise<Map<string, FetchedUrl>> {
    if (urls.length === 0) return new Map();
    const rows = await this.c.rows<FetchedUrl>(
      `SELECT url, hash, etag, last_modified AS "lastModified" FROM ${this.c.names.fetchedUrls} WHERE url = ANY($1::text[])`,
      [urls],
    );
    return new Map(rows.map((row) => [row.url, row]));
  }

  async putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model, MAX_DIM);
    checkVectors(model, rows, 'rows', true);
    if (rows.length === 0) return;
    this.remember(
      await this.c.transaction(async (client) => {
        const made = await this.modelForWrite(client, model);
        await this.writeProductVectors(client, made, rows);
        return made;
      }),
    );
  }

  /**
   * A product deleted while its vector was being made gets none, and a row naming `imageHashes`
   * is written only while the product still has exactly those images.
   */
  private async writeProductVectors(
    client: PoolClient,
    table: ModelTable,
    rows: { productId: string; vector: Float32Array; imageHashes?: string[] }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    const unique = lastById(rows, (r) => r.productId);
    await client.query(
      `INSERT INTO ${this.c.names.table(table.table)} (product_id, embedding)
       SELECT r.product_id, r.embedding::vector
       FROM unnest($1::text[], $2::text[], $3::text[]) AS r(product_id, embedding, image_hashes)
       JOIN ${this.c.names.products} p ON p.id = r.product_id AND (r.image_hashes IS NULL OR to_jsonb(p.image_hashes) = r.image_hashes::jsonb)
       ON CONFLICT (product_id) DO UPDATE SET embedding = EXCLUDED.embedding`,
      [
        unique.map((r) => r.productId),
        unique.map((r) => vectorText(r.vector)),
        unique.map((r) => (r.imageHashes === undefined ? null : JSON.stringify(r.imageHashes))),
      ],
    );
  }

  async getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined> {
    return (await this.getProductVectors(model, [productId])).get(productId);
  }

  async getProductVectors(model: VectorModel, productIds: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model, MAX_DIM);
    if (productIds.length === 0) return new Map();
    const rows = await this.c.withClient(async (client) => {
      const table = await this.findModel(client, model);
      if (!table) return [];
      return (
        await client.query<{ product_id: string; embedding: string }>(
          `SELECT product_id, embedding::text AS embedding FROM ${this.c.names.table(table.table)} WHERE product_id = ANY($1::text[])`,
          [productIds],
        )
      ).rows;
    });
    return new Map(rows.map((row) => [row.product_id, parseVector(row.embedding)]));
  }

  async getProductVectorBlock(model: VectorModel, productIds: string[]): Promise<ProductVectorBlock> {
    checkVectorModel(model, MAX_DIM);
    const rows =
      productIds.length === 0
        ? []
        : await this.c.withClient(async (client) => {
            const table = await this.findModel(client, model);
            const vectors = table ? this.c.names.table(table.table) : undefined;
            return (
              await client.query<{ id: string; embedding: string | null }>(
                `SELECT p.id, ${vectors ? 'v.embedding::text' : 'NULL'} AS embedding
                 FROM unnest($1::text[]) WITH ORDINALITY AS c (id, n) JOIN ${this.c.names.products} p ON p.id = c.id
                 ${vectors ? `LEFT JOIN ${vectors} v ON v.product_id = p.id` : ''}
                 ORDER BY c.n`,
                [[...new Set(productIds)]],
              )
            ).rows;
          });
    const ids: string[] = [];
    const withoutVector: string[] = [];
    const vectors = new Float32Array(rows.filter((r) => r.embedding !== null).length * model.dim);
    for (const { id, embedding } of rows) {
      if (embedding === null) withoutVector.push(id);
      else {
        vectors.set(parseVector(embedding), ids.length * model.dim);
        ids.push(id);
      }
    }
    return { ids, vectors, withoutVector };
  }
}
