import { randomUUID } from 'node:crypto';

import { Pool, type PoolClient } from 'pg';

import { check, integer, nonNegativeInt, positiveInt, setOnly, timeoutMs, type Rule } from '../../functions/options';
import { checkAutoTags, checkProductsWrite, checkVectorModel } from './checks';
import { compareIds } from './order';
import {
  JOB_CHUNK_MAX_ATTEMPTS,
  JOB_MAX_ERRORS,
  MODEL_CHANGE_INCOMPLETE,
  modelKey,
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
import { toStoreError } from './postgres/errors';
import {
  ITERATIVE_SCAN_PGVECTOR,
  LATEST_VERSION,
  MAX_DIM,
  MIGRATIONS,
  MIN_PGVECTOR,
  modelTableName,
  modelTableStatements,
  Names,
  SCHEMA_LOCK_KEY,
  versionAtLeast,
} from './postgres/schema';
import {
  attributeEntries,
  decodeIdCursor,
  decodeKeyCursor,
  encodeCursor,
  filterConditions,
  firstNonFinite,
  Params,
  parseVector,
  vectorText,
} from './postgres/sql';

/**
 * The catalogue in PostgreSQL with pgvector: for several gateways sharing one catalogue.
 *
 * Layout (see postgres/schema.ts): fixed tables for products, tags, taxonomies and image vectors,
 * and one product-vector table per model, named from a hash of the model key, with a typed
 * `vector(dim)` column and its own HNSW index (cosine). A table per model rather than one table with
 * an untyped column and per-model partial indexes: the database itself enforces each model's dim,
 * every index covers a whole table (no partial-index predicate the planner must prove from a
 * parameter), the planner keeps statistics per model, and a model is dropped with its table.
 *
 * Search goes through the HNSW index with pgvector's iterative index scans (0.8+, strict order), so
 * a filter applied after the index no longer leaves fewer than k hits while more exist. When the
 * index still returns fewer than k (the filter matches fewer than k products, or the scan reached
 * `maxScanTuples`), or the filter names ids, the search is an exact scan of the filtered candidates:
 * always min(k, matching) hits. Ties are broken by product id, exactly, also across the k-th place.
 */

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`. Never shown in errors. */
  url: string;
  /** The schema holding the catalogue's tables, made by migrate(). Default "public". */
  schema: string;
  /** Connections in the pool. Default 10. */
  poolSize: number;
  /** Deadline to open a connection, in ms. Default 5000. */
  connectTimeoutMs: number;
  /**
   * Deadline of one statement, in ms: the server's statement_timeout, and the client's one second
   * later (for a server that stopped answering altogether). Default 30000.
   */
  statementTimeoutMs: number;
  /**
   * Most index entries one HNSW iterative scan visits (pgvector's hnsw.max_scan_tuples) before a
   * filtered search falls back to an exact scan of the filtered products. Default 20000.
   */
  maxScanTuples: number;
  /**
   * Candidates an HNSW search keeps (pgvector's hnsw.ef_search; at least k + 1, at most 1000), and
   * twice as many under a filter. pgvector's default, 40, gave recall@20 of 0.89 (0.71 filtered) on
   * 10,000 clustered 512-dim vectors; 200 gives 0.99, and 400 under a 10% filter 0.97. Default 200.
   */
  efSearch: number;
  /**
   * A filtered search whose filter matches at most this many products is an exact scan of them
   * (counted first, never past this number). Under a filter matching 10% of 100,000 clustered
   * vectors an HNSW scan found 0.87 of the true 20 nearest even at ef_search 400; the exact scan
   * finds them all. 0: filtered searches go through the index. Default 20000.
   */
  exactSearchMatching: number;
}

export const DEFAULT_POSTGRES_STORE_OPTIONS: Omit<PostgresStoreOptions, 'url'> = {
  schema: 'public',
  poolSize: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  maxScanTuples: 20_000,
  efSearch: 200,
  exactSearchMatching: 20_000,
};

/** A schema name used unquoted-safe: lower-case letters, digits and underscores, at most 63. */
export const schemaName: Rule<string> = {
  expected: 'a schema name of lower-case letters, digits and underscores (at most 63, not starting with a digit)',
  accepts: (value): value is string => typeof value === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(value) && !value.startsWith('pg_'),
  parse: (raw) => raw.trim(),
};

const CLIENT_DEADLINE_MARGIN_MS = 1_000;

/** Opens a store on a pool of connections; nothing is connected until the first call (usually migrate()). */
export async function openPostgresStore(options: Partial<PostgresStoreOptions> & { url: string }): Promise<PostgresStore> {
  return new PostgresStore({ ...DEFAULT_POSTGRES_STORE_OPTIONS, ...setOnly(options), url: options.url });
}

interface ModelTable {
  key: string;
  dim: number;
  /** The product-vector table's bare name. */
  table: string;
}

interface ProductDbRow {
  id: string;
  title: string | null;
  description: string | null;
  attributes: Record<string, unknown> | null;
  image_hashes: string[];
  image_urls: (string | null)[];
  created_at: string;
  updated_at: string;
}

interface TagDbRow {
  product_id: string;
  facet: string;
  label: string;
  source: 'auto' | 'manual';
  score: number;
  similarity: number;
  needs_review: boolean;
  model: string;
  taxonomy_version: number;
}

interface JobDbRow {
  id: string;
  status: JobStatus;
  total: number;
  processed: number;
  failed: number;
  errors: JobError[];
  filter: ProductFilter;
  reembed: boolean;
  model: string;
  changes_model: boolean;
  idempotency_key: string | null;
  cursor: string | null;
  exhausted: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function toJob(row: JobDbRow): JobRow {
  return {
    id: row.id,
    status: row.status,
    total: row.total,
    processed: row.processed,
    failed: row.failed,
    errors: row.errors,
    filter: row.filter,
    reembed: row.reembed,
    model: row.model,
    changesModel: row.changes_model,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

const ACTIVE = `status IN ('QUEUED', 'RUNNING')`;

interface Neighbour {
  product_id: string;
  distance: number;
}

type Work<T> = (client: PoolClient, discard: () => void) => Promise<T>;

const PRODUCT_COLUMNS = 'p.id, p.title, p.description, p.attributes, p.image_hashes, p.image_urls, p.created_at, p.updated_at';
const TAG_COLUMNS = 'product_id, facet, label, source, score, similarity, needs_review, model, taxonomy_version';

function toProduct(row: ProductDbRow): ProductRow {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    attributes: row.attributes,
    imageHashes: row.image_hashes,
    imageUrls: row.image_urls,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toTag(row: TagDbRow): TagRow {
  return {
    productId: row.product_id,
    facet: row.facet,
    label: row.label,
    score: row.score,
    similarity: row.similarity,
    source: row.source,
    needsReview: row.needs_review,
    model: row.model,
    taxonomyVersion: row.taxonomy_version,
  };
}

/** Refuses, before anything is written, a vector whose length is not the model's dim. */
function checkVector(model: VectorModel, vector: Float32Array, what: string): void {
  if (vector.length !== model.dim) {
    throw new StoreError(
      'DIMENSION_MISMATCH',
      `Model "${modelKey(model)}" has ${model.dim}-dimensional vectors, but ${what} has ${vector.length} dimensions.`,
    );
  }
  const bad = firstNonFinite(vector);
  if (bad >= 0) throw new TypeError(`${what} must hold finite numbers, got ${vector[bad]} at index ${bad}`);
}

/** For checks that need a model where a call has none (plain product rows). */
const PLACEHOLDER_MODEL: VectorModel = { name: 'none', dtype: 'none', dim: 1 };

function stateModel(value: VectorModel | null): VectorModel | null {
  return value && { name: value.name, dtype: value.dtype, dim: value.dim };
}

/** The last of each id: a batch naming one row twice means its last version. */
function lastById<T>(rows: T[], id: (row: T) => string): T[] {
  const byId = new Map<string, T>();
  for (const row of rows) {
    const key = id(row);
    byId.delete(key); // keep the order of last occurrence
    byId.set(key, row);
  }
  return [...byId.values()];
}

/** Nearest first, then by id in code-point order (as COLLATE "C" orders them; `<` compares UTF-16 units). */
function byDistanceThenId(a: Neighbour, b: Neighbour): number {
  return a.distance - b.distance || compareIds(a.product_id, b.product_id);
}

export class PostgresStore implements CatalogueStore {
  readonly kind = 'postgres' as const;
  /** How searches were answered: through the index alone, by an exact scan, or the index then an exact scan. */
  readonly searches = { index: 0, exact: 0, fallback: 0 };
  private readonly pool: Pool;
  private readonly names: Names;
  private readonly maxScanTuples: number;
  private readonly efSearch: number;
  private readonly exactSearchMatching: number;
  /** Model tables known to be committed; a model's dim and table never change once made. */
  private readonly models = new Map<string, ModelTable>();
  /** Whether the server's pgvector has iterative index scans; learnt on first use. */
  private iterativeScan?: boolean;
  private closing?: Promise<void>;

  constructor(options: PostgresStoreOptions) {
    // The URL holds the password: a bad one is refused without being repeated.
    if (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) {
      throw new TypeError('url must be a postgres:// or postgresql:// URL');
    }
    const schema = check('schema', options.schema, schemaName);
    check('poolSize', options.poolSize, positiveInt);
    check('connectTimeoutMs', options.connectTimeoutMs, timeoutMs);
    check('statementTimeoutMs', options.statementTimeoutMs, integer(1, 2 ** 31 - 1 - CLIENT_DEADLINE_MARGIN_MS));
    this.maxScanTuples = check('maxScanTuples', options.maxScanTuples, positiveInt);
    this.efSearch = check('efSearch', options.efSearch, integer(1, 1000));
    this.exactSearchMatching = check('exactSearchMatching', options.exactSearchMatching, nonNegativeInt);
    this.names = new Names(schema);
    this.pool = new Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.statementTimeoutMs,
      query_timeout: options.statementTimeoutMs + CLIENT_DEADLINE_MARGIN_MS,
      application_name: 'clip-gateway',
      keepAlive: true,
    });
    // An idle connection the server closed (a restart, a failover) is dropped by the pool and
    // replaced on the next checkout; without a listener its error would end the process.
    this.pool.on('error', () => {});
  }

  // -------------------------------------------------------------------------------------------
  // Connections and transactions

  /** Runs `work` with a pooled connection; a connection that failed is closed rather than reused. */
  private async withClient<T>(work: Work<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error);
    }
    let broken = false;
    const discard = () => {
      broken = true;
    };
    // A connection lost between two statements reports here; the next statement then fails.
    client.on('error', discard);
    try {
      return await work(client, discard);
    } catch (error) {
      const mapped = toStoreError(error);
      if (mapped instanceof StoreError && mapped.code === 'STORE_UNAVAILABLE') broken = true;
      throw mapped;
    } finally {
      client.off('error', discard);
      client.release(broken);
    }
  }

  /** BEGIN, `work`, COMMIT on one connection; ROLLBACK when anything fails, so nothing is half-written. */
  private async inTransaction<T>(client: PoolClient, discard: () => void, work: Work<T>, begin = 'BEGIN'): Promise<T> {
    await client.query(begin);
    try {
      const result = await work(client, discard);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        discard(); // the connection's state is unknown: close it
      }
      throw error;
    }
  }

  private transaction<T>(work: Work<T>): Promise<T> {
    return this.withClient((client, discard) => this.inTransaction(client, discard, work));
  }

  // -------------------------------------------------------------------------------------------
  // Schema

  async migrate(): Promise<void> {
    const n = this.names;
    await this.transaction(async (client) => {
      // Several gateways starting at once take turns; the lock ends with the transaction.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
      // Looks before creating: CREATE ... IF NOT EXISTS asks for privileges even when the thing
      // exists, and a gateway whose role may only use the tables must still start.
      const found = await client.query<{ extension: string | null; schema: boolean; versions: boolean }>(
        `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS extension,
                EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
                to_regclass($2) IS NOT NULL AS versions`,
        [n.schemaName, n.schemaVersion],
      );
      let version = found.rows[0].extension;
      if (version === null) {
        await client.query('CREATE EXTENSION IF NOT EXISTS vector');
        version = (await client.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)).rows[0].v;
      }
      if (!versionAtLeast(version, MIN_PGVECTOR)) {
        throw new Error(`the catalogue needs pgvector ${MIN_PGVECTOR.join('.')} or later (HNSW indexes); the database has ${version}`);
      }
      this.iterativeScan = versionAtLeast(version, ITERATIVE_SCAN_PGVECTOR);
      if (!found.rows[0].schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${n.schema}`);
      if (!found.rows[0].versions) await client.query(`CREATE TABLE IF NOT EXISTS ${n.schemaVersion} (version integer NOT NULL)`);
      const current = (await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${n.schemaVersion}`)).rows[0].v ?? 0;
      if (current > LATEST_VERSION) {
        throw new Error(
          `the catalogue's schema is at version ${current}, newer than this gateway's ${LATEST_VERSION}: upgrade the gateway`,
        );
      }
      for (let v = current + 1; v <= LATEST_VERSION; v++) {
        for (const statement of MIGRATIONS[v - 1](n)) await client.query(statement);
      }
      if (current < LATEST_VERSION) {
        await client.query(`DELETE FROM ${n.schemaVersion}`);
        await client.query(`INSERT INTO ${n.schemaVersion} (version) VALUES ($1)`, [LATEST_VERSION]);
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------
  // Products

  async upsertProducts(products: ProductRow[]): Promise<void> {
    checkProductsWrite({ model: PLACEHOLDER_MODEL, products, imageVectors: [], imageBytes: [], productVectors: [] });
    if (products.length === 0) return;
    await this.transaction((client) => this.writeProducts(client, products));
  }

  /** upsertProducts' writes, inside the caller's transaction. */
  private async writeProducts(client: PoolClient, products: ProductRow[]): Promise<void> {
    if (products.length === 0) return;
    const n = this.names;
    // A product named twice in one batch: its last version, created when it first appeared.
    const created = new Map<string, string>();
    for (const p of products) if (!created.has(p.id)) created.set(p.id, p.createdAt);
    const rows = JSON.stringify(
      lastById(products, (p) => p.id).map((p) => ({
        id: p.id,
        title: p.title,
        description: p.description,
        attributes: p.attributes,
        image_hashes: p.imageHashes,
        image_urls: p.imageUrls,
        created_at: created.get(p.id),
        updated_at: p.updatedAt,
      })),
    );
    // Vectors of every model made from images a product no longer has are dropped first.
    const tables = (await client.query<{ table_name: string }>(`SELECT table_name FROM ${n.vectorModels} ORDER BY table_name`)).rows;
    for (const { table_name } of tables) {
      await client.query(
        `DELETE FROM ${n.table(table_name)} v USING ${n.products} p, jsonb_to_recordset($1::jsonb) AS r(id text, image_hashes jsonb)
         WHERE v.product_id = p.id AND p.id = r.id AND to_jsonb(p.image_hashes) <> r.image_hashes`,
        [rows],
      );
    }
    await client.query(
      `INSERT INTO ${n.products} AS p (id, title, description, attributes, image_hashes, image_urls, created_at, updated_at)
       SELECT r.id, r.title, r.description, NULLIF(r.attributes, 'null'::jsonb),
              ARRAY(SELECT h FROM jsonb_array_elements_text(r.image_hashes) WITH ORDINALITY AS x(h, i) ORDER BY i),
              ARRAY(SELECT u FROM jsonb_array_elements_text(r.image_urls) WITH ORDINALITY AS x(u, i) ORDER BY i),
              r.created_at, r.updated_at
       FROM jsonb_to_recordset($1::jsonb)
         AS r(id text, title text, description text, attributes jsonb, image_hashes jsonb, image_urls jsonb, created_at text, updated_at text)
       ON CONFLICT (id) DO UPDATE SET
         title = EXCLUDED.title, description = EXCLUDED.description, attributes = EXCLUDED.attributes,
         image_hashes = EXCLUDED.image_hashes, image_urls = EXCLUDED.image_urls, updated_at = EXCLUDED.updated_at`,
      [rows],
    );
  }

  async saveProducts(write: ProductsWrite): Promise<void> {
    this.checkWrite(write);
    const table = await this.transaction(async (client) => {
      const made = await this.writeVectors(client, write);
      if (write.tags) await this.writeAutoTags(client, write.tags.productIds, write.tags.tags);
      return made;
    });
    this.models.set(table.key, table);
  }

  private checkWrite(write: ProductsWrite): void {
    checkProductsWrite(write, MAX_DIM);
    for (const { hash, vector } of write.imageVectors) checkVector(write.model, vector, `the vector of image ${hash}`);
    for (const { productId, vector } of write.productVectors) checkVector(write.model, vector, `the vector of product ${productId}`);
  }

  /** A write's products, vectors and kept bytes (not its tags), inside the caller's transaction; returns the model's table. */
  private async writeVectors(client: PoolClient, write: ProductsWrite): Promise<ModelTable> {
    await this.writeProducts(client, write.products);
    const made = await this.modelForWrite(client, write.model);
    await this.writeImageVectors(client, made, write.imageVectors);
    if (write.imageBytes.length > 0) {
      const kept = lastById(write.imageBytes, (b) => b.hash);
      await client.query(
        `INSERT INTO ${this.names.imageBytes} (hash, bytes) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (hash) DO NOTHING`,
        [kept.map((b) => b.hash), kept.map((b) => Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength))],
      );
    }
    const fetched = lastById(write.fetchedUrls ?? [], (f) => f.url);
    if (fetched.length > 0) {
      await client.query(
        `INSERT INTO ${this.names.fetchedUrls} (url, hash, etag, last_modified)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (url) DO UPDATE SET hash = EXCLUDED.hash, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified`,
        [fetched.map((f) => f.url), fetched.map((f) => f.hash), fetched.map((f) => f.etag), fetched.map((f) => f.lastModified)],
      );
    }
    await this.writeProductVectors(client, made, write.productVectors);
    return made;
  }

  async getProducts(ids: string[]): Promise<ProductRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.withClient(
      async (client) =>
        (await client.query<ProductDbRow>(`SELECT ${PRODUCT_COLUMNS} FROM ${this.names.products} p WHERE p.id = ANY($1::text[])`, [ids]))
          .rows,
    );
    const byId = new Map(rows.map((row) => [row.id, toProduct(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async deleteProducts(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    // Tags and product vectors go with them (ON DELETE CASCADE); image vectors are by content and stay.
    const rows = await this.transaction(
      async (client) =>
        (await client.query<{ id: string }>(`DELETE FROM ${this.names.products} WHERE id = ANY($1::text[]) RETURNING id`, [ids])).rows,
    );
    const deleted = new Set(rows.map((row) => row.id));
    return [...new Set(ids)].filter((id) => deleted.has(id));
  }

  async listProducts(filter: ProductFilter, first: number, after?: string): Promise<Page<ProductRow>> {
    check('first', first, nonNegativeInt);
    const afterId = after === undefined ? undefined : decodeIdCursor(after);
    if (filter.ids?.length === 0) return { items: [], hasNextPage: false, endCursor: undefined };
    const params = new Params();
    const conditions = filterConditions(filter, params, { idColumn: 'p.id', attributesColumn: 'p.attributes', tags: this.names.tags });
    if (afterId !== undefined) conditions.push(`p.id > ${params.add(afterId)}`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const limit = params.add(first + 1);
    const rows = await this.withClient(
      async (client) =>
        (
          await client.query<ProductDbRow>(
            `SELECT ${PRODUCT_COLUMNS} FROM ${this.names.products} p ${where} ORDER BY p.id LIMIT ${limit}`,
            params.values,
          )
        ).rows,
    );
    const items = rows.slice(0, first).map(toProduct);
    return { items, hasNextPage: rows.length > first, endCursor: items.length > 0 ? encodeCursor(items[items.length - 1].id) : undefined };
  }

  // -------------------------------------------------------------------------------------------
  // Models and vectors

  /** A model's table as committed, or undefined; refuses a model whose dim differs from its table's. */
  private async findModel(client: PoolClient, model: VectorModel): Promise<ModelTable | undefined> {
    const key = modelKey(model);
    let found = this.models.get(key);
    if (!found) {
      const row = (
        await client.query<{ dim: number; table_name: string }>(
          `SELECT dim, table_name FROM ${this.names.vectorModels} WHERE model_key = $1`,
          [key],
        )
      ).rows[0];
      if (row) {
        found = { key, dim: row.dim, table: row.table_name };
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
    for (const statement of modelTableStatements(this.names, table, model.dim)) await client.query(statement);
    await client.query(`INSERT INTO ${this.names.vectorModels} (model_key, name, dtype, dim, table_name) VALUES ($1, $2, $3, $4, $5)`, [
      modelKey(model),
      model.name,
      model.dtype,
      model.dim,
      table,
    ]);
    // Remembered by the caller once the transaction commits.
    return { key: modelKey(model), dim: model.dim, table };
  }

  async putImageVectors(model: VectorModel, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model, MAX_DIM);
    for (const { hash, vector } of vectors) checkVector(model, vector, `the vector of image ${hash}`);
    if (vectors.length === 0) return;
    const table = await this.transaction(async (client) => {
      const made = await this.modelForWrite(client, model);
      await this.writeImageVectors(client, made, vectors);
      return made;
    });
    this.models.set(table.key, table);
  }

  private async writeImageVectors(client: PoolClient, table: ModelTable, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    if (vectors.length === 0) return;
    const rows = lastById(vectors, (v) => v.hash);
    await client.query(
      `INSERT INTO ${this.names.imageVectors} (model_key, hash, embedding)
       SELECT $1, r.hash, r.embedding::vector FROM unnest($2::text[], $3::text[]) AS r(hash, embedding)
       ON CONFLICT (model_key, hash) DO UPDATE SET embedding = EXCLUDED.embedding`,
      [table.key, rows.map((r) => r.hash), rows.map((r) => vectorText(r.vector))],
    );
  }

  async getImageVectors(model: VectorModel, hashes: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model, MAX_DIM);
    if (hashes.length === 0) return new Map();
    const rows = await this.withClient(async (client) => {
      if (!(await this.findModel(client, model))) return [];
      return (
        await client.query<{ hash: string; embedding: string }>(
          `SELECT hash, embedding::text AS embedding FROM ${this.names.imageVectors} WHERE model_key = $1 AND hash = ANY($2::text[])`,
          [modelKey(model), hashes],
        )
      ).rows;
    });
    return new Map(rows.map((row) => [row.hash, parseVector(row.embedding)]));
  }

  async getImageBytes(hashes: string[]): Promise<Map<string, Uint8Array>> {
    if (hashes.length === 0) return new Map();
    const rows = await this.withClient(
      async (client) =>
        (
          await client.query<{ hash: string; bytes: Buffer }>(
            `SELECT hash, bytes FROM ${this.names.imageBytes} WHERE hash = ANY($1::text[])`,
            [hashes],
          )
        ).rows,
    );
    return new Map(rows.map((row) => [row.hash, new Uint8Array(row.bytes)]));
  }

  async getFetchedUrls(urls: string[]): Promise<Map<string, FetchedUrl>> {
    if (urls.length === 0) return new Map();
    const rows = await this.withClient(
      async (client) =>
        (
          await client.query<FetchedUrl>(
            `SELECT url, hash, etag, last_modified AS "lastModified" FROM ${this.names.fetchedUrls} WHERE url = ANY($1::text[])`,
            [urls],
          )
        ).rows,
    );
    return new Map(rows.map((row) => [row.url, row]));
  }

  async putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model, MAX_DIM);
    for (const { productId, vector } of rows) checkVector(model, vector, `the vector of product ${productId}`);
    if (rows.length === 0) return;
    const table = await this.transaction(async (client) => {
      const made = await this.modelForWrite(client, model);
      await this.writeProductVectors(client, made, rows);
      return made;
    });
    this.models.set(table.key, table);
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
      `INSERT INTO ${this.names.table(table.table)} (product_id, embedding)
       SELECT r.product_id, r.embedding::vector
       FROM unnest($1::text[], $2::text[], $3::text[]) AS r(product_id, embedding, image_hashes)
       JOIN ${this.names.products} p ON p.id = r.product_id AND (r.image_hashes IS NULL OR to_jsonb(p.image_hashes) = r.image_hashes::jsonb)
       ON CONFLICT (product_id) DO UPDATE SET embedding = EXCLUDED.embedding`,
      [
        unique.map((r) => r.productId),
        unique.map((r) => vectorText(r.vector)),
        unique.map((r) => (r.imageHashes === undefined ? null : JSON.stringify(r.imageHashes))),
      ],
    );
  }

  async getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined> {
    checkVectorModel(model, MAX_DIM);
    const row = await this.withClient(async (client) => {
      const table = await this.findModel(client, model);
      if (!table) return undefined;
      return (
        await client.query<{ embedding: string }>(
          `SELECT embedding::text AS embedding FROM ${this.names.table(table.table)} WHERE product_id = $1`,
          [productId],
        )
      ).rows[0];
    });
    return row ? parseVector(row.embedding) : undefined;
  }

  async getProductVectors(model: VectorModel, productIds: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model, MAX_DIM);
    if (productIds.length === 0) return new Map();
    const rows = await this.withClient(async (client) => {
      const table = await this.findModel(client, model);
      if (!table) return [];
      return (
        await client.query<{ product_id: string; embedding: string }>(
          `SELECT product_id, embedding::text AS embedding FROM ${this.names.table(table.table)} WHERE product_id = ANY($1::text[])`,
          [productIds],
        )
      ).rows;
    });
    return new Map(rows.map((row) => [row.product_id, parseVector(row.embedding)]));
  }

  // -------------------------------------------------------------------------------------------
  // The active model

  getModelState(): Promise<ModelState> {
    return this.withClient((client) => this.modelState(client));
  }

  private async modelState(client: PoolClient, lock = false): Promise<ModelState> {
    const row = (
      await client.query<{ active: VectorModel | null; target: VectorModel | null }>(
        `SELECT active, target FROM ${this.names.catalogueState} WHERE id = 1${lock ? ' FOR UPDATE' : ''}`,
      )
    ).rows[0];
    return { active: stateModel(row.active), target: stateModel(row.target) };
  }

  async claimActiveModel(model: VectorModel): Promise<ModelState> {
    checkVectorModel(model, MAX_DIM);
    const n = this.names;
    return this.transaction(async (client) => {
      const state = await this.modelState(client, true);
      if (state.active) return state;
      // Product vectors stored before models were tracked: the model holding most of them stays the one searched.
      let active: VectorModel = { name: model.name, dtype: model.dtype, dim: model.dim };
      let most = 0;
      const models = (
        await client.query<{ name: string; dtype: string; dim: number; table_name: string }>(
          `SELECT name, dtype, dim, table_name FROM ${n.vectorModels} ORDER BY model_key`,
        )
      ).rows;
      for (const { name, dtype, dim, table_name } of models) {
        const count = Number((await client.query<{ c: string }>(`SELECT count(*) AS c FROM ${n.table(table_name)}`)).rows[0].c);
        if (count > most) [active, most] = [{ name, dtype, dim }, count];
      }
      await client.query(`UPDATE ${n.catalogueState} SET active = $1::jsonb WHERE id = 1`, [JSON.stringify(active)]);
      return { active, target: state.target };
    });
  }

  /** A condition on `products p`: it has no product vector of the model `key` (none has, before the model's first write). */
  private async lacksVector(client: PoolClient, key: string): Promise<string | undefined> {
    const table = (
      await client.query<{ table_name: string }>(`SELECT table_name FROM ${this.names.vectorModels} WHERE model_key = $1`, [key])
    ).rows[0]?.table_name;
    return table && `NOT EXISTS (SELECT 1 FROM ${this.names.table(table)} v WHERE v.product_id = p.id)`;
  }

  async searchProducts(model: VectorModel, query: Float32Array, k: number, filter: ProductFilter = {}): Promise<Hit[]> {
    checkVectorModel(model, MAX_DIM);
    check('k', k, nonNegativeInt);
    checkVector(model, query, 'the query');
    if (k === 0 || filter.ids?.length === 0) return [];
    const q = vectorText(query);
    const neighbours = await this.withClient(async (client, discard) => {
      const table = await this.findModel(client, model);
      if (!table) return [];
      if (filter.ids || (await this.fewMatch(client, table, filter))) {
        // Few candidates (at most ids.length, or at most exactSearchMatching): computing each
        // distance beats walking the graph, and is exact, where a filtered HNSW scan loses recall.
        this.searches.exact++;
        return this.exactSearch(client, table, q, k, filter);
      }
      const search = this.indexSearch(table, q, k + 1, filter);
      const found = await this.withSearchSettings(
        client,
        discard,
        this.candidates(k, filter),
        async () => (await client.query<Neighbour>(search.sql, search.values)).rows,
      );
      if (found.length < k) {
        // Fewer than k matched, or the scan gave up at maxScanTuples: the exact answer, from the filtered products.
        this.searches.fallback++;
        return this.exactSearch(client, table, q, k, filter);
      }
      this.searches.index++;
      found.sort(byDistanceThenId);
      if (found.length > k && found[k].distance === found[k - 1].distance) {
        // Equal distances across the k-th place: the lowest ids among all of them win, found exactly.
        return this.exactSearch(client, table, q, k, filter, found[k - 1].distance);
      }
      return found.slice(0, k);
    });
    return neighbours.map((n) => ({ productId: n.product_id, score: 1 - n.distance }));
  }

  /**
   * The plan of the index search `searchProducts` runs first for these arguments (EXPLAIN, with the
   * same settings): to check that the HNSW index is used.
   */
  async explainSearch(model: VectorModel, query: Float32Array, k: number, filter: ProductFilter = {}): Promise<string> {
    checkVectorModel(model, MAX_DIM);
    check('k', k, nonNegativeInt);
    checkVector(model, query, 'the query');
    return this.withClient(async (client, discard) => {
      const table = await this.findModel(client, model);
      if (!table) return '';
      const search = this.indexSearch(table, vectorText(query), k + 1, filter);
      const plan = await this.withSearchSettings(client, discard, this.candidates(k, filter), () =>
        client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${search.sql}`, search.values),
      );
      return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
  }

  /** Whether a filter (other than ids) matches at most exactSearchMatching products of the model: counted, but never past that. */
  private async fewMatch(client: PoolClient, table: ModelTable, filter: ProductFilter): Promise<boolean> {
    if (!Object.values(filter).some((v) => v !== undefined) || this.exactSearchMatching === 0) return false;
    const params = new Params();
    const from = this.searchFrom(table, filter, params);
    const limit = params.add(this.exactSearchMatching + 1);
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM ${from} LIMIT ${limit}) m`, params.values);
    return Number(rows[0].n) <= this.exactSearchMatching;
  }

  private searchFrom(table: ModelTable, filter: ProductFilter, params: Params): string {
    const conditions = filterConditions(filter, params, {
      idColumn: 'v.product_id',
      attributesColumn: 'p.attributes',
      tags: this.names.tags,
    });
    const join = attributeEntries(filter).length > 0 ? `JOIN ${this.names.products} p ON p.id = v.product_id` : '';
    return `${this.names.table(table.table)} v ${join} ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}`;
  }

  /** Nearest first through the HNSW index (run it with withSearchSettings). */
  private indexSearch(table: ModelTable, query: string, limit: number, filter: ProductFilter): { sql: string; values: unknown[] } {
    const params = new Params();
    const q = params.add(query, '::vector');
    const from = this.searchFrom(table, filter, params);
    const sql = `SELECT v.product_id, v.embedding <=> ${q} AS distance FROM ${from} ORDER BY v.embedding <=> ${q} LIMIT ${params.add(limit)}`;
    return { sql, values: params.values };
  }

  /**
   * Runs `work` in a read-only transaction whose HNSW scans keep `candidates` (ef_search) and use
   * iterative scans (strict order, up to maxScanTuples entries): they keep going until the query's
   * LIMIT of rows pass the filter, where a plain scan stops after ef_search candidates whatever the
   * filter left.
   */
  /** ef_search for a search of k: see PostgresStoreOptions.efSearch. */
  private candidates(k: number, filter: ProductFilter): number {
    const filtered = Object.values(filter).some((v) => v !== undefined);
    return Math.max(k + 1, filtered ? 2 * this.efSearch : this.efSearch);
  }

  private async withSearchSettings<T>(client: PoolClient, discard: () => void, candidates: number, work: () => Promise<T>): Promise<T> {
    const iterative = this.iterativeScan ?? (await this.learnIterativeScan(client));
    // hnsw.ef_search is at most 1000; iterative scans go past it.
    const settings = [
      `SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(40, candidates))}`,
      ...(iterative ? ['SET LOCAL hnsw.iterative_scan = strict_order', `SET LOCAL hnsw.max_scan_tuples = ${this.maxScanTuples}`] : []),
    ];
    return this.inTransaction(
      client,
      discard,
      async () => {
        await client.query(settings.join('; '));
        return work();
      },
      'BEGIN READ ONLY',
    );
  }

  /** Every filtered product's distance, computed (no index order), nearest first and ties by id. */
  private async exactSearch(
    client: PoolClient,
    table: ModelTable,
    query: string,
    k: number,
    filter: ProductFilter,
    maxDistance?: number,
  ): Promise<Neighbour[]> {
    const params = new Params();
    const q = params.add(query, '::vector');
    const from = this.searchFrom(table, filter, params);
    const within = maxDistance === undefined ? '' : `WHERE distance <= ${params.add(maxDistance, '::float8')}`;
    const sql = `WITH candidates AS MATERIALIZED (SELECT v.product_id, v.embedding <=> ${q} AS distance FROM ${from})
      SELECT product_id, distance FROM candidates ${within} ORDER BY distance, product_id LIMIT ${params.add(k)}`;
    return (await client.query<Neighbour>(sql, params.values)).rows;
  }

  private async learnIterativeScan(client: PoolClient): Promise<boolean> {
    const row = (await client.query<{ v: string | null }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)).rows[0];
    this.iterativeScan = row?.v ? versionAtLeast(row.v, ITERATIVE_SCAN_PGVECTOR) : false;
    return this.iterativeScan;
  }

  // -------------------------------------------------------------------------------------------
  // Taxonomy

  async getTaxonomy(): Promise<TaxonomyRow | undefined> {
    const row = await this.withClient(
      async (client) =>
        (
          await client.query<{ version: number; facets: FacetRow[]; created_at: string }>(
            `SELECT version, facets, created_at FROM ${this.names.taxonomies} ORDER BY version DESC LIMIT 1`,
          )
        ).rows[0],
    );
    return row ? { version: row.version, facets: row.facets, createdAt: row.created_at } : undefined;
  }

  async setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow> {
    const createdAt = new Date().toISOString();
    const row = await this.transaction(async (client) => {
      // Two gateways setting a taxonomy at once get versions n and n + 1, not the same n twice.
      await client.query(`LOCK TABLE ${this.names.taxonomies} IN EXCLUSIVE MODE`);
      return (
        await client.query<{ version: number; facets: FacetRow[]; created_at: string }>(
          `INSERT INTO ${this.names.taxonomies} (version, facets, created_at)
           SELECT coalesce(max(version), 0) + 1, $1::jsonb, $2 FROM ${this.names.taxonomies}
           RETURNING version, facets, created_at`,
          [JSON.stringify(facets), createdAt],
        )
      ).rows[0];
    });
    return { version: row.version, facets: row.facets, createdAt: row.created_at };
  }

  // -------------------------------------------------------------------------------------------
  // Tags

  async replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void> {
    if (productIds.length === 0) return;
    await this.transaction((client) => this.writeAutoTags(client, productIds, tags));
  }

  /** replaceAutoTags' writes, inside the caller's transaction. */
  private async writeAutoTags(client: PoolClient, productIds: string[], tags: TagRow[]): Promise<void> {
    if (productIds.length === 0) return;
    const named = new Set(productIds);
    const rows = lastById(
      tags.filter((t) => named.has(t.productId)),
      (t) => JSON.stringify([t.productId, t.facet, t.label]),
    ).map((t) => ({
      product_id: t.productId,
      facet: t.facet,
      label: t.label,
      score: t.score,
      similarity: t.similarity,
      needs_review: t.needsReview,
      model: t.model,
      taxonomy_version: t.taxonomyVersion,
    }));
    const n = this.names;
    {
      // Locks the products, in one order, so that setManualTags cannot slip a manual tag in between
      // the check below and the insert (and two calls cannot deadlock).
      await client.query(`SELECT id FROM ${n.products} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [productIds]);
      await client.query(`DELETE FROM ${n.tags} WHERE product_id = ANY($1::text[]) AND source = 'auto'`, [productIds]);
      if (rows.length === 0) return;
      await client.query(
        `INSERT INTO ${n.tags} (${TAG_COLUMNS})
         SELECT r.product_id, r.facet, r.label, 'auto', r.score, r.similarity, r.needs_review, r.model, r.taxonomy_version
         FROM jsonb_to_recordset($1::jsonb) AS r(product_id text, facet text, label text, score float8, similarity float8,
                                                 needs_review boolean, model text, taxonomy_version integer)
         WHERE EXISTS (SELECT 1 FROM ${n.products} p WHERE p.id = r.product_id)
           AND NOT EXISTS (SELECT 1 FROM ${n.tags} m WHERE m.product_id = r.product_id AND m.facet = r.facet AND m.source = 'manual')`,
        [JSON.stringify(rows)],
      );
    }
  }

  async setManualTags(productId: string, facet: string, tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[]): Promise<void> {
    const rows = lastById(tags, (t) => t.label).map((t) => ({
      label: t.label,
      score: t.score,
      similarity: t.similarity,
      needs_review: t.needsReview,
      model: t.model,
      taxonomy_version: t.taxonomyVersion,
    }));
    const n = this.names;
    await this.transaction(async (client) => {
      const exists = await client.query(`SELECT 1 FROM ${n.products} WHERE id = $1 FOR UPDATE`, [productId]);
      if (exists.rowCount === 0) return; // no product, nothing to tag
      // Manual tags replace the facet's automatic ones too: a (product, facet) has one kind or the other.
      await client.query(`DELETE FROM ${n.tags} WHERE product_id = $1 AND facet = $2 AND (source = 'manual' OR $3::boolean)`, [
        productId,
        facet,
        rows.length > 0,
      ]);
      if (rows.length === 0) return;
      await client.query(
        `INSERT INTO ${n.tags} (${TAG_COLUMNS})
         SELECT $1, $2, r.label, 'manual', r.score, r.similarity, r.needs_review, r.model, r.taxonomy_version
         FROM jsonb_to_recordset($3::jsonb) AS r(label text, score float8, similarity float8, needs_review boolean, model text, taxonomy_version integer)`,
        [productId, facet, JSON.stringify(rows)],
      );
    });
  }

  async getTags(productIds: string[]): Promise<Map<string, TagRow[]>> {
    const result = new Map<string, TagRow[]>(productIds.map((id) => [id, []]));
    if (productIds.length === 0) return result;
    const rows = await this.withClient(
      async (client) =>
        (
          await client.query<TagDbRow>(
            `SELECT ${TAG_COLUMNS} FROM ${this.names.tags} WHERE product_id = ANY($1::text[]) ORDER BY product_id, facet, label`,
            [productIds],
          )
        ).rows,
    );
    for (const row of rows) result.get(row.product_id)?.push(toTag(row));
    return result;
  }

  async labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]> {
    check('k', k, nonNegativeInt);
    if (k === 0) return [];
    const rows = await this.withClient(
      async (client) =>
        (
          await client.query<{ product_id: string; score: number }>(
            `SELECT product_id, score FROM ${this.names.tags} WHERE facet = $1 AND label = $2 ORDER BY score DESC, product_id LIMIT $3`,
            [facet, label, k],
          )
        ).rows,
    );
    return rows.map((row) => ({ productId: row.product_id, score: row.score }));
  }

  async tagsForReview(first: number, after?: string): Promise<Page<TagRow>> {
    check('first', first, nonNegativeInt);
    const key = after === undefined ? undefined : decodeKeyCursor(after, 3);
    const params = new Params();
    const from = key ? `AND (product_id, facet, label) > (${params.add(key[0])}, ${params.add(key[1])}, ${params.add(key[2])})` : '';
    const limit = params.add(first + 1);
    const rows = await this.withClient(
      async (client) =>
        (
          await client.query<TagDbRow>(
            `SELECT ${TAG_COLUMNS} FROM ${this.names.tags} WHERE needs_review AND source = 'auto' ${from}
             ORDER BY product_id, facet, label LIMIT ${limit}`,
            params.values,
          )
        ).rows,
    );
    const items = rows.slice(0, first).map(toTag);
    const last = items[items.length - 1];
    return {
      items,
      hasNextPage: rows.length > first,
      endCursor: last ? encodeCursor([last.productId, last.facet, last.label]) : undefined,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  async createJob(job: NewJob): Promise<{ job: JobRow; created: boolean }> {
    checkVectorModel(job.model, MAX_DIM);
    const n = this.names;
    const key = job.idempotencyKey ?? null;
    const model = modelKey(job.model);
    return this.transaction(async (client) => {
      // Locked for a re-embedding job: two model changes made at once take turns, and the second finds the first.
      const { active } = await this.modelState(client, job.reembed);
      const changesModel = job.reembed && active !== null && modelKey(active) !== model;
      const params = new Params();
      const conditions = filterConditions(job.filter, params, { idColumn: 'p.id', attributesColumn: 'p.attributes', tags: n.tags });
      const open = async () =>
        (await client.query<JobDbRow>(`SELECT * FROM ${n.jobs} WHERE changes_model AND ${ACTIVE}`)).rows[0] as JobDbRow | undefined;
      if (changesModel) {
        if (conditions.length > 0) throw new TypeError('a model change covers the whole catalogue: its filter must be empty');
        const lacking = await this.lacksVector(client, model);
        if (lacking) conditions.push(lacking);
      }
      const total = `(SELECT count(*) FROM ${n.products} p ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''})`;
      // Two creates with one key at once: the second waits for the first's row, then inserts nothing.
      const inserted = await client.query<JobDbRow>(
        `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, idempotency_key, created_at)
         VALUES (${params.add(randomUUID())}, 'QUEUED', ${total}, ${params.add(JSON.stringify(job.filter))}::jsonb,
                 ${params.add(job.reembed)}, ${params.add(model)}, ${params.add(changesModel)}, ${params.add(key)},
                 ${params.add(new Date().toISOString())})
         ON CONFLICT DO NOTHING RETURNING *`,
        params.values,
      );
      if (inserted.rows[0]) {
        if (changesModel) {
          const { name, dtype, dim } = job.model;
          await client.query(`UPDATE ${n.catalogueState} SET target = $1::jsonb WHERE id = 1`, [JSON.stringify({ name, dtype, dim })]);
        }
        return { job: toJob(inserted.rows[0]), created: true };
      }
      const existing =
        key === null ? undefined : (await client.query<JobDbRow>(`SELECT * FROM ${n.jobs} WHERE idempotency_key = $1`, [key])).rows[0];
      return { job: toJob(existing ?? (await open())!), created: false };
    });
  }

  async getJob(id: string): Promise<JobRow | undefined> {
    const row = await this.withClient(
      async (client) => (await client.query<JobDbRow>(`SELECT * FROM ${this.names.jobs} WHERE id = $1`, [id])).rows[0],
    );
    return row && toJob(row);
  }

  async listJobs(first: number): Promise<JobRow[]> {
    const rows = await this.withClient(
      async (client) =>
        (await client.query<JobDbRow>(`SELECT * FROM ${this.names.jobs} ORDER BY created_at DESC, id DESC LIMIT $1`, [first])).rows,
    );
    return rows.map(toJob);
  }

  async cancelJob(id: string): Promise<JobRow | undefined> {
    const row = await this.transaction(async (client) => {
      const cancelled = await client.query<{ changes_model: boolean }>(
        `UPDATE ${this.names.jobs} SET status = 'CANCELLED', finished_at = $2 WHERE id = $1 AND ${ACTIVE} RETURNING changes_model`,
        [id, new Date().toISOString()],
      );
      // A model change given up: no model is being built any more.
      if (cancelled.rows[0]?.changes_model) await client.query(`UPDATE ${this.names.catalogueState} SET target = NULL WHERE id = 1`);
      return (await client.query<JobDbRow>(`SELECT * FROM ${this.names.jobs} WHERE id = $1`, [id])).rows[0];
    });
    return row && toJob(row);
  }

  /**
   * One transaction, job by job from the oldest: a released chunk (`FOR UPDATE SKIP LOCKED`: one
   * another claimer is taking is passed, never waited for), else a new chunk cut from the job's
   * cursor under the job's row lock (`FOR UPDATE SKIP LOCKED`: while another gateway cuts from
   * this job, this one looks at the next job, or finds nothing and polls again).
   */
  async claimJobChunk(worker: string, chunkSize: number, model: VectorModel): Promise<JobChunk | undefined> {
    check('chunkSize', chunkSize, positiveInt);
    checkVectorModel(model, MAX_DIM);
    const mine = modelKey(model);
    const n = this.names;
    return this.transaction(async (client) => {
      const now = new Date().toISOString();
      const { active } = await this.modelState(client);
      const jobs = (await client.query<JobDbRow>(`SELECT * FROM ${n.jobs} WHERE ${ACTIVE} ORDER BY created_at, id`)).rows;
      for (const job of jobs) {
        if (job.reembed ? job.model !== mine : active === null || modelKey(active) !== mine) continue;
        const claimed = await this.claimIn(client, job, worker, chunkSize, now);
        if (claimed) return claimed;
      }
      return undefined;
    });
  }

  private async claimIn(client: PoolClient, job: JobDbRow, worker: string, chunkSize: number, now: string): Promise<JobChunk | undefined> {
    const n = this.names;
    const token = randomUUID();
    const chunkOf = (seq: number, productIds: string[], attempts: number): JobChunk => ({
      jobId: job.id,
      seq,
      productIds,
      claim: token,
      filter: job.filter,
      reembed: job.reembed,
      model: job.model,
      changesModel: job.changes_model,
      attempts,
    });
    const start = () =>
      client.query(`UPDATE ${n.jobs} SET status = 'RUNNING', started_at = coalesce(started_at, $2) WHERE id = $1 AND status = 'QUEUED'`, [
        job.id,
        now,
      ]);
    const released = (
      await client.query<{ seq: number; product_ids: string[]; attempts: number }>(
        `SELECT seq, product_ids, attempts FROM ${n.jobChunks} WHERE job_id = $1 AND status = 'pending'
         ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [job.id],
      )
    ).rows[0];
    if (released) {
      if (released.attempts >= JOB_CHUNK_MAX_ATTEMPTS) {
        await this.failJob(client, job.id, now, {
          field: null,
          message: `chunk ${released.seq} was claimed ${released.attempts} times without completing; the job stopped.`,
          code: 'JOB_FAILED',
        });
        return undefined;
      }
      await client.query(
        `UPDATE ${n.jobChunks} SET status = 'claimed', claim_token = $3, claimed_by = $4, claimed_at = $5, attempts = attempts + 1
         WHERE job_id = $1 AND seq = $2`,
        [job.id, released.seq, token, worker, now],
      );
      await start();
      return chunkOf(released.seq, released.product_ids, released.attempts + 1);
    }
    const locked = (
      await client.query<{ cursor: string | null; exhausted: boolean }>(
        `SELECT cursor, exhausted FROM ${n.jobs} WHERE id = $1 AND ${ACTIVE} FOR UPDATE SKIP LOCKED`,
        [job.id],
      )
    ).rows[0];
    if (!locked) return undefined;
    if (!locked.exhausted) {
      const params = new Params();
      const conditions = filterConditions(job.filter, params, { idColumn: 'p.id', attributesColumn: 'p.attributes', tags: n.tags });
      if (locked.cursor !== null) conditions.push(`p.id > ${params.add(locked.cursor)}`);
      const lacking = job.changes_model ? await this.lacksVector(client, job.model) : undefined;
      if (lacking) conditions.push(lacking);
      const ids = (
        await client.query<{ id: string }>(
          `SELECT p.id FROM ${n.products} p ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
           ORDER BY p.id LIMIT ${params.add(chunkSize + 1)}`,
          params.values,
        )
      ).rows.map((r) => r.id);
      const cut = ids.slice(0, chunkSize);
      await client.query(`UPDATE ${n.jobs} SET cursor = $2, exhausted = $3 WHERE id = $1`, [
        job.id,
        cut.length > 0 ? cut[cut.length - 1] : locked.cursor,
        ids.length <= chunkSize,
      ]);
      if (cut.length > 0) {
        const seq = (
          await client.query<{ seq: number }>(
            `INSERT INTO ${n.jobChunks} (job_id, seq, product_ids, status, claim_token, claimed_by, claimed_at, attempts)
             SELECT $1, coalesce(max(seq), 0) + 1, $2::text[], 'claimed', $3, $4, $5, 1 FROM ${n.jobChunks} WHERE job_id = $1
             RETURNING seq`,
            [job.id, cut, token, worker, now],
          )
        ).rows[0].seq;
        await start();
        return chunkOf(seq, cut, 1);
      }
    }
    // Nothing left to cut: done once no chunk is left undone (chunks claimed by others finish there).
    if ((await this.finishIfDone(client, job.id, now)) === 'again') {
      const again = (await client.query<JobDbRow>(`SELECT * FROM ${n.jobs} WHERE id = $1`, [job.id])).rows[0];
      return this.claimIn(client, again, worker, chunkSize, now);
    }
    return undefined;
  }

  private async failJob(client: PoolClient, jobId: string, now: string, error: JobError): Promise<void> {
    await client.query(
      `UPDATE ${this.names.jobs} SET status = 'FAILED', finished_at = $2, errors = errors || $3::jsonb WHERE id = $1 AND ${ACTIVE}`,
      [jobId, now, JSON.stringify([error])],
    );
  }

  /**
   * Ends a job with nothing left to cut and no chunk undone ('open' when it has either). A tagging
   * or refreshing job has SUCCEEDED. A model change FAILED if any product failed (the active model
   * stays); goes 'again' over products still without a vector if some were added meanwhile; or
   * else switches over: its model becomes the active one, and a tagging job re-tags every product
   * with it. The caller holds the job's row lock.
   */
  private async finishIfDone(client: PoolClient, jobId: string, now: string): Promise<'done' | 'again' | 'open'> {
    const n = this.names;
    const job = (
      await client.query<JobDbRow>(
        `SELECT * FROM ${n.jobs} WHERE id = $1 AND ${ACTIVE} AND exhausted
           AND NOT EXISTS (SELECT 1 FROM ${n.jobChunks} WHERE job_id = $1 AND status <> 'done')`,
        [jobId],
      )
    ).rows[0];
    if (!job) return 'open';
    const succeed = () =>
      client.query(`UPDATE ${n.jobs} SET status = 'SUCCEEDED', started_at = coalesce(started_at, $2), finished_at = $2 WHERE id = $1`, [
        jobId,
        now,
      ]);
    if (!job.changes_model) {
      await succeed();
      return 'done';
    }
    const { active, target } = await this.modelState(client, true);
    if (job.failed > 0 || target === null || modelKey(target) !== job.model) {
      const message =
        job.failed > 0
          ? `${job.failed} product(s) could not be embedded with ${job.model}, so the catalogue still uses ${active ? modelKey(active) : 'no model'}; fix or delete them (see the errors), then start the job again: it embeds only what is left.`
          : `the catalogue's target model is no longer ${job.model}; the job stopped.`;
      await this.failJob(client, jobId, now, { field: null, message, code: MODEL_CHANGE_INCOMPLETE });
      return 'done';
    }
    const lacking = await this.lacksVector(client, job.model);
    const count = async (where: string) =>
      Number((await client.query<{ c: string }>(`SELECT count(*) AS c FROM ${n.products} p ${where}`)).rows[0].c);
    const all = await count('');
    const left = lacking ? await count(`WHERE ${lacking}`) : all;
    if (left > 0) {
      await client.query(`UPDATE ${n.jobs} SET cursor = NULL, exhausted = false, total = total + $2 WHERE id = $1`, [jobId, left]);
      return 'again';
    }
    await client.query(`UPDATE ${n.catalogueState} SET active = target, target = NULL WHERE id = 1`);
    await succeed();
    await client.query(
      `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, created_at)
       VALUES ($1, 'QUEUED', $2, '{}'::jsonb, false, $3, false, $4)`,
      [randomUUID(), all, job.model, now],
    );
    return 'done';
  }

  async completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean> {
    const n = this.names;
    checkAutoTags(outcome.productIds, outcome.tags);
    const { write } = outcome;
    if (write) this.checkWrite(write);
    let made: ModelTable | undefined;
    const completed = await this.transaction(async (client) => {
      // The job's row first, then the chunk's: the order claimJobChunk never reverses while waiting.
      const job = (await client.query<JobDbRow>(`SELECT status, errors FROM ${n.jobs} WHERE id = $1 FOR UPDATE`, [chunk.jobId])).rows[0];
      const current = (
        await client.query<{ status: string; claim_token: string | null }>(
          `SELECT status, claim_token FROM ${n.jobChunks} WHERE job_id = $1 AND seq = $2 FOR UPDATE`,
          [chunk.jobId, chunk.seq],
        )
      ).rows[0];
      if (job?.status !== 'RUNNING' || current?.status !== 'claimed' || current.claim_token !== chunk.claim) return false;
      if (write) made = await this.writeVectors(client, write);
      await this.writeAutoTags(client, outcome.productIds, outcome.tags);
      await client.query(`UPDATE ${n.jobChunks} SET status = 'done', claim_token = NULL WHERE job_id = $1 AND seq = $2`, [
        chunk.jobId,
        chunk.seq,
      ]);
      await client.query(`UPDATE ${n.jobs} SET processed = processed + $2, failed = failed + $3, errors = $4::jsonb WHERE id = $1`, [
        chunk.jobId,
        outcome.processed,
        outcome.failed,
        JSON.stringify(job.errors.concat(outcome.errors).slice(0, JOB_MAX_ERRORS)),
      ]);
      await this.finishIfDone(client, chunk.jobId, new Date().toISOString());
      return true;
    });
    if (made) this.models.set(made.key, made);
    return completed;
  }

  async reclaimStaleJobChunks(claimedBefore: string): Promise<number> {
    const result = await this.transaction((client) =>
      client.query(
        `UPDATE ${this.names.jobChunks} SET status = 'pending', claim_token = NULL, claimed_by = NULL
         WHERE status = 'claimed' AND claimed_at < $1`,
        [claimedBefore],
      ),
    );
    return result.rowCount ?? 0;
  }
}
