import { createHash } from 'node:crypto';

import { modelKey, type VectorModel } from '../port';

/**
 * The PostgreSQL schema of the catalogue.
 *
 * Fixed tables (all in the store's schema):
 *   products        id (COLLATE "C": ordered by code point, as the contract wants), jsonb attributes
 *                   with a GIN index for `@>`, image hashes as text[], timestamps kept as given
 *   vector_models   one row per model key: its dim and the name of its product-vector table
 *   image_vectors   (model_key, hash) -> vector: point lookups only, so one table with an untyped
 *                   `vector` column serves every model
 *   taxonomies      one row per version, the facets as jsonb
 *   tags            one row per (product, facet, label): a (product, facet) has manual or automatic
 *                   tags, never both; indexed for labelTopProducts and the review queue
 *   image_bytes     hash -> the bytes of an image given inline, kept so that another model can embed it
 *   fetched_urls    url -> the hash and HTTP validators of its last fetch, for a conditional fetch
 *   catalogue_state one row: the active model and the target of a model change, as jsonb
 *   jobs, job_chunks tagging and re-embedding jobs, and the chunks they are cut into
 *   tag_changes     the outbox: one row per change of a (product, facet)'s labels, in commit order
 *   label_vectors   (model_key, SHA-256 of a label prompt) -> the prompt and its float32 vector bytes
 *   schema_version  the last migration applied
 *
 * Per model, one product-vector table `product_vectors_<16 hex of sha256(model key)>` with a typed
 * `vector(dim)` column and an HNSW index (cosine). Made on the model's first write (see
 * modelTableStatements), under the same advisory lock as migrations. With indexPrecision 'half' (the
 * default) the index is over the vectors cast to `halfvec(dim)` (16-bit floats) where pgvector can
 * (0.7+, up to 4,000 dims): half the index's size at the same recall once the candidates are
 * rescored on the float32 column (BENCHMARKS.md §6.7); the column stays `vector(dim)`, so every
 * score returned is float32's. vector_models.hnsw records which index a table has ('half', 'full'
 * or NULL for none), so that searches write the ORDER BY the planner matches to it, and migrate()
 * rebuilds those that differ from the store's indexPrecision.
 */

/** The key of the transaction-scoped advisory lock taken around migrations and model-table creation. */
export const SCHEMA_LOCK_KEY = '7012345678901234567'; // arbitrary and fixed: every gateway must use the same

/** pgvector's limits: HNSW indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000; the type itself holds 16,000. */
export const MAX_INDEXED_DIM = 2000;
export const MAX_HALF_INDEXED_DIM = 4000;
export const MAX_DIM = 16000;

/** The oldest pgvector with HNSW (0.5.0), the first with halfvec (0.7.0), and the first with iterative index scans (0.8.0). */
export const MIN_PGVECTOR = [0, 5, 0] as const;
export const HALFVEC_PGVECTOR = [0, 7, 0] as const;
export const ITERATIVE_SCAN_PGVECTOR = [0, 8, 0] as const;

/** A product-vector table's HNSW index: over halfvec(dim), over vector(dim), or none (too many dimensions). */
export type HnswIndex = 'half' | 'full' | null;

/** The index a table of `dim` dimensions gets: halfvec when wanted, the server's pgvector has it and the dim fits, else vector when it fits. */
export function hnswIndexFor(dim: number, halfvec: boolean): HnswIndex {
  if (halfvec && dim <= MAX_HALF_INDEXED_DIM) return 'half';
  return dim <= MAX_INDEXED_DIM ? 'full' : null;
}

/**
 * The statements that give a model's table the index `wanted` where it has `model.hnsw`, and record
 * it in vector_models; none when they agree. The new index is built beside the old one and takes its
 * name after: the build blocks the table's writes (CREATE INDEX's lock) but not its searches, which
 * use the old index until the caller's transaction commits; dropping the old one, which locks the
 * table altogether, comes last, so that lock is held only to the commit.
 */
export function reconcileIndexStatements(
  n: Names,
  model: { key: string; dim: number; table: string; hnsw: HnswIndex },
  wanted: HnswIndex,
): { text: string; values?: unknown[] }[] {
  if (model.hnsw === wanted) return [];
  const name = `${model.table}_hnsw`;
  const building = `${model.table}_hnsw_new`;
  return [
    ...(wanted ? [{ text: hnswIndexStatement(n, model.table, model.dim, wanted, building) }] : []),
    { text: `DROP INDEX IF EXISTS ${n.schema}.${quoteIdent(name)}` },
    ...(wanted ? [{ text: `ALTER INDEX ${n.schema}.${quoteIdent(building)} RENAME TO ${quoteIdent(name)}` }] : []),
    { text: `UPDATE ${n.vectorModels} SET hnsw = $1 WHERE model_key = $2`, values: [wanted, model.key] },
  ];
}

/** The SQL of a product-vector table's HNSW index, named `<table>_hnsw` unless told. */
function hnswIndexStatement(n: Names, table: string, dim: number, index: 'half' | 'full', name = `${table}_hnsw`): string {
  const on = index === 'half' ? `((embedding::halfvec(${dim})) halfvec_cosine_ops)` : `(embedding vector_cosine_ops)`;
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${n.table(table)} USING hnsw ${on}`;
}

/** A double-quoted SQL identifier; callers pass only names checked or made by this adapter. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Names in the store's schema, quoted. */
export class Names {
  /** Quoted, as are the table names below. */
  readonly schema: string;
  readonly products: string;
  readonly vectorModels: string;
  readonly imageVectors: string;
  readonly taxonomies: string;
  readonly tags: string;
  readonly schemaVersion: string;
  readonly jobs: string;
  readonly jobChunks: string;
  readonly imageBytes: string;
  readonly fetchedUrls: string;
  readonly catalogueState: string;
  readonly tagChanges: string;

  constructor(readonly schemaName: string) {
    this.schema = quoteIdent(schemaName);
    const t = (name: string) => `${this.schema}.${quoteIdent(name)}`;
    this.products = t('products');
    this.vectorModels = t('vector_models');
    this.imageVectors = t('image_vectors');
    this.taxonomies = t('taxonomies');
    this.tags = t('tags');
    this.schemaVersion = t('schema_version');
    this.jobs = t('jobs');
    this.jobChunks = t('job_chunks');
    this.imageBytes = t('image_bytes');
    this.fetchedUrls = t('fetched_urls');
    this.catalogueState = t('catalogue_state');
    this.tagChanges = t('tag_changes');
  }

  /** A table of this schema by its bare name (as stored in vector_models.table_name). */
  table(name: string): string {
    return `${this.schema}.${quoteIdent(name)}`;
  }
}

/** Each migration's statements, in order; version n is MIGRATIONS[n - 1]. Never edit a released one: add the next. */
export const MIGRATIONS: ((n: Names) => string[])[] = [
  (n) => [
    `CREATE TABLE ${n.products} (
      id text COLLATE "C" PRIMARY KEY,
      title text,
      description text,
      attributes jsonb,
      image_hashes text[] NOT NULL,
      created_at text NOT NULL,
      updated_at text NOT NULL
    )`,
    `CREATE INDEX products_attributes ON ${n.products} USING gin (attributes jsonb_path_ops)`,
    `CREATE TABLE ${n.vectorModels} (
      model_key text PRIMARY KEY,
      name text NOT NULL,
      dtype text NOT NULL,
      dim integer NOT NULL CHECK (dim > 0),
      table_name text NOT NULL UNIQUE
    )`,
    `CREATE TABLE ${n.imageVectors} (
      model_key text NOT NULL REFERENCES ${n.vectorModels} (model_key),
      hash text NOT NULL,
      embedding vector NOT NULL,
      PRIMARY KEY (model_key, hash)
    )`,
    `CREATE TABLE ${n.taxonomies} (
      version integer PRIMARY KEY,
      facets jsonb NOT NULL,
      created_at text NOT NULL
    )`,
    `CREATE TABLE ${n.tags} (
      product_id text COLLATE "C" NOT NULL REFERENCES ${n.products} (id) ON DELETE CASCADE,
      facet text COLLATE "C" NOT NULL,
      label text COLLATE "C" NOT NULL,
      source text NOT NULL CHECK (source IN ('auto', 'manual')),
      score double precision NOT NULL,
      similarity double precision NOT NULL,
      needs_review boolean NOT NULL,
      model text NOT NULL,
      taxonomy_version integer NOT NULL,
      PRIMARY KEY (product_id, facet, label)
    )`,
    // labelTopProducts: the best k of one label straight off the index, ties by product id.
    `CREATE INDEX tags_label_top ON ${n.tags} (facet, label, score DESC, product_id)`,
    // tagsForReview: a small partial index, already in the queue's order.
    `CREATE INDEX tags_review ON ${n.tags} (product_id, facet, label) WHERE needs_review AND source = 'auto'`,
  ],
  // 2: tagging jobs, and their chunks (keyset ranges of product ids, cut as the job goes).
  (n) => [
    `CREATE TABLE ${n.jobs} (
      id text PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
      total integer NOT NULL,
      processed integer NOT NULL DEFAULT 0,
      failed integer NOT NULL DEFAULT 0,
      errors jsonb NOT NULL DEFAULT '[]',
      filter jsonb NOT NULL,
      reembed boolean NOT NULL,
      idempotency_key text UNIQUE,
      cursor text COLLATE "C",
      exhausted boolean NOT NULL DEFAULT false,
      created_at text NOT NULL,
      started_at text,
      finished_at text
    )`,
    `CREATE INDEX jobs_active ON ${n.jobs} (created_at, id) WHERE status IN ('QUEUED', 'RUNNING')`,
    `CREATE TABLE ${n.jobChunks} (
      job_id text NOT NULL REFERENCES ${n.jobs} (id) ON DELETE CASCADE,
      seq integer NOT NULL,
      product_ids text[] NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'claimed', 'done')),
      claim_token text,
      claimed_by text,
      claimed_at text,
      attempts integer NOT NULL DEFAULT 0,
      PRIMARY KEY (job_id, seq)
    )`,
    `CREATE INDEX job_chunks_open ON ${n.jobChunks} (status, claimed_at) WHERE status <> 'done'`,
  ],
  // 3: model changes. Each image's URL (null: given inline, its bytes kept in image_bytes), what each
  // URL held when last fetched, which model is active and which one a change is building, and each job's model.
  (n) => [
    `ALTER TABLE ${n.products} ADD COLUMN image_urls text[]`,
    // Images stored before URLs were kept: known by hash only, their bytes not kept.
    `UPDATE ${n.products} SET image_urls = array_fill(NULL::text, ARRAY[cardinality(image_hashes)])`,
    `ALTER TABLE ${n.products} ALTER COLUMN image_urls SET NOT NULL`,
    `CREATE TABLE ${n.imageBytes} (hash text PRIMARY KEY, bytes bytea NOT NULL)`,
    `CREATE TABLE ${n.fetchedUrls} (url text PRIMARY KEY, hash text NOT NULL, etag text, last_modified text)`,
    `CREATE TABLE ${n.catalogueState} (id integer PRIMARY KEY CHECK (id = 1), active jsonb, target jsonb)`,
    `INSERT INTO ${n.catalogueState} (id) VALUES (1)`,
    `ALTER TABLE ${n.jobs} ADD COLUMN model text NOT NULL DEFAULT ''`,
    `ALTER TABLE ${n.jobs} ADD COLUMN changes_model boolean NOT NULL DEFAULT false`,
    // At most one model change open at a time.
    `CREATE UNIQUE INDEX jobs_one_model_change ON ${n.jobs} (changes_model) WHERE changes_model AND status IN ('QUEUED', 'RUNNING')`,
  ],
  // 4: the outbox of tag changes, written in the transaction of the tags (see tags.ts). No foreign
  // key: a change outlives its product.
  (n) => [
    `CREATE TABLE ${n.tagChanges} (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      product_id text COLLATE "C" NOT NULL,
      facet text COLLATE "C" NOT NULL,
      previous_labels jsonb NOT NULL CHECK (jsonb_typeof(previous_labels) = 'array'),
      labels jsonb NOT NULL CHECK (jsonb_typeof(labels) = 'array'),
      source text NOT NULL CHECK (source IN ('auto', 'manual')),
      model text,
      changed_at text NOT NULL
    )`,
  ],
  // Outbound webhooks (see webhooks.ts): each endpoint's position in the outbox (delivered_seq), the
  // attempts and retry time of the change after it, and its claim (one delivery in flight per
  // endpoint); the changes given up on, kept to be seen and redelivered.
  (n) => [
    `CREATE TABLE IF NOT EXISTS ${n.table('webhook_endpoints')} (
      id text PRIMARY KEY,
      url text NOT NULL,
      secret text NOT NULL,
      created_at text NOT NULL,
      enabled boolean NOT NULL DEFAULT true,
      delivered_seq bigint NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at text,
      last_error text,
      claim_token text,
      claimed_by text,
      claimed_at text
    )`,
    `CREATE TABLE IF NOT EXISTS ${n.table('webhook_dead_letters')} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      endpoint_id text NOT NULL REFERENCES ${n.table('webhook_endpoints')} (id) ON DELETE CASCADE,
      seq bigint NOT NULL,
      event_id text NOT NULL,
      attempts integer NOT NULL,
      last_error text NOT NULL,
      dead_at text NOT NULL,
      queued boolean NOT NULL DEFAULT false,
      next_attempt_at text,
      UNIQUE (endpoint_id, seq)
    )`,
    `CREATE INDEX IF NOT EXISTS webhook_dead_letters_queued ON ${n.table('webhook_dead_letters')} (endpoint_id, seq) WHERE queued`,
  ],
  // The outbox tells a tagging job's changes ('job') from an upsert's or a taxonomy change's ('auto').
  (n) => [
    `ALTER TABLE ${n.tagChanges} DROP CONSTRAINT IF EXISTS tag_changes_source_check,
       ADD CONSTRAINT tag_changes_source_check CHECK (source IN ('auto', 'manual', 'job'))`,
  ],
  // The shop's webhooks coming in (see inbound.ts): one row per X-Shopify-Webhook-Id, so that a
  // delivery Shopify sends again is recorded and processed once, in the order recorded.
  (n) => [
    `CREATE TABLE IF NOT EXISTS ${n.table('inbound_webhooks')} (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      webhook_id text NOT NULL UNIQUE,
      topic text NOT NULL,
      shop_domain text,
      event_id text,
      triggered_at text,
      api_version text,
      body text NOT NULL,
      received_at text NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'processing', 'done')),
      outcome text CHECK (outcome IS NULL OR outcome IN ('stored', 'deleted', 'unchanged', 'ignored', 'failed')),
      message text,
      attempts integer NOT NULL DEFAULT 0,
      claim text,
      claimed_at text,
      not_before text,
      finished_at text
    )`,
    `CREATE INDEX IF NOT EXISTS inbound_webhooks_open ON ${n.table('inbound_webhooks')} (seq) WHERE status <> 'done'`,
  ],
  // Label prompts' vectors, per model key and prompt text (see label-vectors.ts): keyed by the
  // text's SHA-256, which fits a B-tree entry however long the text.
  (n) => [
    `CREATE TABLE IF NOT EXISTS ${n.table('label_vectors')} (
      model_key text NOT NULL,
      text_sha256 bytea NOT NULL,
      text text NOT NULL,
      vector bytea NOT NULL,
      PRIMARY KEY (model_key, text_sha256)
    )`,
  ],
  // Taxonomy jobs (see taxonomy-jobs.ts): the taxonomy a job sets once its prompts are embedded,
  // and the taxonomy version it was made on.
  (n) => [
    `ALTER TABLE ${n.jobs} ADD COLUMN IF NOT EXISTS taxonomy jsonb`,
    `ALTER TABLE ${n.jobs} ADD COLUMN IF NOT EXISTS base_version integer`,
  ],
  // Import jobs (see import-jobs.ts): the file a job's chunks were read from.
  (n) => [`ALTER TABLE ${n.jobs} ADD COLUMN IF NOT EXISTS import_source jsonb`],
  // Nothing left behind: which products use each image, kept by the products' writes (products.ts,
  // their one writer; a deletion's by the foreign key); an image no product uses any more loses its
  // vectors (every model's), its kept bytes and its URL fetches when the transaction that let it go
  // commits. Images left behind before this migration are swept once here.
  (n) => {
    const refs = n.table('image_refs');
    const sweep = n.table('sweep_unused_image');
    return [
      // "C": hashes compare byte by byte, not by the database's language rules (several times cheaper).
      `CREATE TABLE IF NOT EXISTS ${refs} (
        hash text COLLATE "C" NOT NULL,
        product_id text COLLATE "C" NOT NULL REFERENCES ${n.products} (id) ON DELETE CASCADE,
        PRIMARY KEY (hash, product_id)
      )`,
      `CREATE INDEX IF NOT EXISTS image_refs_product ON ${refs} (product_id)`,
      `CREATE INDEX IF NOT EXISTS image_vectors_hash ON ${n.imageVectors} (hash)`,
      `CREATE INDEX IF NOT EXISTS fetched_urls_hash ON ${n.fetchedUrls} (hash)`,
      `INSERT INTO ${refs} (hash, product_id) SELECT DISTINCT h, p.id FROM ${n.products} p, unnest(p.image_hashes) AS h ON CONFLICT DO NOTHING`,
      `CREATE OR REPLACE FUNCTION ${sweep}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM ${refs} WHERE hash = OLD.hash) THEN
          DELETE FROM ${n.imageVectors} WHERE hash = OLD.hash;
          DELETE FROM ${n.imageBytes} WHERE hash = OLD.hash;
          DELETE FROM ${n.fetchedUrls} WHERE hash = OLD.hash;
        END IF;
        RETURN NULL;
      END $$`,
      // Deferred to the commit: an image one product lets go while another of the same transaction takes it on stays.
      `DROP TRIGGER IF EXISTS image_refs_sweep ON ${refs}`,
      `CREATE CONSTRAINT TRIGGER image_refs_sweep AFTER DELETE ON ${refs} DEFERRABLE INITIALLY DEFERRED
       FOR EACH ROW EXECUTE FUNCTION ${sweep}()`,
      `DELETE FROM ${n.imageVectors} v WHERE NOT EXISTS (SELECT 1 FROM ${refs} r WHERE r.hash = v.hash)`,
      `DELETE FROM ${n.imageBytes} b WHERE NOT EXISTS (SELECT 1 FROM ${refs} r WHERE r.hash = b.hash)`,
      `DELETE FROM ${n.fetchedUrls} f WHERE NOT EXISTS (SELECT 1 FROM ${refs} r WHERE r.hash = f.hash)`,
    ];
  },
  // Each model's table records its HNSW index (see the top of this file): the tables made so far
  // have one over vector(dim) up to 2,000 dims. migrate() then rebuilds the indexes that differ from
  // the store's indexPrecision (see reconcileIndexStatements).
  (n) => [
    `ALTER TABLE ${n.vectorModels} ADD COLUMN IF NOT EXISTS hnsw text CHECK (hnsw IN ('half', 'full'))`,
    `UPDATE ${n.vectorModels} SET hnsw = 'full' WHERE dim <= ${MAX_INDEXED_DIM}`,
  ],
  // A job's open chunks (pending or claimed) in seq order: a claim looks for a released chunk, and
  // a completion asks whether any is open, without reading every chunk the job has done.
  (n) => [`CREATE INDEX IF NOT EXISTS job_chunks_open_of_job ON ${n.jobChunks} (job_id, seq) WHERE status <> 'done'`],
];

export const LATEST_VERSION = MIGRATIONS.length;

/** The product-vector table of a model: from a hash of its key, never from its text. */
export function modelTableName(model: VectorModel): string {
  return `product_vectors_${createHash('sha256').update(modelKey(model)).digest('hex').slice(0, 16)}`;
}

/** Creates a model's product-vector table and its HNSW index of the kind given (none: too many dimensions). */
export function modelTableStatements(n: Names, table: string, dim: number, index: HnswIndex): string[] {
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${n.table(table)} (
      product_id text COLLATE "C" PRIMARY KEY REFERENCES ${n.products} (id) ON DELETE CASCADE,
      embedding vector(${dim}) NOT NULL
    )`,
  ];
  if (index) statements.push(hnswIndexStatement(n, table, dim, index));
  return statements;
}

/** "0.8.1" -> [0, 8, 1]; compares version triples. */
export function versionAtLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < minimum.length; i++) {
    const part = parts[i] ?? 0;
    if (part !== minimum[i]) return part > minimum[i];
  }
  return true;
}
