// The PostgreSQL adapter (pgvector) on PGlite: writing with and without the HNSW index, building
// it, search and labelTopProducts.
import { Client } from 'pg';

import { openPostgresStore, type VectorModel } from '../../gateway/store';
import { fmt } from '../lib';
import { progress, type CatalogueBenchOptions } from './options';
import { startPglite } from './pglite';
import { fill, writeTags } from './products';
import { measureLabelTop, measureSearch, searchTable, truthFor, type SearchFigures, type Truth } from './search';
import { K, type ClusteredVectors } from './vectors';

export interface PgStep {
  size: number;
  /** Rows/s written with the HNSW index in place (at the previous size), over `probe` rows. */
  withIndex: { rows: number; at: number; perSecond: number };
  fillMs: number;
  buildMs: number;
}

export async function postgresStore(
  options: CatalogueBenchOptions,
  model: VectorModel,
  data: ClusteredVectors,
  sizes: number[],
  truths: Map<number, Truth>,
): Promise<void> {
  const { say, targets, quick } = options;
  const queryCount = quick ? 40 : 60;
  progress(`PostgreSQL (PGlite): starting`);
  const server = await startPglite();
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  // One connection: PGlite serves one backend session and interleaves concurrent extended-protocol queries (see test/helpers/postgres.ts).
  const store = await openPostgresStore({ url: server.url, poolSize: 1, statementTimeoutMs: 1_800_000 });
  const steps: PgStep[] = [];
  const searches: (SearchFigures & { mode: string })[] = [];
  let labelTop: { size: number; tagMs: number; p50: number; p90: number; minHits: number } | undefined;
  let versions = '';
  try {
    await store.migrate();
    const v = await admin.query<{ server: string; vector: string }>(
      `SELECT current_setting('server_version') AS server, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`,
    );
    versions = `PostgreSQL ${v.rows[0].server} with pgvector ${v.rows[0].vector}`;
    let filled = 0;
    for (const size of sizes) {
      // A few hundred rows with the index in place, for the rate of writing one by one into the graph.
      const probe = Math.min(500, size - filled);
      progress(`PostgreSQL: ${probe} products with the HNSW index in place, at ${filled}`);
      const probeMs = await fill(store, model, data, filled, filled + probe, 100);
      const withIndex = { rows: probe, at: filled, perSecond: probe / (probeMs / 1000) };
      filled += probe;
      // Then bulk loading as PostgreSQL is meant to be loaded: the index dropped, the rows written, the index built.
      const index = await hnswIndex(admin);
      await admin.query(`DROP INDEX ${index.name}`);
      progress(`PostgreSQL: writing products ${filled}–${size} without the index`);
      const fillMs = (await fill(store, model, data, filled, size, 1000)) + probeMs;
      filled = size;
      progress(`PostgreSQL: building the HNSW index on ${size}`);
      await admin.query(`SET maintenance_work_mem = '1GB'`);
      const b0 = performance.now();
      await admin.query(index.definition);
      const buildMs = performance.now() - b0;
      await admin.query('ANALYZE');
      steps.push({ size, withIndex, fillMs, buildMs });
      const truth = truthFor(data, size, queryCount, truths);
      progress(`PostgreSQL: searching ${size}`);
      const before = { ...store.searches };
      const figures = await measureSearch(store, model, size, truth);
      const after = store.searches;
      const ways = (['index', 'fallback', 'exact'] as const).filter((w) => after[w] > before[w]).map((w) => `${w} ${after[w] - before[w]}`);
      searches.push({ ...figures, mode: `HNSW (${ways.join(', ')})` });
      if (size === sizes[sizes.length - 1]) {
        progress(`PostgreSQL: tags and labelTopProducts at ${size}`);
        const tagMs = await writeTags(store, model, data, size, 1000);
        labelTop = { size, tagMs, ...(await measureLabelTop(store, 100)) };
      }
    }
  } finally {
    await store.close();
    await admin.end();
    await server.stop();
  }

  say(`### 6.4 The PostgreSQL adapter (pgvector) on PGlite`);
  say();
  say(
    `The same products, vectors and queries as 6.3, through \`openPostgresStore\` (one pooled connection) to PGlite (${versions}) behind \`pglite-socket\` over loopback TCP, in memory. PGlite is the real PostgreSQL engine compiled to WebAssembly, running single-threaded in one Node process: absolute numbers are a lower bound for a PostgreSQL server on the same machine, and the ratios between sizes are what carries over.`,
  );
  say();
  say(`| products | rows/s with the HNSW index in place (rows, at size) | writing without the index s (rows/s) | HNSW index build s |`);
  say(`| ---: | ---: | ---: | ---: |`);
  let previous = 0;
  for (const s of steps) {
    say(
      `| ${previous.toLocaleString('en')} → ${s.size.toLocaleString('en')} | ${fmt(s.withIndex.perSecond, 0)} (${s.withIndex.rows}, at ${s.withIndex.at.toLocaleString('en')}) | ${fmt(s.fillMs / 1000)} (${fmt((s.size - previous) / (s.fillMs / 1000), 0)}) | ${fmt(s.buildMs / 1000)} |`,
    );
    previous = s.size;
  }
  say();
  const last = steps[steps.length - 1];
  if (!sizes.includes(1_000_000) && last) {
    const rowsPerSecond = (last.size - (steps[steps.length - 2]?.size ?? 0)) / (last.fillMs / 1000);
    // HNSW builds grow as n log n.
    const build = (last.buildMs / 1000) * (1_000_000 / last.size) * (Math.log(1_000_000) / Math.log(last.size));
    say(
      `${quick ? `With --quick, only ${last.size.toLocaleString('en')} products. ` : ''}1,000,000 products were not run on PGlite: at the write rate measured above (${fmt(rowsPerSecond, 0)} rows/s without the index, at ${last.size.toLocaleString('en')}) filling alone would take ~${fmt(1_000_000 / rowsPerSecond / 60, 0)} min, and the index build, scaled from ${last.size.toLocaleString('en')} as n log n, ~${fmt(build / 60, 0)} min more: past this section's budget, and a measure of PGlite's single WebAssembly thread more than of the adapter.`,
    );
    say();
  }
  say(
    `Search, k=${K}, ${queryCount} queries one at a time, after the index build and ANALYZE (search mode: how the adapter answered, from its own counters):`,
  );
  say();
  searchTable(say, searches);
  if (labelTop) {
    say(
      `\`labelTopProducts\` (k=${K}) at ${labelTop.size.toLocaleString('en')} products with the same synthetic tags (written with \`replaceAutoTags\` in ${fmt(labelTop.tagMs / 1000)} s = ${fmt(labelTop.size / (labelTop.tagMs / 1000), 0)} tags/s), 100 calls: p50 **${fmt(labelTop.p50, 2)} ms**, p90 ${fmt(labelTop.p90, 2)} ms, fewest hits ${labelTop.minHits}.`,
    );
    say();
    targets.push([
      `catalogue: PostgreSQL (PGlite) labelTopProducts p50 at ${labelTop.size.toLocaleString('en')} (≤ 10 ms)`,
      `${fmt(labelTop.p50, 2)} ms`,
      labelTop.p50 <= 10 && labelTop.minHits === K,
    ]);
  }
  const top = searches[searches.length - 1];
  if (top) {
    targets.push([
      `catalogue: PostgreSQL (PGlite) search p50 at ${top.size.toLocaleString('en')}, k=${K} (≤ 50 ms)`,
      `${fmt(top.latency.p50)} ms`,
      top.latency.p50 <= 50,
    ]);
    const worst = (f: (s: SearchFigures) => number) => Math.min(...searches.map(f));
    targets.push([
      `catalogue: PostgreSQL (PGlite) recall@${K} unfiltered / filtered, worst (≥ 0.95), filtered returns k`,
      `${fmt(
        worst((s) => s.recall),
        3,
      )} / ${fmt(
        worst((s) => s.filtered.recall),
        3,
      )}, fewest ${worst((s) => s.filtered.minHits)}`,
      worst((s) => s.recall) >= 0.95 && worst((s) => s.filtered.recall) >= 0.95 && worst((s) => s.filtered.minHits) === K,
    ]);
  }
}

export async function hnswIndex(admin: Client): Promise<{ name: string; definition: string }> {
  const rows = (
    await admin.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%' ORDER BY indexname`,
    )
  ).rows;
  if (rows.length !== 1) throw new Error(`expected one HNSW index, found ${rows.length}`);
  return { name: rows[0].indexname, definition: rows[0].indexdef };
}
