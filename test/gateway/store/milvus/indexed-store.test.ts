import { createServer, Socket, type Server } from 'node:net';

import { Client } from 'pg';

import { openConfiguredStore, openSqliteStore, type CatalogueStore } from '../../../../gateway/store';
import { MilvusVectors } from '../../../../gateway/store/milvus/client';
import { MilvusIndexedStore, type MilvusIndexOptions } from '../../../../gateway/store/milvus/indexed-store';
import { openPostgresStore } from '../../../../gateway/store/postgres';
import { startMilvusStandin, type MilvusStandin } from '../../../helpers/milvus-standin';
import { startPostgres, type PostgresServer } from '../../../helpers/postgres';
import { describeSearchContract, MODEL_A, product, tag } from '../contract';

/**
 * The catalogue store with Milvus answering its searches: SQLite (the real store) inside, the
 * real SDK's HttpClient against the stand-in speaking the RESTful API v2 on loopback. Milvus
 * "down" is a loopback TCP relay in front of the stand-in that stops accepting (and drops its
 * connections), then listens again on the same port: the address the store knows comes back.
 */

const TOKEN = 'root:Milvus';
let standin: MilvusStandin;
let stores = 0;

beforeAll(async () => {
  standin = await startMilvusStandin({ token: TOKEN });
});
afterAll(() => standin.close());

const vec = (...values: number[]) => new Float32Array(values);

function indexed(inner: CatalogueStore, address: string, options: Partial<MilvusIndexOptions> & { prefix?: string } = {}) {
  const lines: string[] = [];
  const { prefix, ...rest } = options;
  const store = new MilvusIndexedStore(inner, {
    milvus: new MilvusVectors({ address, token: TOKEN, collectionPrefix: prefix ?? `t${++stores}_` }),
    log: (line) => lines.push(line),
    logEveryMs: 0,
    ...rest,
  });
  return { store, lines };
}

async function sqliteInner(): Promise<CatalogueStore> {
  const inner = await openSqliteStore({ path: ':memory:' });
  await inner.migrate();
  return inner;
}

/** Each search prepares its model first (as the gateway does at start), then must be answered by Milvus, never by the inner store. */
function milvusFirst(store: MilvusIndexedStore): CatalogueStore {
  // ...unless the store itself refuses the search (its errors are the contract's) or answers it
  // without searching (k = 0).
  return new Proxy(store, {
    get(target, name) {
      if (name === 'searchProducts') {
        return async (...args: Parameters<CatalogueStore['searchProducts']>) => {
          const [model, query, k] = args;
          await target.prepareSearch(model).catch(() => undefined);
          const before = { milvus: target.milvusSearches, inner: target.innerSearches };
          const hits = await target.searchProducts(...args);
          const askable = k >= 1 && query.length === model.dim && query.some((x) => x !== 0);
          expect({ milvus: target.milvusSearches - before.milvus, inner: target.innerSearches - before.inner }).toEqual(
            askable ? { milvus: 1, inner: 0 } : { milvus: 0, inner: 1 },
          );
          return hits;
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describeSearchContract('sqlite (:memory:) with Milvus answering every search (the stand-in, through the SDK)', async () => {
  const { store } = indexed(await sqliteInner(), standin.address);
  return { store: milvusFirst(store), cleanup: () => store.close() };
});

// PostgreSQL (pgvector on PGlite, a real engine on loopback) inside: one server for the suite, a schema per store.
let postgres: PostgresServer | undefined;
let schemas = 0;
afterAll(async () => {
  await postgres?.stop();
});
describeSearchContract('postgres (PGlite) with Milvus answering every search', async () => {
  postgres ??= await startPostgres();
  const schema = `milvus_contract_${++schemas}`;
  const inner = await openPostgresStore({ url: postgres.url, schema, poolSize: 1 });
  await inner.migrate();
  const { store } = indexed(inner, standin.address);
  return {
    store: milvusFirst(store),
    cleanup: async () => {
      await store.close();
      const admin = new Client({ connectionString: postgres!.url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
});

/** A loopback TCP relay to `target`, which can stop accepting (Milvus down) and listen again on its port. */
async function relay(target: string): Promise<{ address: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = new Socket();
        sockets.add(client).add(upstream);
        upstream.connect(Number(targetPort), hostname);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const down = async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  await listen();
  return { address: `http://127.0.0.1:${port}`, down, up: listen, close: down };
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('MilvusIndexedStore', () => {
  let inner: CatalogueStore;
  const opened: MilvusIndexedStore[] = [];
  const open = (options: Parameters<typeof indexed>[2] = {}, address = standin.address) => {
    const made = indexed(inner, address, options);
    opened.push(made.store);
    return made;
  };
  const rowsOf = (store: MilvusIndexedStore) => standin.collections.get(store.milvus.collectionName(MODEL_A))?.rows ?? [];

  beforeEach(async () => {
    inner = await sqliteInner();
  });
  afterEach(async () => {
    // The wrappers share the inner store: each drains and stops its sync, the inner closes once.
    for (const store of opened.splice(0)) await store.close().catch(() => undefined);
    await inner.close().catch(() => undefined);
  });

  async function seed(store: CatalogueStore) {
    await store.upsertProducts([product('a', { attributes: { brand: 'acme' } }), product('b'), product('c')]);
    await store.putProductVectors(MODEL_A, [
      { productId: 'a', vector: vec(1, 0, 0, 0) },
      { productId: 'b', vector: vec(0, 1, 0, 0) },
      { productId: 'c', vector: vec(1, 1, 0, 0) },
    ]);
  }

  it('finds a write in a search made at once after it (read-your-writes), and no longer after its deletion', async () => {
    const { store, lines } = open({ prefix: 'ryw_' });
    await store.prepareSearch(MODEL_A);
    expect(lines).toEqual([
      expect.stringMatching(
        /^Milvus collection ryw_[0-9a-f]{64} \(clip-a\|fp32\): rebuilt from the store because it was missing: 0 vectors in \d+\.\d s$/,
      ),
    ]);
    await seed(store);
    // No wait between the write and the search: the search waits for the sync.
    const hits = await store.searchProducts(MODEL_A, vec(1, 0.1, 0, 0), 3);
    expect(hits.map((h) => h.productId)).toEqual(['a', 'c', 'b']);
    expect(hits[0].score).toBeCloseTo(1 / Math.hypot(1, 0.1), 5);
    expect(store.milvusSearches).toBe(1);
    expect(store.innerSearches).toBe(0);
    expect(rowsOf(store).map((r) => r.product_id)).toEqual(['a', 'b', 'c']);
    expect(rowsOf(store)[0]).toMatchObject({ attributes: { brand: 'acme' }, tags: [] });

    await store.deleteProducts(['a']);
    expect((await store.searchProducts(MODEL_A, vec(1, 0.1, 0, 0), 3)).map((h) => h.productId)).toEqual(['c', 'b']);
    expect(rowsOf(store).map((r) => r.product_id)).toEqual(['b', 'c']);
    // A product whose images change loses its vector in the store: so it does in Milvus.
    await store.upsertProducts([product('b', { imageHashes: ['f'.repeat(64)] })]);
    expect((await store.searchProducts(MODEL_A, vec(1, 0.1, 0, 0), 3)).map((h) => h.productId)).toEqual(['c']);
    expect(store.milvusSearches).toBe(3);
  });

  it('filters by tags after replaceAutoTags and setManualTags, and by attributes, in Milvus', async () => {
    const { store } = open();
    await store.prepareSearch(MODEL_A);
    await seed(store);
    const red = { tags: [{ facet: 'colour', label: 'red' }] };
    expect(await store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 3, red)).toEqual([]);
    await store.replaceAutoTags(['b', 'c'], [tag('b', 'colour', 'red'), tag('c', 'colour', 'red')]);
    expect((await store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 3, red)).map((h) => h.productId)).toEqual(['c', 'b']);
    await store.setManualTags('c', 'colour', [
      { label: 'blue', score: 1, similarity: 1, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
    ]);
    expect((await store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 3, red)).map((h) => h.productId)).toEqual(['b']);
    expect((await store.searchProducts(MODEL_A, vec(0, 1, 0, 0), 3, { attributes: { brand: 'acme' } })).map((h) => h.productId)).toEqual([
      'a',
    ]);
    expect(store.milvusSearches).toBe(4);
    expect(store.innerSearches).toBe(0);
  });

  it('rebuilds at prepareSearch a collection dropped behind its back, or whose count differs, saying why', async () => {
    const first = open({ prefix: 'rb_' });
    await first.store.prepareSearch(MODEL_A);
    await seed(first.store);
    await first.store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 1); // synced
    const name = first.store.milvus.collectionName(MODEL_A);

    // Dropped: a new gateway over the same store finds it missing.
    standin.collections.delete(name);
    const second = open({ prefix: 'rb_' });
    await second.store.prepareSearch(MODEL_A);
    expect(second.lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Milvus collection ${name} \\(clip-a\\|fp32\\): rebuilt from the store because it was missing: 3 vectors in \\d+\\.\\d s$`,
        ),
      ),
    ]);
    expect(
      standin.collections
        .get(name)!
        .rows.map((r) => r.product_id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);

    // One entity lost, one stray (a product the store does not have): the counts happen to differ.
    const rows = standin.collections.get(name)!.rows;
    const stray = { ...rows[0], product_id: 'zz-stray' };
    rows.splice(
      rows.findIndex((r) => r.product_id === 'b'),
      1,
    );
    rows.push(stray, { ...rows[0], product_id: 'zz-stray2' });
    const third = open({ prefix: 'rb_' });
    await third.store.prepareSearch(MODEL_A);
    expect(third.lines).toEqual([
      expect.stringMatching(
        /rebuilt from the store because it held 4 vectors where the store has 3: 3 vectors, 2 stale ones deleted in \d+\.\d s$/,
      ),
    ]);
    expect(
      standin.collections
        .get(name)!
        .rows.map((r) => r.product_id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);

    // Equal counts: current, nothing rewritten.
    const fourth = open({ prefix: 'rb_' });
    await fourth.store.prepareSearch(MODEL_A);
    expect(fourth.lines).toEqual([`Milvus collection ${name} (clip-a|fp32): current, 3 vectors as in the store`]);

    // Dropped while in use: the search is answered by the store, and the collection rebuilt.
    standin.collections.delete(name);
    expect((await fourth.store.searchProducts(MODEL_A, vec(0, 1, 0, 0), 1)).map((h) => h.productId)).toEqual(['b']);
    expect(fourth.store.innerSearches).toBe(1);
    await until(() => fourth.store.answersFromMilvus(MODEL_A), 5000, 'the rebuild');
    expect(fourth.lines.some((l) => /rebuilt from the store because it was missing: 3 vectors/.test(l))).toBe(true);
    expect((await fourth.store.searchProducts(MODEL_A, vec(0, 1, 0, 0), 1)).map((h) => h.productId)).toEqual(['b']);
    expect(fourth.store.milvusSearches).toBe(1);
  });

  it('rebuilds with VECTOR_INDEX_REBUILD even when the counts agree', async () => {
    const first = open({ prefix: 'flag_' });
    await first.store.prepareSearch(MODEL_A);
    await seed(first.store);
    await first.store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 1);
    // Stale content the count cannot see: a's tags in Milvus are not the store's.
    const name = first.store.milvus.collectionName(MODEL_A);
    standin.collections.get(name)!.rows.find((r) => r.product_id === 'a')!.tags = ['["colour","red"]'];
    const second = open({ prefix: 'flag_', rebuild: true });
    await second.store.prepareSearch(MODEL_A);
    expect(second.lines).toEqual([expect.stringMatching(/rebuilt from the store because VECTOR_INDEX_REBUILD is set: 3 vectors in/)]);
    expect(standin.collections.get(name)!.rows.find((r) => r.product_id === 'a')!.tags).toEqual([]);
  });

  it('keeps the writes made while a collection is being rebuilt', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await inner.upsertProducts(ids.map((id) => product(id)));
    await inner.putProductVectors(
      MODEL_A,
      ids.map((productId, i) => ({ productId, vector: vec(1, i / 60, 0, 0.5) })),
    );
    // Pages of one product: the rebuild reads the store 60 times. The writes come once it has
    // upserted a few: r01 and r03 were read before their writes, so only the sync can bring them.
    const { store, lines } = open({ prefix: 'during_', pageSize: 1 });
    const preparing = store.prepareSearch(MODEL_A);
    const rowsNow = () => standin.collections.get(store.milvus.collectionName(MODEL_A))?.rows.length ?? 0;
    await until(() => rowsNow() >= 5, 5000, 'the rebuild to upsert five products');
    await store.replaceAutoTags(['r01'], [tag('r01', 'colour', 'red')]);
    await store.upsertProducts([product('new')]);
    await store.putProductVectors(MODEL_A, [{ productId: 'new', vector: vec(0, 0, 1, 0) }]);
    await store.deleteProducts(['r02']);
    await store.putProductVectors(MODEL_A, [{ productId: 'r03', vector: vec(0, 0, 0, 1) }]);
    expect(rowsNow()).toBeLessThan(60);
    expect((await store.searchProducts(MODEL_A, vec(0, 0, 1, 0), 1)).map((h) => h.productId)).toEqual(['new']);
    await preparing;
    expect(lines).toEqual([expect.stringMatching(/because it was missing: \d+ vectors/)]);
    await until(() => store.syncBacklog === 0, 5000, 'the sync');
    const rows = new Map(standin.collections.get(store.milvus.collectionName(MODEL_A))!.rows.map((r) => [r.product_id, r]));
    expect(rows.size).toBe(60); // 60 - r02 + new
    expect(rows.has('r02')).toBe(false);
    expect(rows.get('r01')!.tags).toEqual(['["colour","red"]']);
    expect(rows.get('r03')!.vector).toEqual([0, 0, 0, 1]);
    expect(
      (await store.searchProducts(MODEL_A, vec(0, 0, 1, 0), 1, { tags: [{ facet: 'colour', label: 'red' }] })).map((h) => h.productId),
    ).toEqual(['r01']);
    expect((await store.searchProducts(MODEL_A, vec(0, 0, 1, 0), 1)).map((h) => h.productId)).toEqual(['new']);
    expect(store.milvusSearches).toBe(2);
  });

  it('answers from the store while Milvus is down, keeps the writes, and syncs them once it is back', async () => {
    const milvus = await relay(standin.address);
    try {
      const { store, lines } = open({ prefix: 'down_' }, milvus.address);
      await store.prepareSearch(MODEL_A);
      await seed(store);
      expect((await store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 1)).map((h) => h.productId)).toEqual(['a']);
      expect(store.milvusSearches).toBe(1);

      await milvus.down();
      // Writes succeed (they committed in the store); searches are answered by the store, and see them.
      await store.upsertProducts([product('d')]);
      await store.putProductVectors(MODEL_A, [{ productId: 'd', vector: vec(0, 0, 1, 0) }]);
      await store.deleteProducts(['a']);
      expect((await store.searchProducts(MODEL_A, vec(0.1, 0, 1, 0), 2)).map((h) => h.productId)).toEqual(['d', 'c']);
      expect(store.innerSearches).toBe(1);
      await until(() => lines.some((l) => l.startsWith('Milvus sync failed')), 5000, 'the sync failure');
      expect(lines.find((l) => l.startsWith('Milvus sync failed'))).toMatch(
        /products waiting, next try in \d+ ms: .*cannot reach Milvus at http:\/\/127\.0\.0\.1/,
      );
      expect(store.syncBacklog).toBe(2);
      const name = store.milvus.collectionName(MODEL_A);
      expect(standin.collections.get(name)!.rows.map((r) => r.product_id)).toEqual(['a', 'b', 'c']);

      await milvus.up();
      await until(() => store.syncBacklog === 0, 15_000, 'the sync after Milvus came back');
      expect(
        standin.collections
          .get(name)!
          .rows.map((r) => r.product_id)
          .sort(),
      ).toEqual(['b', 'c', 'd']);
      expect(lines.some((l) => /^Milvus sync recovered after \d+ failed attempts?$/.test(l))).toBe(true);
      expect((await store.searchProducts(MODEL_A, vec(0.1, 0, 1, 0), 2)).map((h) => h.productId)).toEqual(['d', 'c']);
      expect(store.milvusSearches).toBe(2);
    } finally {
      await milvus.close();
    }
  });

  it('answers from the store, and logs once, a search Milvus fails', async () => {
    const milvus = await relay(standin.address);
    try {
      const { store, lines } = open({ prefix: 'fail_', logEveryMs: 60_000 }, milvus.address);
      await store.prepareSearch(MODEL_A);
      await seed(store);
      await store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 1);
      await milvus.down();
      for (let i = 0; i < 3; i++) expect((await store.searchProducts(MODEL_A, vec(0, 1, 0, 0), 1)).map((h) => h.productId)).toEqual(['b']);
      expect(store.innerSearches).toBe(3);
      expect(lines.filter((l) => l.startsWith('searches answered by the store, not Milvus'))).toHaveLength(1);
      await milvus.up();
    } finally {
      await milvus.close();
    }
  });

  it('is what openConfiguredStore opens for a configuration with milvus', async () => {
    const store = await openConfiguredStore({
      kind: 'sqlite',
      path: ':memory:',
      milvus: { address: standin.address, token: TOKEN, collectionPrefix: 'configured_', rebuild: false },
    });
    try {
      expect(store).toBeInstanceOf(MilvusIndexedStore);
      expect(store.kind).toBe('sqlite');
      await store.migrate();
      await store.prepareSearch(MODEL_A);
      await store.upsertProducts([product('a')]);
      await store.putProductVectors(MODEL_A, [{ productId: 'a', vector: vec(1, 0, 0, 0) }]);
      expect((await store.searchProducts(MODEL_A, vec(1, 0, 0, 0), 1)).map((h) => h.productId)).toEqual(['a']);
      expect((store as MilvusIndexedStore).milvusSearches).toBe(1);
    } finally {
      await store.close();
    }
  });
});
