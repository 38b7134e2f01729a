import type Database from 'better-sqlite3';

import { INDEX_ATTRIBUTES } from './attributes';
import { refKey, sweepUnusedImages, useImages } from './unused-images';

/**
 * The SQLite schema, as numbered migrations: SQL text, or a function for a migration that must
 * visit each model's vector tables (whose names are data, in `models`). Each is written to be idempotent on its own
 * (`IF NOT EXISTS`), and `schema_version` records which have run, so `migrate()` can run on every
 * start and from several processes (it runs them in one IMMEDIATE transaction).
 *
 * Vector tables are not here: one vec0 table per model and kind is created when the model is
 * first written (see `models`).
 */
export const MIGRATIONS: readonly (string | ((db: Database.Database) => void))[] = [
  // 1: products, models, taxonomy, tags.
  `
  CREATE TABLE IF NOT EXISTS products (
    -- The integer key of the product's rows in the vec0 tables. AUTOINCREMENT: a deleted product's
    -- key is never given to another one, so a stray vector row can never be attributed to it.
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT,
    description TEXT,
    -- JSONB of a plain object (keys sorted), or NULL: filters read a key without parsing text.
    attributes BLOB CHECK (attributes IS NULL OR json_type(attributes) = 'object'),
    image_hashes TEXT NOT NULL CHECK (json_type(image_hashes) = 'array'),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  -- One row per model key (name|dtype): its dimension and the names of its vec0 tables, which are
  -- derived from a hash of the key, never from the key itself.
  CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY,
    dim INTEGER NOT NULL CHECK (dim > 0),
    image_table TEXT NOT NULL UNIQUE,
    product_table TEXT NOT NULL UNIQUE
  );

  CREATE TABLE IF NOT EXISTS taxonomies (
    version INTEGER PRIMARY KEY,
    facets TEXT NOT NULL,
    created_at TEXT NOT NULL
  );

  -- At most one tag per (product, facet, label): a (product, facet) with manual tags has no
  -- automatic ones, so a manual and an automatic tag never share a label.
  CREATE TABLE IF NOT EXISTS tags (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE ON UPDATE CASCADE,
    facet TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('auto', 'manual')),
    score REAL NOT NULL,
    similarity REAL NOT NULL,
    needs_review INTEGER NOT NULL CHECK (needs_review IN (0, 1)),
    model TEXT NOT NULL,
    taxonomy_version INTEGER NOT NULL,
    PRIMARY KEY (product_id, facet, label)
  ) WITHOUT ROWID;

  -- labelTopProducts (replaced by tags_of_label in a later migration).
  CREATE INDEX IF NOT EXISTS tags_by_label ON tags (facet, label, score DESC, product_id);

  -- tagsForReview: only the automatic tags marked for review, in (product, facet, label) order.
  CREATE INDEX IF NOT EXISTS tags_for_review ON tags (product_id, facet, label) WHERE source = 'auto' AND needs_review = 1;
  `,
  // 2: tagging jobs and their chunks.
  `
  CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    total INTEGER NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    filter TEXT NOT NULL,
    reembed INTEGER NOT NULL CHECK (reembed IN (0, 1)),
    idempotency_key TEXT UNIQUE,
    -- The last product id cut into a chunk (keyset), and whether no product is left after it.
    cursor TEXT,
    exhausted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
  );
  CREATE INDEX IF NOT EXISTS jobs_active ON jobs (created_at, id) WHERE status IN ('QUEUED', 'RUNNING');

  -- A chunk's product ids are fixed when it is cut; claim_token changes at every claim.
  CREATE TABLE IF NOT EXISTS job_chunks (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    product_ids TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'claimed', 'done')),
    claim_token TEXT,
    claimed_by TEXT,
    claimed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS job_chunks_open ON job_chunks (status, claimed_at) WHERE status <> 'done';
  `,
  // 3: a binary-quantized copy of each model's product vectors (the prefilter of large searches),
  // and the number of product vectors each model holds (counting a vec0 table scans it).
  (db) => {
    const columns = db.prepare("SELECT name FROM pragma_table_info('models')").pluck().all() as string[];
    if (!columns.includes('binary_table')) db.exec('ALTER TABLE models ADD COLUMN binary_table TEXT');
    if (!columns.includes('product_count')) db.exec('ALTER TABLE models ADD COLUMN product_count INTEGER NOT NULL DEFAULT 0');
    const models = db.prepare('SELECT key, dim, product_table AS product FROM models').all() as {
      key: string;
      dim: number;
      product: string;
    }[];
    for (const { key, dim, product } of models) {
      const count = db.prepare(`SELECT count(*) FROM ${product}`).pluck().get() as number;
      const binary = binaryTableOf(product, dim);
      if (binary) {
        db.exec(createBinaryTable(binary));
        db.exec(`INSERT OR REPLACE INTO ${binary} (pk, bits) SELECT rowid, vec_quantize_binary(embedding) FROM ${product}`);
      }
      db.prepare('UPDATE models SET binary_table = ?, product_count = ? WHERE key = ?').run(binary, count, key);
    }
  },
  // 4: model changes. Each image's URL (null: given inline, its bytes kept in image_bytes), what each
  // URL held when last fetched, which model is active and which one a change is building, and each job's model.
  (db) => {
    const columns = (table: string) => db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[];
    if (!columns('products').includes('image_urls')) {
      db.exec(`ALTER TABLE products ADD COLUMN image_urls TEXT NOT NULL DEFAULT '[]' CHECK (json_type(image_urls) = 'array')`);
      // Images stored before URLs were kept: known by hash only, their bytes not kept.
      db.exec('UPDATE products SET image_urls = (SELECT json_group_array(NULL) FROM json_each(products.image_hashes))');
    }
    db.exec(`
      -- A plain rowid table: kept images can be megabytes, which WITHOUT ROWID tables store badly.
      CREATE TABLE IF NOT EXISTS image_bytes (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL);
      -- The last fetch of each image URL: its content's hash and its validators, for a conditional fetch.
      CREATE TABLE IF NOT EXISTS fetched_urls (url TEXT PRIMARY KEY, hash TEXT NOT NULL, etag TEXT, last_modified TEXT);
      -- One row: the active and the target model as JSON ({ name, dtype, dim }), or NULL.
      CREATE TABLE IF NOT EXISTS catalogue_state (id INTEGER PRIMARY KEY CHECK (id = 1), active TEXT, target TEXT);
      INSERT OR IGNORE INTO catalogue_state (id) VALUES (1);
    `);
    const jobColumns = columns('jobs');
    if (!jobColumns.includes('model')) db.exec(`ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT ''`);
    if (!jobColumns.includes('changes_model')) {
      db.exec('ALTER TABLE jobs ADD COLUMN changes_model INTEGER NOT NULL DEFAULT 0 CHECK (changes_model IN (0, 1))');
    }
    // At most one model change open at a time.
    db.exec(
      "CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_model_change ON jobs (changes_model) WHERE changes_model = 1 AND status IN ('QUEUED', 'RUNNING')",
    );
  },
  // 5: the outbox of tag changes, written in the transaction of the tags (see tags.ts). AUTOINCREMENT:
  // a seq is never reused, even after the newest rows are deleted, so a reader's cursor stays
  // meaningful; SQLite has one writer at a time, so seq order is commit order. No foreign key: a
  // change outlives its product.
  `
  CREATE TABLE IF NOT EXISTS tag_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id TEXT NOT NULL,
    facet TEXT NOT NULL,
    previous_labels TEXT NOT NULL CHECK (json_type(previous_labels) = 'array'),
    labels TEXT NOT NULL CHECK (json_type(labels) = 'array'),
    source TEXT NOT NULL CHECK (source IN ('auto', 'manual')),
    model TEXT,
    changed_at TEXT NOT NULL
  );
  `,
  // Outbound webhooks (see webhooks.ts): each endpoint's position in the outbox (delivered_seq), the
  // attempts and retry time of the change after it, and its claim (one delivery in flight per
  // endpoint); the changes given up on, kept to be seen and redelivered. AUTOINCREMENT: a dead
  // letter's id, the API's cursor, is never reused.
  `
  CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    delivered_seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    claim_token TEXT,
    claimed_by TEXT,
    claimed_at TEXT
  );
  CREATE TABLE IF NOT EXISTS webhook_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    dead_at TEXT NOT NULL,
    queued INTEGER NOT NULL DEFAULT 0 CHECK (queued IN (0, 1)),
    next_attempt_at TEXT,
    UNIQUE (endpoint_id, seq)
  );
  CREATE INDEX IF NOT EXISTS webhook_dead_letters_queued ON webhook_dead_letters (endpoint_id, seq) WHERE queued = 1;
  `,
  // The outbox tells a tagging job's changes ('job') from an upsert's or a taxonomy change's ('auto').
  // SQLite cannot alter a CHECK constraint, so the table is rebuilt with its rows and its sequence:
  // a seq is never reused, even one whose row is gone.
  (db) => {
    const table = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tag_changes'").pluck().get() as string;
    if (table.includes("'job'")) return;
    const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'tag_changes'").pluck().get() as number | undefined;
    db.exec(`
      CREATE TABLE tag_changes_next (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        product_id TEXT NOT NULL,
        facet TEXT NOT NULL,
        previous_labels TEXT NOT NULL CHECK (json_type(previous_labels) = 'array'),
        labels TEXT NOT NULL CHECK (json_type(labels) = 'array'),
        source TEXT NOT NULL CHECK (source IN ('auto', 'manual', 'job')),
        model TEXT,
        changed_at TEXT NOT NULL
      );
      INSERT INTO tag_changes_next SELECT seq, product_id, facet, previous_labels, labels, source, model, changed_at FROM tag_changes;
      DROP TABLE tag_changes;
      ALTER TABLE tag_changes_next RENAME TO tag_changes;
    `);
    if (sequence !== undefined) db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'tag_changes'").run(sequence);
  },
  // The shop's webhooks coming in (see inbound.ts): one row per X-Shopify-Webhook-Id, so that a
  // delivery Shopify sends again is recorded and processed once, in the order recorded.
  `
  CREATE TABLE IF NOT EXISTS inbound_webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    shop_domain TEXT,
    event_id TEXT,
    triggered_at TEXT,
    api_version TEXT,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'done')),
    outcome TEXT CHECK (outcome IS NULL OR outcome IN ('stored', 'deleted', 'unchanged', 'ignored', 'failed')),
    message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    claim TEXT,
    claimed_at TEXT,
    not_before TEXT,
    finished_at TEXT
  );
  CREATE INDEX IF NOT EXISTS inbound_webhooks_open ON inbound_webhooks (seq) WHERE status <> 'done';
  `,
  // Label prompts' vectors, per model key and exact prompt text (see label-vectors.ts): read by key,
  // never searched, so a plain table. A rowid table: a row holds a whole vector (2 KB at 512
  // dims), which WITHOUT ROWID tables store badly.
  `
  CREATE TABLE IF NOT EXISTS label_vectors (
    model_key TEXT NOT NULL,
    text TEXT NOT NULL,
    -- little-endian float32, model dim x 4 bytes
    vector BLOB NOT NULL,
    PRIMARY KEY (model_key, text)
  );
  `,
  // Taxonomy jobs (see taxonomy-jobs.ts): the taxonomy a job sets once its prompts are embedded,
  // and the taxonomy version it was made on.
  (db) => {
    const columns = db.prepare("SELECT name FROM pragma_table_info('jobs')").pluck().all() as string[];
    if (!columns.includes('taxonomy'))
      db.exec("ALTER TABLE jobs ADD COLUMN taxonomy TEXT CHECK (taxonomy IS NULL OR json_type(taxonomy) = 'array')");
    if (!columns.includes('base_version')) db.exec('ALTER TABLE jobs ADD COLUMN base_version INTEGER');
  },
  // Import jobs (see import-jobs.ts): the file a job's chunks were read from.
  (db) => {
    const columns = db.prepare("SELECT name FROM pragma_table_info('jobs')").pluck().all() as string[];
    if (!columns.includes('import_source'))
      db.exec("ALTER TABLE jobs ADD COLUMN import_source TEXT CHECK (import_source IS NULL OR json_type(import_source) = 'object')");
  },
  // Nothing left behind (see unused-images.ts): which products use each image, and the images
  // whose last use went in the write under way. Images left behind before this migration are swept
  // once here.
  (db) => {
    db.exec(`
      -- key: refKey of the image's hash (unused-images.ts).
      CREATE TABLE IF NOT EXISTS image_refs (key INTEGER NOT NULL, product_pk INTEGER NOT NULL, PRIMARY KEY (key, product_pk)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS image_refs_product ON image_refs (product_pk);
      CREATE INDEX IF NOT EXISTS fetched_urls_hash ON fetched_urls (hash);
      CREATE TABLE IF NOT EXISTS unused_images (hash TEXT PRIMARY KEY, key INTEGER NOT NULL) WITHOUT ROWID;
      
    `);
    const sql = (text: string) => db.prepare(text);
    // A page of products at a time: the statement reading them cannot stay open while rows are written.
    const page = db.prepare('SELECT pk, image_hashes FROM products WHERE pk > ? ORDER BY pk LIMIT 10000');
    for (let after = 0, rows: { pk: number; image_hashes: string }[]; (rows = page.all(after) as typeof rows).length > 0;) {
      for (const { pk, image_hashes } of rows) useImages(sql, pk, JSON.parse(image_hashes) as string[]);
      after = rows[rows.length - 1].pk;
    }
    // Every image the store holds something of, noted as if let go: the sweep keeps those products use.
    const note = db.prepare('INSERT OR IGNORE INTO unused_images (hash, key) VALUES (?, ?)');
    const held = ['image_bytes', 'fetched_urls', ...(db.prepare('SELECT image_table FROM models').pluck().all() as string[])];
    for (const table of held)
      for (const hash of db.prepare(`SELECT DISTINCT hash FROM ${table}`).pluck().all() as string[]) note.run(hash, refKey(hash));
    sweepUnusedImages(sql);
  },
  // The approximate search index (hnsw/): whether each model's product-vector changes are logged for
  // an index, which saved index the store last registered (its directory's token) and the last
  // change it holds, and the log of changes since. AUTOINCREMENT: a seq is never reused once its
  // rows are deleted, so "the changes after seq N" keeps its meaning across truncations.
  (db) => {
    const columns = db.prepare("SELECT name FROM pragma_table_info('models')").pluck().all() as string[];
    if (!columns.includes('index_logged')) db.exec('ALTER TABLE models ADD COLUMN index_logged INTEGER NOT NULL DEFAULT 0');
    if (!columns.includes('index_token')) db.exec('ALTER TABLE models ADD COLUMN index_token TEXT');
    if (!columns.includes('index_seq')) db.exec('ALTER TABLE models ADD COLUMN index_seq INTEGER NOT NULL DEFAULT 0');
    db.exec(`
      CREATE TABLE IF NOT EXISTS vector_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, product_table TEXT NOT NULL, pk INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS vector_changes_by_table ON vector_changes (product_table, seq);
    `);
  },
  // Each product's top-level attributes by key and value (see attributes.ts): what an attribute
  // filter reads instead of every product's attributes.
  `
  CREATE TABLE IF NOT EXISTS product_attributes (
    key TEXT NOT NULL,
    -- The value as JSON text, exactly as \`attributes -> '$."key"'\` renders it.
    value TEXT NOT NULL,
    pk INTEGER NOT NULL REFERENCES products (pk) ON DELETE CASCADE,
    PRIMARY KEY (key, value, pk)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS product_attributes_of ON product_attributes (pk);
  ${INDEX_ATTRIBUTES} true;
  `,
  // A label's tags by product rather than by score: a re-tagging job goes through the products in
  // id order, so a chunk's tags land on a few neighbouring pages of each label's part of the index
  // instead of one page each (at 1,000,000 products, 2,000 a transaction, replacing every tag:
  // 106,000 products/s against 18,000). labelTopProducts reads the label's entries, the score
  // beside each, and keeps the best k (2.8 ms at 20,000 products a label, against 0.03).
  `
  DROP INDEX IF EXISTS tags_by_label;
  CREATE INDEX IF NOT EXISTS tags_of_label ON tags (facet, label, product_id, score);
  `,
  // A job's open chunks (pending or claimed) in seq order: a claim looks for a released chunk and a
  // completion counts the open ones, where both read every chunk of the job, each one's status
  // behind its list of product ids (some 30 KB at 2,000 a chunk, in overflow pages). At 1,000,000
  // products, 500 chunks, the claims took 2.7 s of a re-tag; each took longer than the one before.
  `
  CREATE INDEX IF NOT EXISTS job_chunks_open_of_job ON job_chunks (job_id, seq) WHERE status <> 'done';
  `,
  // The products' version: moved by every write of a product row (product_attributes is derived from
  // the row's attributes in the same write), whichever connection or code makes it. What searches
  // learnt of a filter of attributes or ids (filter-memory.ts) holds while it stays, through the
  // writes of tags, jobs and webhooks. One row updated a product row written: a few percent of a
  // product's write (BENCHMARKS.md §6.3).
  `
  CREATE TABLE IF NOT EXISTS catalogue_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
  INSERT OR IGNORE INTO catalogue_versions (name, version) VALUES ('products', 0);
  CREATE TRIGGER IF NOT EXISTS products_version_on_insert AFTER INSERT ON products
    BEGIN UPDATE catalogue_versions SET version = version + 1 WHERE name = 'products'; END;
  CREATE TRIGGER IF NOT EXISTS products_version_on_update AFTER UPDATE ON products
    BEGIN UPDATE catalogue_versions SET version = version + 1 WHERE name = 'products'; END;
  CREATE TRIGGER IF NOT EXISTS products_version_on_delete AFTER DELETE ON products
    BEGIN UPDATE catalogue_versions SET version = version + 1 WHERE name = 'products'; END;
  `,
];

/**
 * The name of the table holding the binary-quantized copy of a model's product vectors (one bit
 * per value, its sign), or null for a dim that is not a multiple of 8, which sqlite-vec cannot
 * quantize: such a model is always searched exactly. Derived from the product table's name, itself
 * a hex digest: no user text.
 */
export function binaryTableOf(productTable: string, dim: number): string | null {
  return dim % 8 === 0 ? productTable.replace(/^vec_product_/, 'vec_binary_') : null;
}

/**
 * A plain table, not a vec0 one: a vec0 KNN query over bit vectors slows down steeply with k (at
 * 100k vectors of 512 bits, 22 ms for 200 neighbours, 130 ms for 800), while a scan ordering by
 * `vec_distance_hamming` with a LIMIT costs 12-20 ms whatever the limit.
 */
export function createBinaryTable(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (pk INTEGER PRIMARY KEY, bits BLOB NOT NULL)`;
}
