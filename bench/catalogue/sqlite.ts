// The embedded store (SQLite + sqlite-vec): search at three sizes, labelTopProducts, re-tagging.
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { indexRootOf, openSqliteStore, type SqliteStore, type VectorModel } from '../../gateway/store';
import { fmt } from '../lib';
import { catalogueOn } from './composed';
import { progress, type CatalogueBenchOptions } from './options';
import { fill, writeTags } from './products';
import { reportRetag, retagging, type RetagFigures } from './retag';
import { measureLabelTop, measureSearch, searchTable, sideBySideP50, truthFor, type SearchFigures, type Truth } from './search';
import { BRANDS, CLUSTERS, DIM, K, NOISE, TAG_FACET, TAG_LABELS, type ClusteredVectors } from './vectors';

/** The store's default: searches of more vectors than this are approximate. */
const APPROXIMATE_ABOVE = 20_000;

export async function embeddedStore(
  options: CatalogueBenchOptions,
  data: ClusteredVectors,
  sizes: number[],
  tagSize: number,
  truths: Map<number, Truth>,
): Promise<VectorModel> {
  const { say, targets, quick } = options;
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-sqlite-'));
  const path = join(dir, 'catalogue.sqlite');
  const queryCount = quick ? 40 : 60;
  const fills: { size: number; generateMs: number; fillMs: number; bytes: number }[] = [];
  const graphs: { size: number; buildMs: number; memoryBytes: number; diskBytes: number; note: string }[] = [];
  let restart: { ms: number; memoryBytes: number; note: string } | undefined;
  // Copies of the store at the smaller sizes searched through the graph, for the side-by-side growth.
  const copies: { size: number; path: string }[] = [];
  let sideBySide: { sizes: number[]; p50: number[]; rounds: number } | undefined;
  const searches: (SearchFigures & { mode: string })[] = [];
  let labelTop: { size: number; tagMs: number; p50: number; p90: number; minHits: number } | undefined;
  let retag: RetagFigures | undefined;
  let model: VectorModel;
  try {
    let indexNote = '';
    const store = await openSqliteStore({
      path,
      log: (message) => {
        indexNote = message;
        progress(`  ${message}`);
      },
    });
    await store.migrate();
    // The catalogue service comes first: the model it serves names the vectors written below.
    const catalogue = await catalogueOn(store, options.modelDir);
    model = catalogue.service.model;
    let filled = 0;
    try {
      for (const size of sizes) {
        progress(`SQLite: generating and writing products ${filled}–${size}`);
        const g0 = performance.now();
        data.grow(size);
        const generateMs = performance.now() - g0;
        const fillMs = await fill(store, model, data, filled, size, 2000);
        filled = size;
        fills.push({ size, generateMs, fillMs, bytes: fileBytes(path) });
        const approximate = size > APPROXIMATE_ABOVE;
        if (approximate) {
          progress(`SQLite: making the HNSW graph of ${size} vectors`);
          global.gc?.();
          const before = process.memoryUsage().rss;
          const b0 = performance.now();
          await store.prepareSearch(model);
          const buildMs = performance.now() - b0;
          global.gc?.();
          graphs.push({
            size,
            buildMs,
            memoryBytes: process.memoryUsage().rss - before,
            diskBytes: dirBytes(indexRootOf(path)),
            note: indexNote,
          });
        }
        const truth = truthFor(data, size, queryCount, truths);
        progress(`SQLite: searching ${size}`);
        searches.push({
          ...(await measureSearch(store, model, size, truth)),
          mode: approximate ? 'HNSW graph + exact rescore' : 'exact',
        });
        if (approximate && size < sizes[sizes.length - 1]) copies.push({ size, path: copyStore(path, dir, size) });
        if (size === tagSize) {
          progress(`SQLite: tags and labelTopProducts at ${size}`);
          const tagMs = await writeTags(store, model, data, size, 1000);
          labelTop = { size, tagMs, ...(await measureLabelTop(store, 100)) };
          progress(`SQLite: re-tagging ${size} products`);
          retag = await retagging(catalogue, data, size);
          await catalogue.close();
        }
      }
    } finally {
      await catalogue.close();
      await store.close();
    }
    if (graphs.length > 0) {
      // A restart: the saved graph of the largest size loaded by a store opened afresh on the file.
      progress(`SQLite: reopening the store and loading its saved graph`);
      let note = '';
      const reopened = await openSqliteStore({ path, log: (message) => (note = message) });
      try {
        await reopened.migrate();
        global.gc?.();
        const before = process.memoryUsage().rss;
        const l0 = performance.now();
        await reopened.prepareSearch(model);
        restart = { ms: performance.now() - l0, memoryBytes: process.memoryUsage().rss - before, note };
        if (copies.length > 0)
          sideBySide = await growthSideBySide(copies, { store: reopened, size: sizes[sizes.length - 1] }, model, truths);
      } finally {
        await reopened.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  if (retag) reportRetag(options, retag);

  say(`### 6.3 Search on the embedded store (SQLite + sqlite-vec)`);
  say();
  say(
    `Synthetic product vectors: ${DIM} dims, ${CLUSTERS} random unit centres plus Gaussian noise (norm ${NOISE} of the centre's), normalised; each product has \`attributes.brand\` one of ${BRANDS} (cycling by id, independent of the cluster). Written through the port (\`upsertProducts\`, then \`putProductVectors\`, 2000 products per transaction) into one SQLite file in a temp dir, grown from one size to the next (each size holds the smaller ones).`,
  );
  say();
  say(`| products | generating the vectors s | writing them through the port s | products/s | file MB |`);
  say(`| ---: | ---: | ---: | ---: | ---: |`);
  let previous = 0;
  for (const f of fills) {
    say(
      `| ${previous.toLocaleString('en')} → ${f.size.toLocaleString('en')} | ${fmt(f.generateMs / 1000)} | ${fmt(f.fillMs / 1000)} | ${fmt((f.size - previous) / (f.fillMs / 1000), 0)} | ${fmt(f.bytes / 2 ** 20, 0)} |`,
    );
    previous = f.size;
  }
  say();
  say(
    `\`searchProducts\` for k=${K}, ${queryCount} query vectors near random clusters (never stored vectors), one at a time in this process (better-sqlite3 and hnswlib are synchronous: the time is the store's), after 3 warm-up queries of their own (not among those timed: from the second search under a filter, SQLite answers from what it learnt of that filter, \`filter-memory.ts\`, until the next write). Recall@${K} is against the exact answer on the same data, by brute force in JS (Float32Array dot products). Filtered: \`attributes: { brand: "b3" }\` matching 10% of products and \`attributes: { shelf: "s37" }\` matching 1%, each against the exact answer among those; every filtered search must return exactly ${K} hits. The adapter is exact up to ${APPROXIMATE_ABOVE.toLocaleString('en')} products (\`approximateSearchAbove\`); above, it takes candidates from the model's HNSW graph (hnswlib, M 32, efConstruction 64, search width 256; under a filter matching at least 3% of products 128; under a more selective one, every matching product ranked by the graph's 8-bit codes of the vectors and the best 4 × (k + 1) taken) and rescores them exactly.`,
  );
  say();
  searchTable(say, searches);
  if (graphs.length > 0) {
    say(
      `The HNSW graph at each size, made by \`prepareSearch\` in a worker thread after the products were written (the saved graph of the size before is loaded and the new vectors added to it; see the store's line for each). Memory is the gateway process's resident set after against before (the graph is held in this process, once); disk is the saved graph beside the database.`,
    );
    say();
    say(`| products | made in s | memory added MiB | per million vectors GiB | on disk MiB | the store's line |`);
    say(`| ---: | ---: | ---: | ---: | ---: | --- |`);
    for (const g of graphs) {
      say(
        `| ${g.size.toLocaleString('en')} | ${fmt(g.buildMs / 1000)} | ${fmt(g.memoryBytes / 2 ** 20, 0)} | ${fmt(((g.memoryBytes / g.size) * 1e6) / 2 ** 30, 2)} | ${fmt(g.diskBytes / 2 ** 20, 0)} | ${g.note.replace(/^search index of model [^:]+: /, '')} |`,
      );
    }
    say();
    if (restart) {
      say(
        `At a restart (a store opened afresh on the same file, \`prepareSearch\` timed) the saved graph of ${graphs[graphs.length - 1].size.toLocaleString('en')} vectors was back in ${fmt(restart.ms / 1000)} s, adding ${fmt(restart.memoryBytes / 2 ** 20, 0)} MiB: "${restart.note.replace(/^search index of model [^:]+: /, '')}".`,
      );
      say();
    }
  }
  const approximate = searches.filter((s) => s.size > APPROXIMATE_ABOVE);
  if (approximate.length > 1) {
    const growth = approximate
      .slice(1)
      .map(
        (s, i) =>
          `×${fmt(s.latency.p50 / approximate[i].latency.p50, 2)} from ${approximate[i].size.toLocaleString('en')} to ${s.size.toLocaleString('en')} (${fmt(s.size / approximate[i].size, 0)}× the products; log n grows ×${fmt(Math.log(s.size) / Math.log(approximate[i].size), 2)})`,
      );
    say(`Through the graph the unfiltered p50 grows ${growth.join(', ')}, each size measured when it was reached.`);
    say();
  }
  if (sideBySide) {
    const { sizes: at, p50, rounds } = sideBySide;
    say(
      `Side by side, after the restart above (the store at ${at
        .slice(0, -1)
        .map((n) => n.toLocaleString('en'))
        .join(
          ' and ',
        )} products copied when it was reached, its saved graph loaded, and the reopened store of ${at[at.length - 1].toLocaleString('en')}): its ${rounds} rounds of the ${at[at.length - 1].toLocaleString('en')}'s queries, each query searched on every store in turn, the order rotating, unfiltered p50 ${at.map((n, i) => `${fmt(p50[i], 2)} ms at ${n.toLocaleString('en')}`).join(', ')}: ×${fmt(p50[p50.length - 1] / p50[0], 2)} from ${at[0].toLocaleString('en')} to ${at[at.length - 1].toLocaleString('en')} (log n ×${fmt(Math.log(at[at.length - 1]) / Math.log(at[0]), 2)}).`,
    );
    say();
  }
  const mid = searches.find((s) => s.size === tagSize) ?? searches[searches.length - 1];
  if (labelTop) {
    say(
      `\`labelTopProducts\` (k=${K}) at ${labelTop.size.toLocaleString('en')} products, each with one automatic tag in facet \`${TAG_FACET}\` (${TAG_LABELS} labels, ~${fmt(labelTop.size / TAG_LABELS, 0)} products a label; written with \`replaceAutoTags\`, 1000 products a transaction, in ${fmt(labelTop.tagMs / 1000)} s = ${fmt(labelTop.size / (labelTop.tagMs / 1000), 0)} tags/s), 100 calls on random labels, one at a time: p50 **${fmt(labelTop.p50, 2)} ms**, p90 ${fmt(labelTop.p90, 2)} ms, fewest hits ${labelTop.minHits}.`,
    );
    say();
    targets.push([
      `catalogue: SQLite labelTopProducts p50 at ${labelTop.size.toLocaleString('en')} products (≤ 10 ms)`,
      `${fmt(labelTop.p50, 2)} ms`,
      labelTop.p50 <= 10 && labelTop.minHits === K,
    ]);
  }
  targets.push([
    `catalogue: SQLite search p50 at ${mid.size.toLocaleString('en')} products, k=${K} (≤ 50 ms)`,
    `${fmt(mid.latency.p50)} ms`,
    mid.latency.p50 <= 50,
  ]);
  const largest = searches[searches.length - 1];
  const at = largest.size.toLocaleString('en');
  targets.push([
    `catalogue: SQLite search at ${at} products, k=${K}: p50 ≤ 10 ms, p99 ≤ 30 ms, recall@${K} ≥ 0.95`,
    `${fmt(largest.latency.p50)} / ${fmt(largest.latency.p99)} ms, ${fmt(largest.recall, 3)}`,
    largest.latency.p50 <= 10 && largest.latency.p99 <= 30 && largest.recall >= 0.95,
  ]);
  for (const [share, run] of [
    ['10%', largest.filtered],
    ['1%', largest.rare],
  ] as const) {
    targets.push([
      `catalogue: SQLite filtered search (${share} match) at ${at}: exactly k=${K}, recall@${K} ≥ 0.95, p50 ≤ 30 ms`,
      `fewest ${run.minHits}, ${fmt(run.recall, 3)}, ${fmt(run.p50)} ms`,
      run.minHits === K && run.recall >= 0.95 && run.p50 <= 30,
    ]);
  }
  if (approximate.length > 1) {
    // Measured side by side when the stores could be (the ratio of two sizes measured minutes apart
    // carries the machine's drift between them).
    const [first, p50First, p50Largest, how] = sideBySide
      ? [sideBySide.sizes[0], sideBySide.p50[0], sideBySide.p50[sideBySide.p50.length - 1], 'side by side']
      : [approximate[0].size, approximate[0].latency.p50, largest.latency.p50, 'each when reached'];
    const growth = p50Largest / p50First;
    const logGrowth = Math.log(largest.size) / Math.log(first);
    targets.push([
      `catalogue: SQLite search p50 grows no faster than log n, ${first.toLocaleString('en')} → ${at}`,
      `×${fmt(growth, 2)} (log n ×${fmt(logGrowth, 2)}), ${how}`,
      growth <= logGrowth,
    ]);
  }
  const worst = (f: (s: SearchFigures) => number) => Math.min(...searches.map(f));
  targets.push([
    `catalogue: SQLite recall@${K} vs exact, unfiltered / 10% / 1%, worst of ${searches.map((s) => s.size.toLocaleString('en')).join(', ')} (≥ 0.95)`,
    `${fmt(
      worst((s) => s.recall),
      3,
    )} / ${fmt(
      worst((s) => s.filtered.recall),
      3,
    )} / ${fmt(
      worst((s) => s.rare.recall),
      3,
    )}`,
    worst((s) => s.recall) >= 0.95 && worst((s) => s.filtered.recall) >= 0.95 && worst((s) => s.rare.recall) >= 0.95,
  ]);
  return model;
}

/**
 * A copy of the store's file (and its WAL) and saved graphs, taken between searches (no transaction
 * open, no checkpoint running): the copy opens as the store was at that size.
 */
function copyStore(path: string, dir: string, size: number): string {
  const copy = join(dir, `at-${size}.sqlite`);
  copyFileSync(path, copy);
  if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
  if (existsSync(indexRootOf(path))) cpSync(indexRootOf(path), indexRootOf(copy), { recursive: true });
  return copy;
}

/** The copies' and the largest store's unfiltered p50, side by side (sideBySideP50), their saved graphs loaded first. */
async function growthSideBySide(
  copies: { size: number; path: string }[],
  largest: { store: SqliteStore; size: number },
  model: VectorModel,
  truths: Map<number, Truth>,
): Promise<{ sizes: number[]; p50: number[]; rounds: number }> {
  progress(`SQLite: searching ${copies.map((c) => c.size).join(', ')} and the reopened store side by side`);
  const opened: SqliteStore[] = [];
  try {
    for (const copy of copies) {
      const store = await openSqliteStore({ path: copy.path, log: (message) => progress(`  ${message}`) });
      opened.push(store);
      await store.migrate();
      await store.prepareSearch(model);
    }
    const rounds = 3;
    const stores = [...opened, largest.store];
    const before = stores.map((store) => store.approximateSearches.graph);
    // The largest size's queries: its truth was made when it was searched.
    const truth = truths.get(largest.size)!;
    const p50 = await sideBySideP50(stores, model, truth, rounds);
    // Every search through the graph, as in the table above: a store still making its graph would be timed on another path.
    const searched = truth.warmUp.length + rounds * truth.queries.length;
    stores.forEach((store, i) => {
      const through = store.approximateSearches.graph - before[i];
      if (through !== searched) throw new Error(`side by side: ${through} of ${searched} searches went through the graph`);
    });
    return { sizes: [...copies.map((c) => c.size), largest.size], p50, rounds };
  } finally {
    for (const store of opened) await store.close();
  }
}

/** The bytes of the files under `dir` (0 when it does not exist). */
function dirBytes(dir: string): number {
  let bytes = 0;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
    }
  } catch {
    // no index saved
  }
  return bytes;
}

export function fileBytes(path: string): number {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      bytes += statSync(file).size;
    } catch {
      // no WAL at the moment
    }
  }
  return bytes;
}
