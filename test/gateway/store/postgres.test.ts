import { createServer, type AddressInfo } from 'node:net';

import { Client } from 'pg';

import { modelKey, StoreError, type TagRow, type VectorModel } from '../../../gateway/store/port';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../../gateway/store/postgres';
import { unavailableSentence } from '../../../gateway/store/postgres/errors';
import { MIGRATIONS, Names } from '../../../gateway/store/postgres/schema';
import { startPostgres, type PostgresServer } from '../../helpers/postgres';
import { describeStoreContract, gaussian, MODEL_A, normalise, product, seededRandom, type OpenedStore } from './contract';

// One PGlite server for the contract and the PostgreSQL-specific tests; the outage tests start
// (and kill) their own. Every store gets its own schema, dropped afterwards.
let server: PostgresServer;
let admin: Client;
let schemas = 0;

beforeAll(async () => {
  server = await startPostgres();
  process.stdout.write(`pglite-server (PostgreSQL + pgvector) accepted connections ${server.startupMs} ms after spawn\n`);
  admin = new Client({ connectionString: server.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

function freshSchema(): string {
  return `catalogue_${++schemas}`;
}

/** A store on its own schema. One connection: see test/helpers/postgres.ts for why. */
async function openStore(schema: string, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  return openPostgresStore({ url: server.url, schema, poolSize: 1, ...options });
}

async function dropSchema(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

async function errorOf(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError, the call succeeded');
}

describeStoreContract('postgres (pgvector on PGlite)', async (): Promise<OpenedStore> => {
  const schema = freshSchema();
  const store = await openStore(schema);
  await store.migrate();
  return {
    store,
    reopen: () => openStore(schema),
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});

describe('PostgresStore on PostgreSQL', () => {
  const SEARCH: VectorModel = { name: 'search', dim: 16, dtype: 'fp32' };
  const COUNT = 200;
  const ids = Array.from({ length: COUNT }, (_, i) => `p${String(i).padStart(3, '0')}`);
  const random = seededRandom(7);
  const vectors = new Map(ids.map((id) => [id, normalise(Float32Array.from({ length: 16 }, () => gaussian(random)))]));
  const query = normalise(Float32Array.from({ length: 16 }, () => gaussian(random)));
  /** The half farthest from the query: an index scan meets them last. */
  const farthest = [...ids].sort((a, b) => dot(vectors.get(a)!, query) - dot(vectors.get(b)!, query)).slice(0, COUNT / 2);

  function vectorLiteral(v: Float32Array): string {
    return `[${Array.from(v).join(',')}]`;
  }

  function dot(a: Float32Array, b: Float32Array): number {
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
    return sum;
  }

  let schema: string;
  let store: PostgresStore;

  beforeEach(async () => {
    schema = freshSchema();
    // These tests are about the index path: a small ef_search (40 under a filter, pgvector's default),
    // since over these 200 rows a larger one makes the planner prefer an exact scan to the index, and
    // no exact scan for filters matching few products (all of them do here).
    store = await openStore(schema, { efSearch: 20, exactSearchMatching: 0 });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    await dropSchema(schema);
  });

  async function fill(): Promise<void> {
    await store.upsertProducts(ids.map((id) => product(id, { attributes: { far: farthest.includes(id) } })));
    await store.putProductVectors(
      SEARCH,
      ids.map((productId) => ({ productId, vector: vectors.get(productId)! })),
    );
  }

  it('migrates concurrently from two stores on one database, and they then make the same model table at once', async () => {
    const other = freshSchema();
    const a = await openStore(other);
    const b = await openStore(other);
    try {
      await Promise.all([a.migrate(), b.migrate(), a.migrate()]);
      const version = await admin.query(`SELECT version FROM ${other}.schema_version`);
      expect(version.rows).toEqual([{ version: MIGRATIONS.length }]);
      await a.upsertProducts([product('x'), product('y')]);
      await Promise.all([
        a.putProductVectors(MODEL_A, [{ productId: 'x', vector: new Float32Array([1, 0, 0, 0]) }]),
        b.putProductVectors(MODEL_A, [{ productId: 'y', vector: new Float32Array([0, 1, 0, 0]) }]),
      ]);
      expect((await b.searchProducts(MODEL_A, new Float32Array([1, 0.5, 0, 0]), 5)).map((h) => h.productId)).toEqual(['x', 'y']);
      const models = await admin.query(`SELECT model_key FROM ${other}.vector_models`);
      expect(models.rows).toEqual([{ model_key: modelKey(MODEL_A) }]);
    } finally {
      await a.close();
      await b.close();
      await dropSchema(other);
    }
  });

  it('migrates a version 2 schema: its images known by hash only, the model holding most vectors active', async () => {
    const old = freshSchema();
    const names = new Names(old);
    await admin.query(`CREATE SCHEMA ${old}`);
    await admin.query(`CREATE TABLE ${names.schemaVersion} (version integer NOT NULL)`);
    for (const statement of [...MIGRATIONS[0](names), ...MIGRATIONS[1](names)]) await admin.query(statement);
    await admin.query(`INSERT INTO ${names.schemaVersion} VALUES (2)`);
    await admin.query(
      `INSERT INTO ${names.products} (id, image_hashes, created_at, updated_at) VALUES ('a', ARRAY['h1', 'h2'], 't', 't'), ('b', ARRAY['h3'], 't', 't')`,
    );
    const migrated = await openStore(old);
    try {
      await migrated.migrate();
      expect((await migrated.getProducts(['a', 'b'])).map((p) => p.imageUrls)).toEqual([[null, null], [null]]);
      await migrated.putProductVectors(MODEL_A, [{ productId: 'b', vector: new Float32Array([1, 0, 0, 0]) }]);
      const other: VectorModel = { name: 'other', dim: 4, dtype: 'fp32' };
      expect(await migrated.claimActiveModel(other)).toEqual({ active: MODEL_A, target: null });
      expect((await migrated.createJob({ filter: {}, reembed: false, model: MODEL_A })).job).toMatchObject({
        model: 'clip-a|fp32',
        total: 2,
      });
    } finally {
      await migrated.close();
      await dropSchema(old);
    }
  });

  it('keeps each model in a typed table named from a hash of its key, with an HNSW cosine index', async () => {
    await store.upsertProducts([product('x')]);
    const odd: VectorModel = { name: 'weird"; DROP TABLE products; --', dim: 4, dtype: 'fp32' };
    await store.putProductVectors(odd, [{ productId: 'x', vector: new Float32Array([1, 2, 3, 4]) }]);
    const table = (await admin.query<{ table_name: string }>(`SELECT table_name FROM ${schema}.vector_models`)).rows[0].table_name;
    expect(table).toMatch(/^product_vectors_[0-9a-f]{16}$/);
    const column = await admin.query(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = '${schema}.${table}'::regclass AND attname = 'embedding'`,
    );
    expect(column.rows).toEqual([{ type: 'vector(4)' }]);
    const index = await admin.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = '${schema}' AND tablename = '${table}'`,
    );
    expect(index.rows.map((r) => r.indexdef).join('\n')).toMatch(/USING hnsw \(\(\(embedding\)::halfvec\(4\)\) halfvec_cosine_ops\)/);
  });

  it('searches through the HNSW index when unfiltered', async () => {
    await fill();
    const plan = await store.explainSearch(SEARCH, query, 10);
    expect(plan).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);
    const hits = await store.searchProducts(SEARCH, query, 10);
    expect(hits).toHaveLength(10);
    expect(store.searches).toEqual({ index: 1, exact: 0, fallback: 0 });
  });

  it('keeps scanning the HNSW index until k products pass the filter (iterative scans)', async () => {
    await fill();
    // With statistics the planner knows half the products are far, and walks the index for them;
    // the nearest candidates are all near, so a scan of ef_search candidates would find none.
    await admin.query(`ANALYZE ${schema}.products`);
    const far = { attributes: { far: true } };
    expect(await store.explainSearch(SEARCH, query, 10, far)).toMatch(/Index Scan using product_vectors_[0-9a-f]{16}_hnsw/);
    const table = (await admin.query<{ table_name: string }>(`SELECT table_name FROM ${schema}.vector_models`)).rows[0].table_name;
    const plainScan = async () => {
      await admin.query('BEGIN');
      try {
        await admin.query('SET LOCAL hnsw.iterative_scan = off');
        const result = await admin.query(
          `SELECT v.product_id FROM ${schema}.${table} v JOIN ${schema}.products p ON p.id = v.product_id
           WHERE p.attributes @> '{"far": true}' ORDER BY v.embedding::halfvec(16) <=> '${vectorLiteral(query)}'::halfvec(16) LIMIT 10`,
        );
        return result.rows.length;
      } finally {
        await admin.query('COMMIT');
      }
    };
    expect(await plainScan()).toBeLessThan(10);

    const hits = await store.searchProducts(SEARCH, query, 10, far);
    const expected = ids
      .filter((id) => farthest.includes(id))
      .sort((a, b) => dot(vectors.get(b)!, query) - dot(vectors.get(a)!, query))
      .slice(0, 10);
    expect(hits.map((h) => h.productId)).toEqual(expected);
    expect(store.searches).toEqual({ index: 1, exact: 0, fallback: 0 }); // the index alone answered
  });

  it('answers a filter matching at most exactSearchMatching products with an exact scan of them', async () => {
    await fill();
    const exact = await openStore(schema, { exactSearchMatching: 100 });
    try {
      const far = { attributes: { far: true } };
      const hits = await exact.searchProducts(SEARCH, query, 10, far);
      const expected = farthest
        .map((id) => ({ id, score: dot(vectors.get(id)!, query) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10);
      expect(hits.map((h) => h.productId)).toEqual(expected.map((e) => e.id));
      expect(exact.searches).toEqual({ index: 0, exact: 1, fallback: 0 });
      // One more match than the bound: through the index.
      const bounded = await openStore(schema, { exactSearchMatching: 99 });
      try {
        await bounded.searchProducts(SEARCH, query, 10, far);
        expect(bounded.searches.exact).toBe(0);
      } finally {
        await bounded.close();
      }
    } finally {
      await exact.close();
    }
  });

  it('answers a filter matching fewer than k exactly, falling back to an exact scan of the candidates', async () => {
    await fill();
    const few = farthest.slice(0, 3);
    await store.replaceAutoTags(
      few,
      few.map((id) => autoTag(id)),
    );
    const hits = await store.searchProducts(SEARCH, query, 10, { tags: [{ facet: 'colour', label: 'red' }] });
    expect(hits.map((h) => h.productId).sort()).toEqual([...few].sort());
    expect(store.searches.fallback).toBe(1);
  });

  it('breaks ties across the k-th place by product id', async () => {
    await fill();
    const same = vectors.get('p100')!;
    await store.putProductVectors(
      SEARCH,
      ['p150', 'p050', 'p120', 'p010'].map((productId) => ({ productId, vector: same })),
    );
    const hits = await store.searchProducts(SEARCH, same, 3);
    expect(hits.map((h) => h.productId)).toEqual(['p010', 'p050', 'p100']);
  });

  it('labelTopProducts reads the (facet, label, score) index', async () => {
    await store.upsertProducts(ids.slice(0, 50).map((id) => product(id)));
    await store.replaceAutoTags(
      ids.slice(0, 50),
      ids.slice(0, 50).map((id, i) => autoTag(id, { score: i / 50 })),
    );
    await admin.query(`ANALYZE ${schema}.tags`);
    const plan = await admin.query(
      `EXPLAIN SELECT product_id, score FROM ${schema}.tags WHERE facet = 'colour' AND label = 'red' ORDER BY score DESC, product_id LIMIT 5`,
    );
    expect(plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toMatch(/Index (Only )?Scan using tags_label_top/);
    expect((await store.labelTopProducts('colour', 'red', 2)).map((h) => h.productId)).toEqual(['p049', 'p048']);
  });

  it("finds a job's open chunks by their own index, not by reading the chunks it has done", async () => {
    // Seq scans off: the plan shows whether the index can serve the claim's query (its predicate implied).
    await admin.query('SET enable_seqscan = off');
    try {
      const plan = await admin.query(
        `EXPLAIN SELECT seq, product_ids, attempts FROM ${schema}.job_chunks WHERE job_id = 'j' AND status <> 'done' AND status = 'pending' ORDER BY seq LIMIT 1`,
      );
      expect(plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toMatch(
        /(Index Scan using|Bitmap Index Scan on) job_chunks_open_of_job/,
      );
    } finally {
      await admin.query('RESET enable_seqscan');
    }
  });

  it('writes all of a batch or none of it', async () => {
    await store.upsertProducts([product('a'), product('b')]);
    await store.replaceAutoTags(['a', 'b'], [autoTag('a'), autoTag('b')]);
    // The old tags are deleted first; the insert then fails on a score of NaN (null in JSON).
    await expect(store.replaceAutoTags(['a', 'b'], [autoTag('a', { label: 'green' }), autoTag('b', { score: NaN })])).rejects.toThrow();
    const tags = await store.getTags(['a', 'b']);
    expect(tags.get('a')!.map((t) => t.label)).toEqual(['red']);
    expect(tags.get('b')!.map((t) => t.label)).toEqual(['red']);
  });

  it('checks its options, and never repeats the URL', async () => {
    await expect(openStore('x', { poolSize: 0 })).rejects.toThrow('poolSize must be a positive integer, got 0');
    await expect(openStore('Bad-Name')).rejects.toThrow(/^schema must be a schema name/);
    await expect(openStore('x', { statementTimeoutMs: 2.5 })).rejects.toThrow(/statementTimeoutMs must be an integer/);
    await expect(openPostgresStore({ url: 'mysql://root:hunter2@db/catalogue' })).rejects.toThrow(
      /^url must be a postgres:\/\/ or postgresql:\/\/ URL$/,
    );
  });

  function autoTag(productId: string, patch: Partial<TagRow> = {}): TagRow {
    return {
      productId,
      facet: 'colour',
      label: 'red',
      score: 0.5,
      similarity: 0.25,
      source: 'auto',
      needsReview: false,
      model: 'search|fp32',
      taxonomyVersion: 1,
      ...patch,
    };
  }
});

describe('PostgresStore when the database is unavailable', () => {
  it('fails with STORE_UNAVAILABLE, without the address or password, when nothing listens', async () => {
    // A port that was free a moment ago: connection refused.
    const port = await new Promise<number>((resolve) => {
      const listener = createServer().listen(0, '127.0.0.1', () => {
        const { port } = listener.address() as AddressInfo;
        listener.close(() => resolve(port));
      });
    });
    const url = `postgresql://gateway:hunter2@127.0.0.1:${port}/catalogue`;
    const store = await openPostgresStore({ url, connectTimeoutMs: 2_000 });
    try {
      const error = await errorOf(store.migrate());
      expect(error.code).toBe('STORE_UNAVAILABLE');
      expect(error.message).toBe('The catalogue database cannot be reached.');
      expect(error.message).not.toMatch(/hunter2|127\.0\.0\.1|gateway/);
      expect(error.cause).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it('fails with STORE_UNAVAILABLE rather than hang when the server stops answering, then dies', async () => {
    const doomed = await startPostgres();
    const store = await openPostgresStore({ url: doomed.url, poolSize: 1, connectTimeoutMs: 1_000, statementTimeoutMs: 1_000 });
    try {
      await store.migrate();
      await store.upsertProducts([product('a')]);
      expect(await store.getProducts(['a'])).toHaveLength(1);

      process.kill(doomed.pid, 'SIGSTOP'); // frozen: connections open, nothing answers
      let started = Date.now();
      const frozen = await errorOf(store.getProducts(['a']));
      expect(frozen.code).toBe('STORE_UNAVAILABLE');
      expect(frozen.message).toBe('The catalogue database did not answer in time.');
      expect(Date.now() - started).toBeLessThan(5_000);
      // The timed-out connection was closed; a new one cannot complete its handshake either.
      started = Date.now();
      expect((await errorOf(store.upsertProducts([product('b')]))).code).toBe('STORE_UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(5_000);

      // A call in flight when the server dies fails at once, not at its deadline.
      const inFlight = errorOf(store.getProducts(['a']));
      await new Promise((resolve) => setTimeout(resolve, 200));
      process.kill(doomed.pid, 'SIGKILL');
      expect((await inFlight).code).toBe('STORE_UNAVAILABLE');

      await doomed.stop();
      started = Date.now();
      const gone = await errorOf(store.searchProducts(MODEL_A, new Float32Array([1, 0, 0, 0]), 3));
      expect(gone.code).toBe('STORE_UNAVAILABLE');
      expect(gone.message).toBe('The catalogue database cannot be reached.');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await doomed.stop();
      await store.close();
    }
  });

  it('names what failed in a sentence without internals', () => {
    const pgError = (code: string) => Object.assign(new Error('password authentication failed for user "gateway"'), { code });
    expect(unavailableSentence(pgError('28P01'))).toBe("The catalogue database refused the gateway's credentials.");
    expect(unavailableSentence(pgError('3D000'))).toBe('The catalogue database does not exist.');
    expect(unavailableSentence(pgError('57P01'))).toBe('The catalogue database is shutting down or starting up.');
    expect(unavailableSentence(pgError('53300'))).toBe('The catalogue database is out of resources (connections, memory or disk).');
    expect(unavailableSentence(pgError('40P01'))).toBe('The catalogue database is busy with a conflicting change; try again.');
    expect(unavailableSentence(pgError('57014'))).toBe('The catalogue database did not answer in time.');
    expect(unavailableSentence(new Error('Connection terminated unexpectedly'))).toBe('The catalogue database cannot be reached.');
    expect(unavailableSentence(new Error('timeout exceeded when trying to connect'))).toBe(
      'The catalogue database did not answer in time.',
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    expect(unavailableSentence(new AggregateError([refused], 'all addresses failed'))).toBe('The catalogue database cannot be reached.');
    // A failure of the statement itself (a bug, a constraint) is not an outage.
    expect(unavailableSentence(pgError('23505'))).toBeUndefined();
    expect(unavailableSentence(pgError('42P01'))).toBeUndefined();
    expect(unavailableSentence(new TypeError('k must be a non-negative integer, got -1'))).toBeUndefined();
  });
});
