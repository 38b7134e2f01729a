/**
 * The embedded adapter of the catalogue port: SQLite through better-sqlite3, vectors in sqlite-vec
 * vec0 tables. better-sqlite3 is synchronous, so each method runs as one transaction (IMMEDIATE
 * for writes, so a write never fails half-way on a lock it could not upgrade) and its result is
 * handed back as a promise.
 */
import { createHash, randomUUID } from 'node:crypto';

import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { check, integer, nonEmpty, nonNegativeInt, positiveInt, timeoutMs } from '../../functions/options';
import {
  checkAutoTags,
  checkProductsWrite,
  checkVectorModel,
  compareIds,
  JOB_CHUNK_MAX_ATTEMPTS,
  JOB_MAX_ERRORS,
  MODEL_CHANGE_INCOMPLETE,
  modelKey,
  modelOfKey,
  StoreError,
  type CatalogueStore,
  type ChunkOutcome,
  type JobChunk,
  type JobError,
  type JobRow,
  type JobStatus,
  type ModelState,
  type NewJob,
  type FacetRow,
  type FetchedUrl,
  type Hit,
  type Page,
  type ProductFilter,
  type ProductRow,
  type ProductsWrite,
  type TagRow,
  type TaxonomyRow,
  type VectorModel,
} from './port';
import { binaryTableOf, createBinaryTable, MIGRATIONS } from './sqlite/schema';
import {
  canonicalJson,
  checkDims,
  checkSearchable,
  decodeCursor,
  decodeTagCursor,
  encodeCursor,
  filterConditions,
  fromBlob,
  hasConditions,
  storeError,
  toBlob,
  where,
} from './sqlite/support';

export interface SqliteStoreOptions {
  /** The database file (the gateway uses `DATA_DIR/catalogue.sqlite`), or `':memory:'`. */
  path: string;
  /**
   * How long a call waits for another connection's lock before failing with STORE_UNAVAILABLE.
   * Default 5000. It waits between retries on timers, not in SQLite's busy handler, which sleeps
   * on the calling thread: a gateway waiting there for another process's lock would answer nothing
   * else, not even /healthz, until the lock came free or the timeout passed.
   */
  busyTimeoutMs?: number;
  /**
   * Bytes of the file SQLite reads through a memory map (default 2 GiB, SQLite's own ceiling). A
   * vector search reads every vector of the model: through the map it reads them in place instead
   * of copying each page through SQLite's cache, which halves an unfiltered search.
   */
  mmapBytes?: number;
  /** Where now comes from (taxonomy versions' createdAt). */
  now?: () => Date;
  /**
   * The number of product vectors of a model up to which its searches are exact (default 20 000).
   * Above it, a search takes its candidates from the binary-quantized copy of the vectors (nearest
   * by Hamming distance) and rescores them exactly: about twice as fast, but no longer exact.
   */
  approximateSearchAbove?: number;
  /**
   * How many candidates an approximate search takes from the binary-quantized vectors before it
   * rescores them (at least 10 × k; at most 4096), twice as many under a filter. Default 1200: on
   * 100 000 clustered, normalised 512-dim vectors, recall@20 against the exact search of 1.0
   * unfiltered at a p50 of ~24 ms on 2 cores against ~114 ms exact (see BENCHMARKS.md).
   */
  approximateSearchCandidates?: number;
  /**
   * The largest the database may grow, in bytes (SQLite's max_page_count): a write that would pass
   * it fails as a full disk does, with STORE_UNAVAILABLE, and writes nothing. Default: no limit but
   * the disk's.
   */
  maxBytes?: number;
}

/**
 * The largest filtered candidate set scored one by one (point lookups of each candidate's vector
 * and an exact `vec_distance_cosine`); above it, a vec0 KNN query with a `rowid IN (candidates)`
 * constraint. Both are exact and apply the filter before choosing the k best, so both return
 * min(k, matching) hits; they differ in cost. Point lookups cost ~7 µs per candidate at 512 dims,
 * while a constrained KNN still walks every chunk of the table (~15 ms at 100k products whatever
 * the filter): lookups win below a few thousand candidates.
 */
const EXACT_SCAN_MAX_CANDIDATES = 1000;
/**
 * Pauses between attempts of a call that found the database locked, in ms (then the last one, until
 * the busy timeout): SQLite's own busy handler's schedule.
 */
const BUSY_RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/** SQLITE_BUSY and its extended codes: another connection holds a lock this call needs. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** vec0 refuses a KNN query for more neighbours than this; larger k are answered by an exact scan. */
const KNN_MAX_K = 4096;
/** An approximate search takes at least this many candidates per hit asked for. */
const APPROXIMATE_CANDIDATES_PER_HIT = 10;

interface ModelTables {
  dim: number;
  image: string;
  product: string;
  /** The binary-quantized copy of `product` (a plain table), or null when dim is not a multiple of 8. */
  binary: string | null;
  /** How many product vectors the model holds. */
  count: number;
}

interface SearchTuning {
  approximateAbove: number;
  approximateCandidates: number;
}

interface ProductSqlRow {
  id: string;
  title: string | null;
  description: string | null;
  attributes: string | null;
  image_hashes: string;
  image_urls: string;
  created_at: string;
  updated_at: string;
}

/** A product's parameters for the upsert statement, checked before the transaction. */
type ProductParams = [
  id: string,
  title: string | null,
  description: string | null,
  attributes: string | null,
  imageHashes: string,
  imageUrls: string,
  createdAt: string,
  updatedAt: string,
];

interface TagSqlRow {
  product_id: string;
  facet: string;
  label: string;
  source: 'auto' | 'manual';
  score: number;
  similarity: number;
  needs_review: number;
  model: string;
  taxonomy_version: number;
}

interface JobSqlRow {
  id: string;
  status: JobStatus;
  total: number;
  processed: number;
  failed: number;
  errors: string;
  filter: string;
  reembed: number;
  model: string;
  changes_model: number;
  idempotency_key: string | null;
  cursor: string | null;
  exhausted: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function jobOf(row: JobSqlRow): JobRow {
  return {
    id: row.id,
    status: row.status,
    total: row.total,
    processed: row.processed,
    failed: row.failed,
    errors: JSON.parse(row.errors) as JobError[],
    filter: JSON.parse(row.filter) as ProductFilter,
    reembed: row.reembed === 1,
    model: row.model,
    changesModel: row.changes_model === 1,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

const PRODUCT_COLUMNS =
  'p.id, p.title, p.description, json(p.attributes) AS attributes, p.image_hashes, p.image_urls, p.created_at, p.updated_at';
const TAG_COLUMNS = 'product_id, facet, label, source, score, similarity, needs_review, model, taxonomy_version';

function productOf(row: ProductSqlRow): ProductRow {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    attributes: row.attributes === null ? null : (JSON.parse(row.attributes) as Record<string, unknown>),
    imageHashes: JSON.parse(row.image_hashes) as string[],
    imageUrls: JSON.parse(row.image_urls) as (string | null)[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function tagOf(row: TagSqlRow): TagRow {
  return {
    productId: row.product_id,
    facet: row.facet,
    label: row.label,
    score: row.score,
    similarity: row.similarity,
    source: row.source,
    needsReview: row.needs_review === 1,
    model: row.model,
    taxonomyVersion: row.taxonomy_version,
  };
}

/** The names of a model's vec0 tables: from a hash of its key, so no user text reaches SQL. */
function tableNames(key: string): { image: string; product: string } {
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 20);
  return { image: `vec_image_${digest}`, product: `vec_product_${digest}` };
}

function productParams(products: ProductRow[]): ProductParams[] {
  return products.map((p, i) => {
    if (p.attributes !== null && (typeof p.attributes !== 'object' || Array.isArray(p.attributes))) {
      throw new TypeError(`products[${i}].attributes must be a plain object or null`);
    }
    if (p.imageUrls.length !== p.imageHashes.length) {
      throw new TypeError(`products[${i}] has ${p.imageHashes.length} image hashes but ${p.imageUrls.length} image URLs`);
    }
    return [
      p.id,
      p.title,
      p.description,
      p.attributes === null ? null : canonicalJson(p.attributes),
      JSON.stringify(p.imageHashes),
      JSON.stringify(p.imageUrls),
      p.createdAt,
      p.updatedAt,
    ];
  });
}

function stateModel(json: string | null): VectorModel | null {
  if (json === null) return null;
  const { name, dtype, dim } = JSON.parse(json) as VectorModel;
  return { name, dtype, dim };
}

function byDistanceThenId(a: { productId: string; distance: number }, b: { productId: string; distance: number }): number {
  return a.distance - b.distance || compareIds(a.productId, b.productId);
}

class SqliteStore implements CatalogueStore {
  readonly kind = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date,
    private readonly tuning: SearchTuning,
    private readonly busyTimeoutMs: number,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Plumbing

  /** A prepared statement, kept for the next call (SQLite re-prepares it if the schema changes). */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `body` as one transaction and maps SQLite failures to StoreErrors naming `doing`. While
   * another connection holds a lock it needs, the transaction is tried again on a timer until the
   * busy timeout, leaving the event loop to other requests. A write takes its lock at BEGIN
   * IMMEDIATE, before `body` runs; a read can find the database busy only at its first statement,
   * and a failed attempt is rolled back: trying again repeats nothing.
   */
  private async run<T>(doing: string, mode: 'read' | 'write', body: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.db.open) throw new TypeError('The database connection is not open');
        const transaction = this.db.transaction(body);
        return mode === 'write' ? transaction.immediate() : transaction.deferred();
      } catch (error) {
        const left = deadline - Date.now();
        if (!isBusy(error) || left <= 0) throw storeError(error, doing, mode === 'write');
        const pause = BUSY_RETRY_DELAYS_MS[Math.min(attempt, BUSY_RETRY_DELAYS_MS.length - 1)];
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      }
    }
  }

  /** The model's tables, or undefined when it has none yet; DIMENSION_MISMATCH if its key was stored with another dim. */
  private tablesOf(model: VectorModel): ModelTables | undefined {
    const key = modelKey(model);
    const row = this.sql(
      'SELECT dim, image_table AS image, product_table AS product, binary_table AS binary, product_count AS count FROM models WHERE key = ?',
    ).get(key) as ModelTables | undefined;
    if (row && row.dim !== model.dim) {
      throw new StoreError('DIMENSION_MISMATCH', `model ${key} holds vectors of ${row.dim} values, but was given as ${model.dim}`);
    }
    return row;
  }

  /** The model's tables, created on its first write (inside the caller's transaction). */
  private ensureTables(model: VectorModel): ModelTables {
    const existing = this.tablesOf(model);
    if (existing) return existing;
    const key = modelKey(model);
    const { image, product } = tableNames(key);
    // The dim is a checked positive integer and the names are hex digests: nothing here is user text.
    this.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${image} USING vec0(hash TEXT PRIMARY KEY, embedding float[${model.dim}])`);
    this.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${product} USING vec0(embedding float[${model.dim}] distance_metric=cosine)`);
    const binary = binaryTableOf(product, model.dim);
    if (binary) this.db.exec(createBinaryTable(binary));
    this.sql('INSERT INTO models (key, dim, image_table, product_table, binary_table, product_count) VALUES (?, ?, ?, ?, ?, 0)').run(
      key,
      model.dim,
      image,
      product,
      binary,
    );
    return { dim: model.dim, image, product, binary, count: 0 };
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  async migrate(): Promise<void> {
    await this.run('migrate', 'write', () => {
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)');
      const current = (this.db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_version').get() as { v: number }).v;
      if (current > MIGRATIONS.length) {
        throw new StoreError(
          'STORE_UNAVAILABLE',
          `the catalogue database has schema version ${current}, newer than this gateway's ${MIGRATIONS.length}: upgrade the gateway`,
        );
      }
      for (let version = current + 1; version <= MIGRATIONS.length; version++) {
        const migration = MIGRATIONS[version - 1];
        if (typeof migration === 'string') this.db.exec(migration);
        else migration(this.db);
        this.db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version);
      }
    });
    this.statements.clear();
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  // -------------------------------------------------------------------------------------------
  // Products

  async upsertProducts(products: ProductRow[]): Promise<void> {
    const rows = productParams(products);
    return this.run('upsertProducts', 'write', () => this.writeProducts(rows));
  }

  /** upsertProducts' writes, inside the caller's transaction. */
  private writeProducts(rows: ProductParams[]): void {
    const stored = this.sql('SELECT pk, image_hashes FROM products WHERE id = ?');
    const upsert = this.sql(
      `INSERT INTO products (id, title, description, attributes, image_hashes, image_urls, created_at, updated_at)
       VALUES (?, ?, ?, jsonb(?), ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, attributes = excluded.attributes,
         image_hashes = excluded.image_hashes, image_urls = excluded.image_urls, updated_at = excluded.updated_at`,
    );
    for (const row of rows) {
      const before = stored.get(row[0]) as { pk: number; image_hashes: string } | undefined;
      // Both sides are JSON.stringify of an array of hex strings: equal images, equal text.
      if (before && before.image_hashes !== row[4]) this.dropProductVectors([before.pk]);
      upsert.run(row);
    }
  }

  /** Deletes these products' vectors of every model (and their binary copies), keeping the counts right. */
  private dropProductVectors(pks: number[]): void {
    const tables = this.sql('SELECT key, product_table AS product, binary_table AS binary FROM models').all() as {
      key: string;
      product: string;
      binary: string | null;
    }[];
    for (const { key, product, binary } of tables) {
      const remove = this.sql(`DELETE FROM ${product} WHERE rowid = ?`);
      const removeBinary = binary && this.sql(`DELETE FROM ${binary} WHERE pk = ?`);
      let removed = 0;
      for (const pk of pks) {
        removed += remove.run(BigInt(pk)).changes;
        if (removeBinary) removeBinary.run(BigInt(pk));
      }
      if (removed > 0) this.sql('UPDATE models SET product_count = product_count - ? WHERE key = ?').run(removed, key);
    }
  }

  async saveProducts(write: ProductsWrite): Promise<void> {
    this.checkWrite(write);
    const rows = productParams(write.products);
    return this.run('saveProducts', 'write', () => {
      this.writeVectors(write, rows);
      if (write.tags) this.writeAutoTags(new Set(write.tags.productIds), write.tags.tags);
    });
  }

  private checkWrite(write: ProductsWrite): void {
    checkProductsWrite(write);
    checkDims(write.model, write.imageVectors, 'imageVectors');
    checkDims(write.model, write.productVectors, 'productVectors');
    checkSearchable(write.productVectors, 'productVectors');
  }

  /** A write's products, vectors and kept bytes (not its tags), inside the caller's transaction. */
  private writeVectors(write: ProductsWrite, rows: ProductParams[]): void {
    this.writeProducts(rows);
    const tables = this.ensureTables(write.model);
    this.writeImageVectors(tables, write.imageVectors);
    const keep = this.sql('INSERT OR IGNORE INTO image_bytes (hash, bytes) VALUES (?, ?)');
    for (const { hash, bytes } of write.imageBytes) keep.run(hash, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const fetched = this.sql('INSERT OR REPLACE INTO fetched_urls (url, hash, etag, last_modified) VALUES (?, ?, ?, ?)');
    for (const f of write.fetchedUrls ?? []) fetched.run(f.url, f.hash, f.etag, f.lastModified);
    this.writeProductVectors(write.model, tables, write.productVectors);
  }

  async getProducts(ids: string[]): Promise<ProductRow[]> {
    return this.run('getProducts', 'read', () => {
      const rows = this.sql(`SELECT ${PRODUCT_COLUMNS} FROM products p WHERE p.id IN (SELECT value FROM json_each(?))`).all(
        JSON.stringify(ids),
      ) as ProductSqlRow[];
      const byId = new Map(rows.map((row) => [row.id, productOf(row)]));
      return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
    });
  }

  async deleteProducts(ids: string[]): Promise<string[]> {
    return this.run('deleteProducts', 'write', () => {
      const found = this.sql('SELECT id, pk FROM products WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids)) as {
        id: string;
        pk: number;
      }[];
      if (found.length === 0) return [];
      this.dropProductVectors(found.map((f) => f.pk));
      // Tags go with the product (ON DELETE CASCADE); image vectors and kept bytes stay, keyed by content and shareable.
      this.sql('DELETE FROM products WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(found.map((f) => f.id)));
      const existed = new Set(found.map((f) => f.id));
      return [...new Set(ids)].filter((id) => existed.has(id));
    });
  }

  async listProducts(filter: ProductFilter, first: number, after?: string): Promise<Page<ProductRow>> {
    check('first', first, nonNegativeInt);
    return this.run('listProducts', 'read', () => {
      const { sql, params } = filterConditions(filter);
      if (after !== undefined) {
        sql.push('p.id > ?');
        params.push(decodeCursor(after));
      }
      const rows = this.sql(`SELECT ${PRODUCT_COLUMNS} FROM products p ${where(sql)} ORDER BY p.id LIMIT ?`).all(
        ...params,
        first + 1,
      ) as ProductSqlRow[];
      const items = rows.slice(0, first).map(productOf);
      return {
        items,
        hasNextPage: rows.length > first,
        endCursor: items.length > 0 ? encodeCursor(items[items.length - 1].id) : undefined,
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Vectors

  async putImageVectors(model: VectorModel, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model);
    checkDims(model, vectors, 'vectors');
    return this.run('putImageVectors', 'write', () => this.writeImageVectors(this.ensureTables(model), vectors));
  }

  private writeImageVectors(tables: ModelTables, vectors: { hash: string; vector: Float32Array }[]): void {
    // vec0 tables take no UPSERT: a stored hash is deleted, then inserted again.
    const remove = this.sql(`DELETE FROM ${tables.image} WHERE hash = ?`);
    const insert = this.sql(`INSERT INTO ${tables.image} (hash, embedding) VALUES (?, ?)`);
    for (const { hash, vector } of vectors) {
      remove.run(hash);
      insert.run(hash, toBlob(vector));
    }
  }

  async getImageVectors(model: VectorModel, hashes: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model);
    return this.run('getImageVectors', 'read', () => {
      const found = new Map<string, Float32Array>();
      const tables = this.tablesOf(model);
      if (!tables) return found;
      // One point lookup per hash: vec0 plans `hash IN (...)` as a scan of the whole table.
      const lookup = this.sql(`SELECT embedding FROM ${tables.image} WHERE hash = ?`).pluck();
      for (const hash of new Set(hashes)) {
        const blob = lookup.get(hash) as Buffer | undefined;
        if (blob) found.set(hash, fromBlob(blob));
      }
      return found;
    });
  }

  async getImageBytes(hashes: string[]): Promise<Map<string, Uint8Array>> {
    return this.run('getImageBytes', 'read', () => {
      const found = new Map<string, Uint8Array>();
      const lookup = this.sql('SELECT bytes FROM image_bytes WHERE hash = ?').pluck();
      for (const hash of new Set(hashes)) {
        const blob = lookup.get(hash) as Buffer | undefined;
        if (blob) found.set(hash, new Uint8Array(blob));
      }
      return found;
    });
  }

  async getFetchedUrls(urls: string[]): Promise<Map<string, FetchedUrl>> {
    return this.run('getFetchedUrls', 'read', () => {
      const found = new Map<string, FetchedUrl>();
      const lookup = this.sql('SELECT url, hash, etag, last_modified AS lastModified FROM fetched_urls WHERE url = ?');
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
    checkDims(model, rows, 'rows');
    checkSearchable(rows, 'rows');
    return this.run('putProductVectors', 'write', () => this.writeProductVectors(model, this.ensureTables(model), rows));
  }

  /** Rows naming `imageHashes` are written only while the product still has exactly those images. */
  private writeProductVectors(
    model: VectorModel,
    tables: ModelTables,
    rows: { productId: string; vector: Float32Array; imageHashes?: string[] }[],
  ): void {
    const { product, binary } = tables;
    const stored = this.sql('SELECT pk, image_hashes FROM products WHERE id = ?');
    const remove = this.sql(`DELETE FROM ${product} WHERE rowid = ?`);
    const insert = this.sql(`INSERT INTO ${product} (rowid, embedding) VALUES (?, ?)`);
    // The binary copy is written with the float vector, in the same transaction.
    const upsertBinary = binary && this.sql(`INSERT OR REPLACE INTO ${binary} (pk, bits) VALUES (?, vec_quantize_binary(?))`);
    let added = 0;
    for (const { productId, vector, imageHashes } of rows) {
      const row = stored.get(productId) as { pk: number; image_hashes: string } | undefined;
      if (row === undefined || (imageHashes !== undefined && row.image_hashes !== JSON.stringify(imageHashes))) continue;
      const pk = BigInt(row.pk);
      const blob = toBlob(vector);
      added += 1 - remove.run(pk).changes;
      insert.run(pk, blob);
      if (upsertBinary) upsertBinary.run(pk, blob);
    }
    if (added > 0) this.sql('UPDATE models SET product_count = product_count + ? WHERE key = ?').run(added, modelKey(model));
  }

  async getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined> {
    checkVectorModel(model);
    return this.run('getProductVector', 'read', () => {
      const tables = this.tablesOf(model);
      if (!tables) return undefined;
      const pk = this.sql('SELECT pk FROM products WHERE id = ?').pluck().get(productId) as number | undefined;
      if (pk === undefined) return undefined;
      const blob = this.sql(`SELECT embedding FROM ${tables.product} WHERE rowid = ?`).pluck().get(BigInt(pk)) as Buffer | undefined;
      return blob ? fromBlob(blob) : undefined;
    });
  }

  async getProductVectors(model: VectorModel, productIds: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model);
    return this.run('getProductVectors', 'read', () => {
      const found = new Map<string, Float32Array>();
      const tables = this.tablesOf(model);
      if (!tables || productIds.length === 0) return found;
      // CROSS JOIN fixes the loop order: the ids outside, one point lookup each in products and in vec0.
      const rows = this.sql(
        `SELECT p.id AS id, v.embedding AS embedding
         FROM json_each(?) c CROSS JOIN products p ON p.id = c.value CROSS JOIN ${tables.product} v ON v.rowid = p.pk`,
      ).all(JSON.stringify(productIds)) as { id: string; embedding: Buffer }[];
      for (const { id, embedding } of rows) found.set(id, fromBlob(embedding));
      return found;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Models

  async getModelState(): Promise<ModelState> {
    return this.run('getModelState', 'read', () => this.modelState());
  }

  private modelState(): ModelState {
    const row = this.sql('SELECT active, target FROM catalogue_state WHERE id = 1').get() as {
      active: string | null;
      target: string | null;
    };
    return { active: stateModel(row.active), target: stateModel(row.target) };
  }

  async claimActiveModel(model: VectorModel): Promise<ModelState> {
    checkVectorModel(model);
    return this.run('claimActiveModel', 'write', () => {
      const state = this.modelState();
      if (state.active) return state;
      // Product vectors stored before models were tracked: the model holding most of them stays the one searched.
      const legacy = this.sql('SELECT key, dim FROM models WHERE product_count > 0 ORDER BY product_count DESC, key LIMIT 1').get() as
        { key: string; dim: number } | undefined;
      const active = legacy ? modelOfKey(legacy.key, legacy.dim) : { name: model.name, dtype: model.dtype, dim: model.dim };
      this.sql('UPDATE catalogue_state SET active = ? WHERE id = 1').run(JSON.stringify(active));
      return { active, target: state.target };
    });
  }

  /** A condition on `products p`: it has no product vector of the model `key` (none has, before the model's first write). */
  private lacksVector(key: string): string | undefined {
    const table = this.sql('SELECT product_table FROM models WHERE key = ?').pluck().get(key) as string | undefined;
    return table && `NOT EXISTS (SELECT 1 FROM ${table} v WHERE v.rowid = p.pk)`;
  }

  /**
   * Exact search up to `approximateSearchAbove` product vectors of the model; above it, see
   * "Approximate" below. Either way the filter is applied before the k best are chosen, never
   * after, so a selective filter still yields min(k, matching) hits.
   *
   * - No filter: a vec0 KNN query.
   * - A filter: its candidates are found with SQL first. Up to EXACT_SCAN_MAX_CANDIDATES of them
   *   are scored one by one (a point lookup of each vector, `vec_distance_cosine`, ORDER BY in
   *   SQL); more go into the KNN query as a `rowid IN (SELECT ...)` constraint, which vec0 applies
   *   while it scans.
   * - k above vec0's KNN limit: an exact scan of the whole table.
   *
   * Ties are broken by product id: a KNN query is asked for one row more than k, and for more
   * while that row ties the k-th, so that no tied product is cut arbitrarily.
   *
   * Approximate (a model above `approximateSearchAbove` vectors, no filter or one matching more
   * than EXACT_SCAN_MAX_CANDIDATES): a scan of the binary-quantized vectors (Hamming distance, 64
   * bytes a vector at 512 dims instead of 2 KiB), joined to the filter's products if any, takes the
   * max(approximateSearchCandidates, 10 × k) nearest as candidates; they are rescored with
   * `vec_distance_cosine` on the float vectors and the k best returned. The scores are exact; the
   * set may miss a neighbour the quantization ranked too far (recall@20 ≥ 0.96 measured by default).
   */
  async searchProducts(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]> {
    checkVectorModel(model);
    check('k', k, nonNegativeInt);
    checkDims(model, [{ vector: query }], 'query');
    checkSearchable([{ vector: query }], 'query');
    return this.run('searchProducts', 'read', () => {
      const tables = this.tablesOf(model);
      if (!tables || k === 0) return [];
      const q = toBlob(query);
      const filtered = hasConditions(filter);
      const { sql, params } = filterConditions(filtered ? filter : undefined);
      let scored: { productId: string; distance: number }[];

      if (filtered) {
        const candidates = this.sql(`SELECT p.pk FROM products p ${where(sql)} LIMIT ?`)
          .pluck()
          .all(...params, EXACT_SCAN_MAX_CANDIDATES + 1) as number[];
        if (candidates.length === 0) return [];
        if (candidates.length <= EXACT_SCAN_MAX_CANDIDATES) {
          return this.rescore(tables, q, candidates, k);
        }
      }
      const constraint = filtered ? `AND v.rowid IN (SELECT p.pk FROM products p ${where(sql)})` : '';
      // Under a filter the k nearest matching products lie farther out, where the sign bits rank
      // less well: twice the candidates (recall@20 0.945 → 0.98 at 100k with a 10% filter).
      const candidates = Math.max(this.tuning.approximateCandidates * (filtered ? 2 : 1), k * APPROXIMATE_CANDIDATES_PER_HIT);
      if (tables.binary && tables.count > this.tuning.approximateAbove && candidates <= KNN_MAX_K) {
        const pks = this.sql(
          filtered
            ? `SELECT b.pk FROM products p CROSS JOIN ${tables.binary} b ON b.pk = p.pk ${where(sql)}
               ORDER BY vec_distance_hamming(vec_bit(b.bits), vec_quantize_binary(?)) LIMIT ?`
            : `SELECT b.pk FROM ${tables.binary} b ORDER BY vec_distance_hamming(vec_bit(b.bits), vec_quantize_binary(?)) LIMIT ?`,
        )
          .pluck()
          .all(...params, q, candidates) as number[];
        return this.rescore(tables, q, pks, k);
      }
      const knn = (n: number) =>
        this.sql(
          `SELECT p.id AS productId, knn.distance AS distance
           FROM (SELECT v.rowid AS pk, v.distance AS distance FROM ${tables.product} v WHERE v.embedding MATCH ? AND k = ? ${constraint}) knn
           JOIN products p ON p.pk = knn.pk`,
        ).all(q, n, ...params) as { productId: string; distance: number }[];
      const exact = () =>
        this.sql(
          `SELECT p.id AS productId, vec_distance_cosine(v.embedding, ?) AS distance
           FROM ${tables.product} v CROSS JOIN products p ON p.pk = v.rowid ${filtered ? where(sql) : ''}
           ORDER BY distance, p.id LIMIT ?`,
        ).all(q, ...params, k) as { productId: string; distance: number }[];

      if (k >= KNN_MAX_K) scored = exact();
      else {
        let n = k + 1;
        for (;;) {
          const rows = knn(n).sort(byDistanceThenId);
          if (rows.length < n || rows[n - 1].distance !== rows[k - 1].distance) {
            scored = rows;
            break;
          }
          if (n === KNN_MAX_K) {
            scored = exact();
            break;
          }
          n = Math.min(n * 2, KNN_MAX_K);
        }
      }
      return this.hits(scored.sort(byDistanceThenId).slice(0, k));
    });
  }

  /** The k of these products nearest to q, scored exactly, one vec0 point lookup each. */
  private rescore(tables: ModelTables, q: Buffer, pks: number[], k: number): Hit[] {
    // CROSS JOIN fixes the loop order: candidates outside, one vec0 point lookup each.
    return this.hits(
      this.sql(
        `SELECT p.id AS productId, vec_distance_cosine(v.embedding, ?) AS distance
         FROM json_each(?) c CROSS JOIN ${tables.product} v ON v.rowid = c.value CROSS JOIN products p ON p.pk = c.value
         ORDER BY distance, p.id LIMIT ?`,
      ).all(q, JSON.stringify(pks), k) as { productId: string; distance: number }[],
    );
  }

  private hits(rows: { productId: string; distance: number }[]): Hit[] {
    return rows.map(({ productId, distance }) => ({ productId, score: 1 - distance }));
  }

  // -------------------------------------------------------------------------------------------
  // Taxonomy

  async getTaxonomy(): Promise<TaxonomyRow | undefined> {
    return this.run('getTaxonomy', 'read', () => {
      const row = this.sql('SELECT version, facets, created_at FROM taxonomies ORDER BY version DESC LIMIT 1').get() as
        { version: number; facets: string; created_at: string } | undefined;
      return row && { version: row.version, facets: JSON.parse(row.facets) as FacetRow[], createdAt: row.created_at };
    });
  }

  async setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow> {
    const text = JSON.stringify(facets);
    return this.run('setTaxonomy', 'write', () => {
      const version = this.sql('SELECT coalesce(max(version), 0) + 1 FROM taxonomies').pluck().get() as number;
      const createdAt = this.now().toISOString();
      this.sql('INSERT INTO taxonomies (version, facets, created_at) VALUES (?, ?, ?)').run(version, text, createdAt);
      return { version, facets: JSON.parse(text) as FacetRow[], createdAt };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Tags

  /** Tags of products that do not exist are skipped, as are tags for a (product, facet) with manual tags. */
  async replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void> {
    checkAutoTags(productIds, tags);
    return this.run('replaceAutoTags', 'write', () => this.writeAutoTags(new Set(productIds), tags));
  }

  /** replaceAutoTags' writes, inside the caller's transaction. */
  private writeAutoTags(named: Set<string>, tags: TagRow[]): void {
    const ids = JSON.stringify([...named]);
    this.sql("DELETE FROM tags WHERE source = 'auto' AND product_id IN (SELECT value FROM json_each(?))").run(ids);
    if (tags.length === 0) return;
    // Which products exist and which of their facets have manual tags, looked up once for the whole
    // write (inside its transaction, so nothing changes meanwhile) instead of twice a row.
    const present = new Set(this.sql('SELECT id FROM products WHERE id IN (SELECT value FROM json_each(?))').pluck().all(ids));
    const manual = new Set(
      this.sql(
        "SELECT DISTINCT product_id || char(0) || facet FROM tags WHERE source = 'manual' AND product_id IN (SELECT value FROM json_each(?))",
      )
        .pluck()
        .all(ids),
    );
    const insert = this.sql(
      `INSERT INTO tags (${TAG_COLUMNS}) VALUES (?, ?, ?, 'auto', ?, ?, ?, ?, ?)
       ON CONFLICT (product_id, facet, label) DO UPDATE SET score = excluded.score, similarity = excluded.similarity,
         needs_review = excluded.needs_review, model = excluded.model, taxonomy_version = excluded.taxonomy_version`,
    );
    for (const t of tags) {
      if (!present.has(t.productId) || manual.has(`${t.productId}\0${t.facet}`)) continue;
      insert.run(t.productId, t.facet, t.label, t.score, t.similarity, t.needsReview ? 1 : 0, t.model, t.taxonomyVersion);
    }
  }

  /** Setting manual tags on a facet drops its automatic ones; tags for a product that does not exist are skipped. */
  async setManualTags(productId: string, facet: string, tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[]): Promise<void> {
    return this.run('setManualTags', 'write', () => {
      const sources = tags.length > 0 ? "('auto', 'manual')" : "('manual')";
      this.sql(`DELETE FROM tags WHERE product_id = ? AND facet = ? AND source IN ${sources}`).run(productId, facet);
      const insert = this.sql(
        `INSERT INTO tags (${TAG_COLUMNS})
         SELECT ?, ?, ?, 'manual', ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM products WHERE id = ?)
         ON CONFLICT (product_id, facet, label) DO UPDATE SET score = excluded.score, similarity = excluded.similarity,
           needs_review = excluded.needs_review, model = excluded.model, taxonomy_version = excluded.taxonomy_version`,
      );
      for (const t of tags) {
        insert.run(productId, facet, t.label, t.score, t.similarity, t.needsReview ? 1 : 0, t.model, t.taxonomyVersion, productId);
      }
    });
  }

  async getTags(productIds: string[]): Promise<Map<string, TagRow[]>> {
    return this.run('getTags', 'read', () => {
      const rows = this.sql(
        `SELECT ${TAG_COLUMNS} FROM tags WHERE product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, facet, label`,
      ).all(JSON.stringify(productIds)) as TagSqlRow[];
      const byProduct = new Map<string, TagRow[]>();
      for (const row of rows) {
        const list = byProduct.get(row.product_id) ?? [];
        list.push(tagOf(row));
        byProduct.set(row.product_id, list);
      }
      return byProduct;
    });
  }

  async labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]> {
    check('k', k, nonNegativeInt);
    return this.run(
      'labelTopProducts',
      'read',
      () =>
        this.sql(
          'SELECT product_id AS productId, score FROM tags INDEXED BY tags_by_label WHERE facet = ? AND label = ? ORDER BY score DESC, product_id LIMIT ?',
        ).all(facet, label, k) as Hit[],
    );
  }

  async tagsForReview(first: number, after?: string): Promise<Page<TagRow>> {
    check('first', first, nonNegativeInt);
    return this.run('tagsForReview', 'read', () => {
      const params: unknown[] = [];
      let keyset = '';
      if (after !== undefined) {
        keyset = 'AND (product_id, facet, label) > (?, ?, ?)';
        params.push(...decodeTagCursor(after));
      }
      const rows = this.sql(
        `SELECT ${TAG_COLUMNS} FROM tags INDEXED BY tags_for_review WHERE source = 'auto' AND needs_review = 1 ${keyset}
         ORDER BY product_id, facet, label LIMIT ?`,
      ).all(...params, first + 1) as TagSqlRow[];
      const items = rows.slice(0, first).map(tagOf);
      const last = items[items.length - 1];
      return {
        items,
        hasNextPage: rows.length > first,
        endCursor: last ? encodeCursor(JSON.stringify([last.productId, last.facet, last.label])) : undefined,
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  async createJob(job: NewJob): Promise<{ job: JobRow; created: boolean }> {
    checkVectorModel(job.model);
    const key = job.idempotencyKey ?? null;
    const model = modelKey(job.model);
    return this.run('createJob', 'write', () => {
      if (key !== null) {
        const existing = this.sql('SELECT * FROM jobs WHERE idempotency_key = ?').get(key) as JobSqlRow | undefined;
        if (existing) return { job: jobOf(existing), created: false };
      }
      const { active } = this.modelState();
      const changesModel = job.reembed && active !== null && modelKey(active) !== model;
      const { sql, params } = filterConditions(job.filter);
      if (changesModel) {
        if (hasConditions(job.filter)) throw new TypeError('a model change covers the whole catalogue: its filter must be empty');
        const open = this.sql("SELECT * FROM jobs WHERE changes_model = 1 AND status IN ('QUEUED', 'RUNNING')").get() as
          JobSqlRow | undefined;
        if (open) return { job: jobOf(open), created: false };
        const lacking = this.lacksVector(model);
        if (lacking) sql.push(lacking);
      }
      const total = this.sql(`SELECT count(*) FROM products p ${where(sql)}`)
        .pluck()
        .get(...params) as number;
      const id = randomUUID();
      this.sql(
        `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, idempotency_key, created_at)
         VALUES (?, 'QUEUED', ?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, total, JSON.stringify(job.filter), job.reembed ? 1 : 0, model, changesModel ? 1 : 0, key, this.now().toISOString());
      if (changesModel) {
        const { name, dtype, dim } = job.model;
        this.sql('UPDATE catalogue_state SET target = ? WHERE id = 1').run(JSON.stringify({ name, dtype, dim }));
      }
      return { job: jobOf(this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobSqlRow), created: true };
    });
  }

  async getJob(id: string): Promise<JobRow | undefined> {
    return this.run('getJob', 'read', () => {
      const row = this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobSqlRow | undefined;
      return row && jobOf(row);
    });
  }

  async listJobs(first: number): Promise<JobRow[]> {
    return this.run('listJobs', 'read', () =>
      (this.sql('SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?').all(first) as JobSqlRow[]).map(jobOf),
    );
  }

  async cancelJob(id: string): Promise<JobRow | undefined> {
    return this.run('cancelJob', 'write', () => {
      const cancelled = this.sql(
        "UPDATE jobs SET status = 'CANCELLED', finished_at = ? WHERE id = ? AND status IN ('QUEUED', 'RUNNING') RETURNING changes_model",
      )
        .pluck()
        .get(this.now().toISOString(), id) as number | undefined;
      // A model change given up: no model is being built any more.
      if (cancelled === 1) this.sql('UPDATE catalogue_state SET target = NULL WHERE id = 1').run();
      const row = this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobSqlRow | undefined;
      return row && jobOf(row);
    });
  }

  /** One BEGIN IMMEDIATE transaction: the write lock is held from the first read, so two claimers take turns. */
  async claimJobChunk(worker: string, chunkSize: number, model: VectorModel): Promise<JobChunk | undefined> {
    check('chunkSize', chunkSize, positiveInt);
    checkVectorModel(model);
    const mine = modelKey(model);
    return this.run('claimJobChunk', 'write', () => {
      const now = this.now().toISOString();
      const jobs = this.sql(
        "SELECT * FROM jobs INDEXED BY jobs_active WHERE status IN ('QUEUED', 'RUNNING') ORDER BY created_at, id",
      ).all() as JobSqlRow[];
      const { active } = this.modelState();
      // The oldest job with work for this model; one that ends while looking (succeeded, failed) or whose last chunks are claimed by others is passed.
      for (const job of jobs) {
        if (job.reembed === 1 ? job.model !== mine : active === null || modelKey(active) !== mine) continue;
        const claimed = this.claimIn(job, worker, chunkSize, now);
        if (claimed) return claimed;
      }
      return undefined;
    });
  }

  private claimIn(job: JobSqlRow, worker: string, chunkSize: number, now: string): JobChunk | undefined {
    const token = randomUUID();
    const start = () => this.sql("UPDATE jobs SET status = 'RUNNING', started_at = coalesce(started_at, ?) WHERE id = ?").run(now, job.id);
    const chunkOf = (seq: number, ids: string[], attempts: number): JobChunk => ({
      jobId: job.id,
      seq,
      productIds: ids,
      claim: token,
      filter: JSON.parse(job.filter) as ProductFilter,
      reembed: job.reembed === 1,
      model: job.model,
      changesModel: job.changes_model === 1,
      attempts,
    });
    const released = this.sql(
      "SELECT seq, product_ids, attempts FROM job_chunks WHERE job_id = ? AND status = 'pending' ORDER BY seq LIMIT 1",
    ).get(job.id) as { seq: number; product_ids: string; attempts: number } | undefined;
    if (released) {
      if (released.attempts >= JOB_CHUNK_MAX_ATTEMPTS) {
        this.failJob(job, `chunk ${released.seq} was claimed ${released.attempts} times without completing; the job stopped.`, now);
        return undefined;
      }
      this.sql(
        "UPDATE job_chunks SET status = 'claimed', claim_token = ?, claimed_by = ?, claimed_at = ?, attempts = attempts + 1 WHERE job_id = ? AND seq = ?",
      ).run(token, worker, now, job.id, released.seq);
      start();
      return chunkOf(released.seq, JSON.parse(released.product_ids) as string[], released.attempts + 1);
    }
    if (job.exhausted === 0) {
      const { sql, params } = filterConditions(JSON.parse(job.filter) as ProductFilter);
      if (job.cursor !== null) {
        sql.push('p.id > ?');
        params.push(job.cursor);
      }
      const lacking = job.changes_model === 1 ? this.lacksVector(job.model) : undefined;
      if (lacking) sql.push(lacking);
      const ids = this.sql(`SELECT p.id FROM products p ${where(sql)} ORDER BY p.id LIMIT ?`)
        .pluck()
        .all(...params, chunkSize + 1) as string[];
      const cut = ids.slice(0, chunkSize);
      const exhausted = ids.length <= chunkSize ? 1 : 0;
      this.sql('UPDATE jobs SET cursor = ?, exhausted = ? WHERE id = ?').run(
        cut.length > 0 ? cut[cut.length - 1] : job.cursor,
        exhausted,
        job.id,
      );
      if (cut.length > 0) {
        const seq = (this.sql('SELECT coalesce(max(seq), 0) + 1 FROM job_chunks WHERE job_id = ?').pluck().get(job.id) as number) ?? 1;
        this.sql(
          "INSERT INTO job_chunks (job_id, seq, product_ids, status, claim_token, claimed_by, claimed_at, attempts) VALUES (?, ?, ?, 'claimed', ?, ?, ?, 1)",
        ).run(job.id, seq, JSON.stringify(cut), token, worker, now);
        start();
        return chunkOf(seq, cut, 1);
      }
    }
    // Nothing left to cut: the job is done once no chunk is left undone (claimed ones finish elsewhere).
    const open = this.sql("SELECT count(*) FROM job_chunks WHERE job_id = ? AND status <> 'done'").pluck().get(job.id) as number;
    if (open === 0 && this.finish(job.id, now) === 'again') {
      return this.claimIn(this.sql('SELECT * FROM jobs WHERE id = ?').get(job.id) as JobSqlRow, worker, chunkSize, now);
    }
    return undefined; // done, or its last chunks are claimed by others
  }

  /**
   * Ends a job with nothing left to cut and no chunk undone. A tagging or refreshing job has
   * SUCCEEDED. A model change FAILED if any product failed (the active model stays); goes 'again'
   * over products still without a vector if some were added meanwhile; or else switches over: its
   * model becomes the active one, and a tagging job re-tags every product with it.
   */
  private finish(jobId: string, now: string): 'done' | 'again' {
    const job = this.sql('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobSqlRow;
    const succeed = () =>
      this.sql("UPDATE jobs SET status = 'SUCCEEDED', started_at = coalesce(started_at, ?), finished_at = ? WHERE id = ?").run(
        now,
        now,
        jobId,
      );
    if (job.changes_model === 0) {
      succeed();
      return 'done';
    }
    const { active, target } = this.modelState();
    if (job.failed > 0 || target === null || modelKey(target) !== job.model) {
      const message =
        job.failed > 0
          ? `${job.failed} product(s) could not be embedded with ${job.model}, so the catalogue still uses ${active ? modelKey(active) : 'no model'}; fix or delete them (see the errors), then start the job again: it embeds only what is left.`
          : `the catalogue's target model is no longer ${job.model}; the job stopped.`;
      this.failJob(job, message, now, MODEL_CHANGE_INCOMPLETE);
      return 'done';
    }
    const lacking = this.lacksVector(job.model);
    const all = this.sql('SELECT count(*) FROM products').pluck().get() as number;
    const left = lacking ? (this.sql(`SELECT count(*) FROM products p WHERE ${lacking}`).pluck().get() as number) : all;
    if (left > 0) {
      this.sql('UPDATE jobs SET cursor = NULL, exhausted = 0, total = total + ? WHERE id = ?').run(left, jobId);
      return 'again';
    }
    this.sql('UPDATE catalogue_state SET active = target, target = NULL WHERE id = 1').run();
    succeed();
    this.sql(
      `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, created_at) VALUES (?, 'QUEUED', ?, '{}', 0, ?, 0, ?)`,
    ).run(randomUUID(), all, job.model, now);
    return 'done';
  }

  private failJob(job: JobSqlRow, message: string, now: string, code = 'JOB_FAILED'): void {
    const errors = (JSON.parse(job.errors) as JobError[]).concat({ field: null, message, code }).slice(-JOB_MAX_ERRORS);
    this.sql("UPDATE jobs SET status = 'FAILED', errors = ?, finished_at = ? WHERE id = ?").run(JSON.stringify(errors), now, job.id);
  }

  async completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean> {
    checkAutoTags(outcome.productIds, outcome.tags);
    const { write } = outcome;
    if (write) this.checkWrite(write);
    const rows = write ? productParams(write.products) : [];
    return this.run('completeJobChunk', 'write', () => {
      const job = this.sql('SELECT * FROM jobs WHERE id = ?').get(chunk.jobId) as JobSqlRow | undefined;
      const current = this.sql('SELECT status, claim_token FROM job_chunks WHERE job_id = ? AND seq = ?').get(chunk.jobId, chunk.seq) as
        { status: string; claim_token: string | null } | undefined;
      if (!job || job.status !== 'RUNNING' || current?.status !== 'claimed' || current.claim_token !== chunk.claim) return false;
      if (write) this.writeVectors(write, rows);
      this.writeAutoTags(new Set(outcome.productIds), outcome.tags);
      this.sql("UPDATE job_chunks SET status = 'done', claim_token = NULL WHERE job_id = ? AND seq = ?").run(chunk.jobId, chunk.seq);
      const errors = (JSON.parse(job.errors) as JobError[]).concat(outcome.errors).slice(0, JOB_MAX_ERRORS);
      this.sql('UPDATE jobs SET processed = processed + ?, failed = failed + ?, errors = ? WHERE id = ?').run(
        outcome.processed,
        outcome.failed,
        JSON.stringify(errors),
        chunk.jobId,
      );
      if (job.exhausted === 1) {
        const open = this.sql("SELECT count(*) FROM job_chunks WHERE job_id = ? AND status <> 'done'").pluck().get(chunk.jobId) as number;
        if (open === 0) this.finish(chunk.jobId, this.now().toISOString());
      }
      return true;
    });
  }

  async reclaimStaleJobChunks(claimedBefore: string): Promise<number> {
    return this.run('reclaimStaleJobChunks', 'write', () => {
      const result = this.sql(
        "UPDATE job_chunks SET status = 'pending', claim_token = NULL, claimed_by = NULL WHERE status = 'claimed' AND claimed_at < ?",
      ).run(claimedBefore);
      return result.changes;
    });
  }
}

/**
 * Opens (creating if need be) the catalogue database at `options.path`: WAL, foreign keys on, a
 * busy timeout, sqlite-vec loaded. Call `migrate()` before anything else.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<CatalogueStore> {
  const path = check('path', options?.path, nonEmpty);
  const busyTimeoutMs = check('busyTimeoutMs', options.busyTimeoutMs ?? 5000, timeoutMs);
  const mmapBytes = check('mmapBytes', options.mmapBytes ?? 2 ** 31, nonNegativeInt);
  const approximateAbove = check('approximateSearchAbove', options.approximateSearchAbove ?? 20_000, nonNegativeInt);
  const approximateCandidates = check('approximateSearchCandidates', options.approximateSearchCandidates ?? 1200, integer(1, KNN_MAX_K));
  const maxBytes = options.maxBytes === undefined ? undefined : check('maxBytes', options.maxBytes, positiveInt);
  let db: Database.Database | undefined;
  try {
    // SQLite's busy handler only while opening (nothing else is served yet); afterwards calls wait
    // for locks on timers (see SqliteStore.run), so the handler is turned off.
    db = new Database(path, { timeout: busyTimeoutMs });
    sqliteVec.load(db);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`mmap_size = ${mmapBytes}`);
    if (maxBytes !== undefined) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / pageSize))}`);
    }
    db.pragma('busy_timeout = 0');
    return new SqliteStore(db, options.now ?? (() => new Date()), { approximateAbove, approximateCandidates }, busyTimeoutMs);
  } catch (error) {
    db?.close();
    // better-sqlite3 checks the directory itself, before SQLite would say SQLITE_CANTOPEN.
    const cantOpen = error instanceof TypeError && /directory does not exist/.test(error.message);
    throw storeError(cantOpen ? Object.assign(error, { code: 'SQLITE_CANTOPEN' }) : error, `opening ${path}`, false);
  }
}
