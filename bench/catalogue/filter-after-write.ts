// Filtered search on the embedded store after the writes a busy catalogue makes between searches:
// none (a filter searched again), a tag written by this store, a product written by this store,
// a product written by another connection to the same file. What SQLite's store learnt of a filter
// (filter-memory.ts) serves the next searches until what the filter reads changes: a filter of
// attributes keeps it through writes of tags, not through writes of products. The 10% and the 1%
// filters of the catalogue bench, over its synthetic products (512 dims, clustered), through the
// HNSW graph (or exactly, where at most 1,000 products match); each kind of write one phase of the
// queries, the phases in turn over two rounds.
//
// `npm run build && node dist/bench/catalogue/filter-after-write.js [--products 200000] [--queries 40]`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { openSqliteStore, type ProductFilter, type SqliteStore, type VectorModel } from '../../gateway/store';
import { fmt } from '../lib';
import { fill, idOf, productRows } from './products';
import { percentile } from './search';
import { ClusteredVectors, DIM, FILTER, K, RARE_FILTER } from './vectors';

const MODEL: VectorModel = { name: 'filter-after-write', dim: DIM, dtype: 'fp32' };
const ROUNDS = 2;

type Write = 'nothing' | 'a tag, this store' | 'a product, this store' | 'a product, another connection';
const WRITES: Write[] = ['nothing', 'a tag, this store', 'a product, this store', 'a product, another connection'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { products: { type: 'string', default: '200000' }, queries: { type: 'string', default: '40' } },
  });
  const products = check('--products', Number(values.products), positiveInt);
  const queryCount = check('--queries', Number(values.queries), positiveInt);
  const dir = mkdtempSync(join(tmpdir(), 'filter-after-write-'));
  const path = join(dir, 'catalogue.sqlite');
  try {
    const store = await openSqliteStore({ path, log: () => {} });
    await store.migrate();
    // Another connection to the same file, as a second gateway process or a script would have.
    const other = await openSqliteStore({ path, log: () => {} });
    try {
      const data = new ClusteredVectors(products, 7);
      data.grow(products);
      await fill(store, MODEL, data, 0, products, 2000);
      await store.prepareSearch(MODEL);
      const queries = data.queries(queryCount, 100 + products);
      const warmUp = data.queries(3, 200 + products);
      // A product outside the filters' brand and shelf, written again and again (its title changes).
      const touched = productRows(1, 2, new Date().toISOString())[0];
      let n = 0;
      const write: Record<Write, () => Promise<unknown>> = {
        nothing: async () => {},
        'a tag, this store': () =>
          store.replaceAutoTags(
            [idOf(1)],
            n++ % 2 === 0
              ? [
                  {
                    productId: idOf(1),
                    facet: 'touched',
                    label: 'yes',
                    score: 1,
                    similarity: 0.5,
                    source: 'auto',
                    needsReview: false,
                    model: 'bench|fp32',
                    taxonomyVersion: 1,
                  },
                ]
              : [],
          ),
        'a product, this store': () => store.upsertProducts([{ ...touched, title: `touched ${n++}` }]),
        'a product, another connection': () => other.upsertProducts([{ ...touched, title: `touched ${n++}` }]),
      };
      const times = new Map<string, { ms: number[]; throughGraph: number }>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, filter] of [
          ['10%', FILTER],
          ['1%', RARE_FILTER],
        ] as const) {
          for (const kind of WRITES) {
            const key = `${name}\0${kind}`;
            if (!times.has(key)) times.set(key, { ms: [], throughGraph: 0 });
            const { ms, throughGraph } = await searchAfter(store, filter, warmUp, queries, write[kind]);
            times.get(key)!.ms.push(...ms);
            times.get(key)!.throughGraph += throughGraph;
          }
        }
      }
      const say = (line = '') => process.stdout.write(`${line}\n`);
      say(
        `Filtered search (k=${K}) on the embedded store at ${products.toLocaleString('en')} products (through its HNSW graph, or scored exactly where at most 1,000 products match: the last column), ${queryCount} queries a phase after 3 warm-up ones, ${ROUNDS} rounds of the phases, with a write before each search:`,
      );
      say();
      say('| filter | written before each search | p50 ms | p90 ms | through the graph |');
      say('| --- | --- | ---: | ---: | ---: |');
      for (const [key, { ms, throughGraph }] of times) {
        const [name, kind] = key.split('\0');
        ms.sort((a, b) => a - b);
        say(`| ${name} | ${kind} | ${fmt(percentile(ms, 0.5))} | ${fmt(percentile(ms, 0.9))} | ${throughGraph} of ${ms.length} |`);
      }
    } finally {
      await other.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The queries' ms under `filter`, each search after `write` (the warm-up ones too), from the search's call to its answer. */
async function searchAfter(
  store: SqliteStore,
  filter: ProductFilter,
  warmUp: Float32Array[],
  queries: Float32Array[],
  write: () => Promise<unknown>,
): Promise<{ ms: number[]; throughGraph: number }> {
  for (const q of warmUp) {
    await write();
    await store.searchProducts(MODEL, q, K, filter);
  }
  const ms: number[] = [];
  const before = store.approximateSearches;
  for (const q of queries) {
    await write();
    const t0 = performance.now();
    const hits = await store.searchProducts(MODEL, q, K, filter);
    ms.push(performance.now() - t0);
    if (hits.length !== K) throw new Error(`a filtered search returned ${hits.length} hits, not ${K}`);
  }
  // Through the graph (a walk or the codes), or not: below 1,000 matching products a filter's are scored exactly.
  return { ms, throughGraph: store.approximateSearches.graph - before.graph };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench filter-after-write: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
