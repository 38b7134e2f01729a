import { Client } from 'pg';

import { modelKey, type VectorModel } from '../../../../gateway/store/port';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../../../gateway/store/postgres';
import { hnswIndexFor, MIGRATIONS, modelTableName, modelTableStatements, Names } from '../../../../gateway/store/postgres/schema';
import { vectorText } from '../../../../gateway/store/postgres/vectors';
import { startPostgres, type PostgresServer } from '../../../helpers/postgres';
import { cosine, gaussian, normalise, product, seededRandom } from '../contract';

// The product vectors' HNSW index over halfvec(dim) (see gateway/store/postgres/schema.ts), on
// PGlite's real PostgreSQL and pgvector (0.8): the index made and used, the scores float32's, a
// store made by the previous version migrated to it, and the dimensions halfvec cannot index.

let server: PostgresServer;
let admin: Client;
let schemas = 0;

beforeAll(async () => {
  server = await startPostgres();
  admin = new Client({ connectionString: server.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

/** One connection per store: see test/helpers/postgres.ts for why. */
function openStore(schema: string, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  return openPostgresStore({ url: server.url, schema, poolSize: 1, ...options });
}

const SEARCH: VectorModel = { name: 'search', dim: 16, dtype: 'fp32' };
const COUNT = 200;
const ids = Array.from({ length: COUNT }, (_, i) => `p${String(i).padStart(3, '0')}`);
const random = seededRandom(11);
const vectors = new Map(ids.map((id) => [id, normalise(Float32Array.from({ length: 16 }, () => gaussian(random)))]));
const query = normalise(Float32Array.from({ length: 16 }, () => gaussian(random)));

/** The exact k nearest, ties by id. */
function nearest(k: number, keep: (id: string) => boolean = () => true): string[] {
  return ids
    .filter(keep)
    .map((id) => ({ id, score: cosine(vectors.get(id)!, query) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, k)
    .map((e) => e.id);
}

async function indexDefinitions(schema: string, table: string): Promise<string> {
  const rows = await admin.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2`, [
    schema,
    table,
  ]);
  return rows.rows.map((r) => r.indexdef).join('\n');
}

async function fill(
  store: PostgresStore,
  model: VectorModel = SEARCH,
  attributes?: (id: string) => Record<string, unknown>,
): Promise<void> {
  await store.upsertProducts(ids.map((id) => product(id, { attributes: attributes?.(id) ?? null })));
  await store.putProductVectors(
    model,
    ids.map((productId) => ({ productId, vector: vectors.get(productId)! })),
  );
}

/**
 * The search's plan with sequential scans priced out. Over 200 rows the planner's choice between an
 * index built on the full table and a scan is a close call (it takes the scan); what matters here is
 * that the search's ORDER BY is the rebuilt index's expression, which only then can it use. PGlite's
 * connections share one session (test/helpers/postgres.ts), so the setting reaches the store's.
 */
async function planWithoutSeqScan(store: PostgresStore): Promise<string> {
  await admin.query('SET enable_seqscan = off');
  try {
    return await store.explainSearch(SEARCH, query, 10);
  } finally {
    await admin.query('RESET enable_seqscan');
  }
}

describe('the HNSW index over halfvec', () => {
  let schema: string;
  let store: PostgresStore;

  beforeEach(async () => {
    schema = `halfvec_${++schemas}`;
    // As in postgres.test.ts: a small ef_search so that the planner prefers the index over 200 rows.
    store = await openStore(schema, { efSearch: 20, exactSearchMatching: 0 });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('indexes a new model over halfvec(dim) and keeps its column vector(dim)', async () => {
    await fill(store);
    const table = modelTableName(SEARCH);
    const column = await admin.query(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = '${schema}.${table}'::regclass AND attname = 'embedding'`,
    );
    expect(column.rows).toEqual([{ type: 'vector(16)' }]);
    expect(await indexDefinitions(schema, table)).toContain(`USING hnsw (((embedding)::halfvec(16)) halfvec_cosine_ops)`);
    expect((await admin.query(`SELECT hnsw FROM ${schema}.vector_models`)).rows).toEqual([{ hnsw: 'half' }]);
  });

  it('searches through the halfvec index, unfiltered and filtered, with the exact order and float32 scores', async () => {
    const far = new Set(nearest(COUNT).slice(COUNT / 2));
    await fill(store, SEARCH, (id) => ({ far: far.has(id) }));
    await admin.query(`ANALYZE ${schema}.products`);
    const plan = await store.explainSearch(SEARCH, query, 10);
    expect(plan).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);
    expect(plan).toContain('::halfvec(16)');
    const filter = { attributes: { far: true } };
    expect(await store.explainSearch(SEARCH, query, 10, filter)).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);

    const hits = await store.searchProducts(SEARCH, query, 10);
    expect(hits.map((h) => h.productId)).toEqual(nearest(10));
    const filtered = await store.searchProducts(SEARCH, query, 10, filter);
    expect(filtered.map((h) => h.productId)).toEqual(nearest(10, (id) => far.has(id)));
    expect(store.searches).toEqual({ index: 2, exact: 0, fallback: 0 });

    // Each score is float32's cosine (pgvector sums in float32: within 1e-6), where halfvec's
    // rounding of these same vectors moves it by more than 1e-5: the test tells the two apart.
    const half = await admin.query<{ id: string; score: number }>(
      `SELECT product_id AS id, 1 - (embedding::halfvec(16) <=> $1::vector::halfvec(16)) AS score
       FROM ${schema}.${modelTableName(SEARCH)} WHERE product_id = ANY($2::text[])`,
      [vectorText(query), [...hits, ...filtered].map((h) => h.productId)],
    );
    const halfScores = new Map(half.rows.map((r) => [r.id, r.score]));
    let halfError = 0;
    for (const h of [...hits, ...filtered]) {
      const exact = cosine(vectors.get(h.productId)!, query);
      expect(Math.abs(h.score - exact)).toBeLessThan(1e-6);
      halfError = Math.max(halfError, Math.abs(halfScores.get(h.productId)! - exact));
    }
    expect(halfError).toBeGreaterThan(1e-5);
  });

  it('orders by the float32 distance and breaks ties across the k-th place by id', async () => {
    await fill(store);
    const top = nearest(10);
    // Two vectors a halfvec cannot tell apart: 'a-half' holds the nearest vector rounded to 16-bit
    // floats (exact in halfvec), 'a-twin' the same with one component a quarter of its 16-bit step
    // nearer the query (it rounds back to the same halfvec). Ordered by halfvec they would tie and
    // 'a-half' come first by id; by float32, 'a-twin' is nearer.
    const rounded = await admin.query<{ v: string }>(`SELECT $1::vector::halfvec::vector::text AS v`, [vectorText(vectors.get(top[0])!)]);
    const half = Float32Array.from(JSON.parse(rounded.rows[0].v) as number[]);
    const i = query.reduce((best, x, j) => (Math.abs(x) > Math.abs(query[best]) ? j : best), 0);
    const twin = Float32Array.from(half);
    twin[i] += (Math.sign(query[i]) * 2 ** (Math.floor(Math.log2(Math.abs(half[i]))) - 10)) / 4;
    const sameHalf = await admin.query<{ same: boolean }>(`SELECT $1::vector::halfvec = $2::vector::halfvec AS same`, [
      vectorText(twin),
      vectorText(half),
    ]);
    expect(sameHalf.rows[0].same).toBe(true);
    expect(cosine(twin, query) - cosine(half, query)).toBeGreaterThan(1e-6);
    const extra = new Map<string, Float32Array>([
      ['a-half', half],
      ['a-twin', twin],
    ]);
    const write = async () => {
      await store.upsertProducts([...extra.keys()].map((id) => product(id)));
      await store.putProductVectors(
        SEARCH,
        [...extra].map(([productId, vector]) => ({ productId, vector })),
      );
    };
    const expected = () =>
      [...ids.map((id) => [id, vectors.get(id)!] as const), ...extra]
        .map(([id, v]) => ({ id, score: cosine(v, query) }))
        .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
        .map((e) => e.id);
    await write();
    const hits = await store.searchProducts(SEARCH, query, 10);
    expect(hits.map((h) => h.productId)).toEqual(expected().slice(0, 10));
    expect(hits.map((h) => h.productId).indexOf('a-twin')).toBeLessThan(hits.map((h) => h.productId).indexOf('a-half'));
    expect(store.searches).toEqual({ index: 1, exact: 0, fallback: 0 }); // the index search's own order

    // And 'a-copy', a copy of the 10th nearest under a lower id: k ends at it, so the 10th nearest,
    // at the same distance, is the first one left out.
    extra.set('a-copy', vectors.get(top[9])!);
    await write();
    const order = expected();
    const k = order.indexOf('a-copy') + 1;
    expect(order[k]).toBe(top[9]);
    expect((await store.searchProducts(SEARCH, query, k)).map((h) => h.productId)).toEqual(order.slice(0, k));
  });

  it('indexes up to 4,000 dimensions over halfvec, and leaves more than that unindexed yet searchable', async () => {
    const wide: VectorModel = { name: 'wide', dim: 4000, dtype: 'fp32' };
    const wider: VectorModel = { name: 'wider', dim: 4001, dtype: 'fp32' };
    await store.upsertProducts([product('x'), product('y')]);
    for (const model of [wide, wider]) {
      const x = new Float32Array(model.dim);
      x[0] = 1;
      const y = new Float32Array(model.dim);
      y[1] = 1;
      await store.putProductVectors(model, [
        { productId: 'x', vector: x },
        { productId: 'y', vector: y },
      ]);
      const q = new Float32Array(model.dim);
      q[1] = 1;
      q[0] = 0.5;
      expect((await store.searchProducts(model, q, 2)).map((h) => h.productId)).toEqual(['y', 'x']);
    }
    expect(await indexDefinitions(schema, modelTableName(wide))).toContain('halfvec(4000)) halfvec_cosine_ops');
    expect(await indexDefinitions(schema, modelTableName(wider))).not.toContain('hnsw');
    const kinds = await admin.query<{ model_key: string; hnsw: string | null }>(`SELECT model_key, hnsw FROM ${schema}.vector_models`);
    expect(Object.fromEntries(kinds.rows.map((r) => [r.model_key, r.hnsw]))).toEqual({ [modelKey(wide)]: 'half', [modelKey(wider)]: null });
  });
});

describe('indexPrecision', () => {
  it("indexes over vector(dim) with 'full', and migrate() rebuilds a store's indexes when it changes", async () => {
    const schema = `halfvec_${++schemas}`;
    const table = modelTableName(SEARCH);
    const full = await openStore(schema, { indexPrecision: 'full', efSearch: 20, exactSearchMatching: 0 });
    try {
      await full.migrate();
      await fill(full);
      expect(await indexDefinitions(schema, table)).toContain('USING hnsw (embedding vector_cosine_ops)');
      expect(await full.explainSearch(SEARCH, query, 10)).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);
      expect((await full.searchProducts(SEARCH, query, 10)).map((h) => h.productId)).toEqual(nearest(10));
    } finally {
      await full.close();
    }
    const half = await openStore(schema, { efSearch: 20, exactSearchMatching: 0 });
    try {
      await half.migrate();
      const definitions = await indexDefinitions(schema, table);
      expect(definitions).toContain('USING hnsw (((embedding)::halfvec(16)) halfvec_cosine_ops)');
      expect(definitions).not.toContain('vector_cosine_ops');
      expect((await admin.query(`SELECT hnsw FROM ${schema}.vector_models`)).rows).toEqual([{ hnsw: 'half' }]);
      expect(await planWithoutSeqScan(half)).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);
      expect((await half.searchProducts(SEARCH, query, 10)).map((h) => h.productId)).toEqual(nearest(10));
    } finally {
      await half.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  it('refuses any other value, naming the option', async () => {
    await expect(openPostgresStore({ url: server.url, indexPrecision: 'quarter' as 'half' })).rejects.toThrow(
      /indexPrecision must be one of half, full, got .*quarter/,
    );
  });
});

describe('hnswIndexFor', () => {
  it('chooses halfvec up to 4,000 dims when pgvector has it, vector up to 2,000 when not, else none', () => {
    expect(hnswIndexFor(512, true)).toBe('half');
    expect(hnswIndexFor(4000, true)).toBe('half');
    expect(hnswIndexFor(4001, true)).toBeNull();
    expect(hnswIndexFor(512, false)).toBe('full');
    expect(hnswIndexFor(2000, false)).toBe('full');
    expect(hnswIndexFor(2001, false)).toBeNull();
  });
});

describe('migrating a store made with the index over vector(dim)', () => {
  it('drops the old index, builds the halfvec one, and searches through it', async () => {
    const schema = `halfvec_old_${++schemas}`;
    const names = new Names(schema);
    const last = MIGRATIONS.length - 1; // the version before the halfvec migration
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${names.schemaVersion} (version integer NOT NULL)`);
    for (const migration of MIGRATIONS.slice(0, last)) for (const statement of migration(names)) await admin.query(statement);
    await admin.query(`INSERT INTO ${names.schemaVersion} VALUES (${last})`);
    // The previous version's model tables: 16 dims indexed over vector, 3,000 not indexed at all.
    const wide: VectorModel = { name: 'wide', dim: 3000, dtype: 'fp32' };
    for (const [model, index] of [
      [SEARCH, 'full'],
      [wide, null],
    ] as const) {
      const table = modelTableName(model);
      for (const statement of modelTableStatements(names, table, model.dim, index)) await admin.query(statement);
      await admin.query(`INSERT INTO ${names.vectorModels} (model_key, name, dtype, dim, table_name) VALUES ($1, $2, $3, $4, $5)`, [
        modelKey(model),
        model.name,
        model.dtype,
        model.dim,
        table,
      ]);
    }
    for (const id of ids) {
      await admin.query(
        `INSERT INTO ${names.products} (id, image_hashes, image_urls, created_at, updated_at) VALUES ($1, '{}', '{}', 't', 't')`,
        [id],
      );
    }
    await admin.query(`INSERT INTO ${names.table(modelTableName(SEARCH))} SELECT * FROM unnest($1::text[], $2::vector[])`, [
      ids,
      ids.map((id) => vectorText(vectors.get(id)!)),
    ]);
    expect(await indexDefinitions(schema, modelTableName(SEARCH))).toContain('USING hnsw (embedding vector_cosine_ops)');

    const store = await openStore(schema, { efSearch: 20, exactSearchMatching: 0 });
    try {
      await store.migrate();
      expect((await admin.query(`SELECT version FROM ${names.schemaVersion}`)).rows).toEqual([{ version: MIGRATIONS.length }]);
      const definitions = await indexDefinitions(schema, modelTableName(SEARCH));
      expect(definitions).toContain(`USING hnsw (((embedding)::halfvec(16)) halfvec_cosine_ops)`);
      expect(definitions).not.toContain('vector_cosine_ops)');
      expect(await indexDefinitions(schema, modelTableName(wide))).toContain('halfvec(3000)) halfvec_cosine_ops');
      const kinds = await admin.query<{ model_key: string; hnsw: string | null }>(`SELECT model_key, hnsw FROM ${names.vectorModels}`);
      expect(Object.fromEntries(kinds.rows.map((r) => [r.model_key, r.hnsw]))).toEqual({
        [modelKey(SEARCH)]: 'half',
        [modelKey(wide)]: 'half',
      });
      expect(await planWithoutSeqScan(store)).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);
      expect((await store.searchProducts(SEARCH, query, 10)).map((h) => h.productId)).toEqual(nearest(10));
      expect(store.searches).toEqual({ index: 1, exact: 0, fallback: 0 });
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
