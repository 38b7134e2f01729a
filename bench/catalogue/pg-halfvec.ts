// The PostgreSQL adapter's HNSW index over halfvec(dim) against one over vector(dim), on PGlite:
// build time, index size, search latency and recall@K (unfiltered and under a 10% filter), the same
// products, vectors and queries as §6.3/6.4. Run on its own (not part of `npm run bench`):
//
//   npx tsx bench/catalogue/pg-halfvec.ts [--size 20000] [--queries 100]
//
// Prints a Markdown subsection for BENCHMARKS.md §6 on stdout, progress on stderr.
import { Client } from 'pg';

import { openPostgresStore, type VectorModel } from '../../gateway/store';
import { fmt } from '../lib';
import { progress } from './options';
import { startPglite } from './pglite';
import { fill, indexOf } from './products';
import { percentile } from './search';
import { ClusteredVectors, DIM, FILTER, inFilter, K } from './vectors';

const MODEL: VectorModel = { name: 'bench-halfvec', dim: DIM, dtype: 'fp32' };

interface Run {
  p50: number;
  p99: number;
  recall: number;
  minHits: number;
  /** Largest |returned score − exact float32 cosine|: the scores are the vector column's, not halfvec's. */
  scoreError: number;
}

interface Figures {
  index: 'full' | 'half';
  buildMs: number;
  bytes: number;
  all: Run;
  filtered: Run;
  ways: string;
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got "${process.argv[at + 1]}"`);
  return value;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write('npx tsx bench/catalogue/pg-halfvec.ts [--size 20000] [--queries 100]\n');
    return;
  }
  const size = arg('size', 20_000);
  const queryCount = arg('queries', 100);
  const data = new ClusteredVectors(size, 7);
  data.grow(size);
  const queries = data.queries(queryCount, 100 + size);
  const t0 = performance.now();
  const truth = { all: data.exact(queries, size, K), filtered: data.exact(queries, size, K, inFilter) };
  progress(`exact answers for ${queryCount} queries at ${size}: ${fmt((performance.now() - t0) / 1000)} s`);

  const server = await startPglite();
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  const figures: Figures[] = [];
  let versions = '';
  try {
    // exactSearchMatching 0: the 10% filter goes through the index too, which is what is compared here.
    const options = { url: server.url, poolSize: 1, statementTimeoutMs: 1_800_000, exactSearchMatching: 0 };
    const loader = await openPostgresStore(options);
    await loader.migrate();
    const v = await admin.query<{ server: string; vector: string }>(
      `SELECT current_setting('server_version') AS server, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`,
    );
    versions = `PostgreSQL ${v.rows[0].server} with pgvector ${v.rows[0].vector}`;
    // The model's table and index are made on the first write; the index is dropped for the bulk load.
    await fill(loader, MODEL, data, 0, 1, 1);
    const table = (await admin.query<{ table_name: string }>(`SELECT table_name FROM vector_models`)).rows[0].table_name;
    await admin.query(`DROP INDEX "${table}_hnsw"`);
    progress(`writing ${size} products without the index`);
    await fill(loader, MODEL, data, 1, size, 1000);
    await loader.close();
    await admin.query(`SET maintenance_work_mem = '1GB'`);

    for (const index of ['full', 'half'] as const) {
      await admin.query(`DROP INDEX IF EXISTS "${table}_hnsw"`);
      const on = index === 'half' ? `((embedding::halfvec(${DIM})) halfvec_cosine_ops)` : '(embedding vector_cosine_ops)';
      progress(`building the ${index} HNSW index on ${size}`);
      const b0 = performance.now();
      await admin.query(`CREATE INDEX "${table}_hnsw" ON "${table}" USING hnsw ${on}`);
      const buildMs = performance.now() - b0;
      await admin.query(`UPDATE vector_models SET hnsw = $1`, [index]);
      await admin.query('ANALYZE');
      const bytes = Number((await admin.query<{ b: string }>(`SELECT pg_relation_size('"${table}_hnsw"') AS b`)).rows[0].b);
      // A new store: it reads the model's index kind afresh (set above, as migrate() would have).
      const store = await openPostgresStore({ ...options, indexPrecision: index });
      try {
        // Below a few thousand rows the planner prefers a sequential scan to an HNSW scan of ef_search 200: said in the table.
        const usesIndex = (await store.explainSearch(MODEL, queries[0], K)).includes(`Index Scan using ${table}_hnsw`);
        const run = async (filter: typeof FILTER | undefined, expected: number[][]): Promise<Run> => {
          for (const q of queries.slice(0, 3)) await store.searchProducts(MODEL, q, K, filter); // warm-up
          const times: number[] = [];
          let found = 0;
          let wanted = 0;
          let minHits = Infinity;
          let scoreError = 0;
          for (const [n, q] of queries.entries()) {
            const s0 = performance.now();
            const hits = await store.searchProducts(MODEL, q, K, filter);
            times.push(performance.now() - s0);
            minHits = Math.min(minHits, hits.length);
            const want = new Set(expected[n]);
            found += hits.filter((h) => want.has(indexOf(h.productId))).length;
            wanted += want.size;
            for (const h of hits) {
              const p = data.vector(indexOf(h.productId));
              let dot = 0;
              for (let d = 0; d < DIM; d++) dot += p[d] * q[d];
              scoreError = Math.max(scoreError, Math.abs(h.score - dot));
            }
          }
          times.sort((a, b) => a - b);
          return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), recall: found / wanted, minHits, scoreError };
        };
        progress(`searching (${index})`);
        const all = await run(undefined, truth.all);
        const filtered = await run(FILTER, truth.filtered);
        const s = store.searches;
        const ways = (['index', 'fallback', 'exact'] as const).filter((w) => s[w] > 0).map((w) => `${w} ${s[w]}`);
        figures.push({
          index,
          buildMs,
          bytes,
          all,
          filtered,
          ways: `${usesIndex ? 'plan: HNSW' : 'plan: sequential scan'}; ${ways.join(', ')}`,
        });
      } finally {
        await store.close();
      }
    }
  } finally {
    await admin.end();
    await server.stop();
  }

  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(
    `${size.toLocaleString('en')} products of ${DIM} dims (${versions}), k=${K}, ${queryCount} queries one at a time, ef_search as the adapter sets it (200, 400 filtered):`,
  );
  say();
  say(
    `| HNSW over | build s | index MB | bytes/vector | p50 ms | p99 ms | recall@${K} | 10% filter p50 ms | p99 ms | recall@${K} | fewest hits | max score error | searches |`,
  );
  say(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
  for (const f of figures) {
    say(
      `| ${f.index === 'half' ? `halfvec(${DIM})` : `vector(${DIM})`} | ${fmt(f.buildMs / 1000)} | ${fmt(f.bytes / 2 ** 20)} | ${fmt(f.bytes / size, 0)} | ${fmt(f.all.p50)} | ${fmt(f.all.p99)} | ${fmt(f.all.recall, 3)} | ${fmt(f.filtered.p50)} | ${fmt(f.filtered.p99)} | ${fmt(f.filtered.recall, 3)} | ${Math.min(f.all.minHits, f.filtered.minHits)} | ${Math.max(f.all.scoreError, f.filtered.scoreError).toExponential(1)} | ${f.ways} |`,
    );
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
