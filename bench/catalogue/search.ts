// Search and label queries: one at a time, each timed from call to answer, with recall against
// the exact answers.
import { fmt, seeded } from '../lib';
import type { CatalogueStore, ProductFilter, VectorModel } from '../../gateway/store';
import { progress } from './options';
import { indexOf } from './products';
import { FILTER, inFilter, inRareFilter, K, RARE_FILTER, TAG_FACET, TAG_LABELS, type ClusteredVectors } from './vectors';

export interface Truth {
  queries: Float32Array[];
  /** Other queries, searched before the timed ones: a store that learns from a search (SQLite's filter memory) learns nothing of the timed ones from them. */
  warmUp: Float32Array[];
  all: number[][];
  filtered: number[][];
  /** Under the 1% filter. */
  rare: number[][];
}

/** One kind of search, timed over every query: percentiles in ms, recall against the exact answers, the fewest hits. */
export interface SearchRun {
  p50: number;
  p90: number;
  p99: number;
  recall: number;
  minHits: number;
}

export interface SearchFigures {
  size: number;
  latency: SearchRun;
  recall: number;
  /** Under the 10% filter. */
  filtered: SearchRun;
  /** Under the 1% filter. */
  rare: SearchRun;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export function truthFor(data: ClusteredVectors, size: number, queryCount: number, truths: Map<number, Truth>): Truth {
  let truth = truths.get(size);
  if (!truth) {
    const t0 = performance.now();
    const queries = data.queries(queryCount, 100 + size);
    truth = {
      queries,
      warmUp: data.queries(3, 200 + size),
      all: data.exact(queries, size, K),
      filtered: data.exact(queries, size, K, inFilter),
      rare: data.exact(queries, size, K, inRareFilter),
    };
    truths.set(size, truth);
    progress(`  exact answers for ${queryCount} queries at ${size} (brute force): ${fmt((performance.now() - t0) / 1000)} s`);
  }
  return truth;
}

export async function measureSearch(store: CatalogueStore, model: VectorModel, size: number, truth: Truth): Promise<SearchFigures> {
  const run = async (filter: ProductFilter | undefined, expected: number[][]): Promise<SearchRun> => {
    for (const q of truth.warmUp) await store.searchProducts(model, q, K, filter);
    const times: number[] = [];
    let found = 0;
    let wanted = 0;
    let minHits = Infinity;
    for (const [n, q] of truth.queries.entries()) {
      const t0 = performance.now();
      const hits = await store.searchProducts(model, q, K, filter);
      times.push(performance.now() - t0);
      minHits = Math.min(minHits, hits.length);
      const want = new Set(expected[n]);
      found += hits.filter((h) => want.has(indexOf(h.productId))).length;
      wanted += want.size;
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 0.5), p90: percentile(times, 0.9), p99: percentile(times, 0.99), recall: found / wanted, minHits };
  };
  const all = await run(undefined, truth.all);
  const filtered = await run(FILTER, truth.filtered);
  const rare = await run(RARE_FILTER, truth.rare);
  return { size, latency: all, recall: all.recall, filtered, rare };
}

/**
 * The unfiltered p50 (ms) of each store, measured side by side: every query on every store in turn,
 * the order rotating from one query to the next, over `rounds` rounds of the queries. A machine
 * whose speed drifts over minutes then slows each store alike, where sizes measured one after
 * another minutes apart take the drift into their ratio.
 */
export async function sideBySideP50(
  stores: CatalogueStore[],
  model: VectorModel,
  truth: Pick<Truth, 'queries' | 'warmUp'>,
  rounds: number,
): Promise<number[]> {
  for (const store of stores) for (const q of truth.warmUp) await store.searchProducts(model, q, K);
  const times = stores.map((): number[] => []);
  let turn = 0;
  for (let round = 0; round < rounds; round++) {
    for (const q of truth.queries) {
      for (let i = 0; i < stores.length; i++) {
        const s = (i + turn) % stores.length;
        const t0 = performance.now();
        await stores[s].searchProducts(model, q, K);
        times[s].push(performance.now() - t0);
      }
      turn++;
    }
  }
  return times.map((t) =>
    percentile(
      t.sort((a, b) => a - b),
      0.5,
    ),
  );
}

export async function measureLabelTop(store: CatalogueStore, calls: number): Promise<{ p50: number; p90: number; minHits: number }> {
  const random = seeded(13);
  const labels = Array.from({ length: calls }, () => `c${(random() * TAG_LABELS) | 0}`);
  for (const label of labels.slice(0, 3)) await store.labelTopProducts(TAG_FACET, label, K);
  const times: number[] = [];
  let minHits = Infinity;
  for (const label of labels) {
    const t0 = performance.now();
    const hits = await store.labelTopProducts(TAG_FACET, label, K);
    times.push(performance.now() - t0);
    minHits = Math.min(minHits, hits.length);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p90: percentile(times, 0.9), minHits };
}

/** One row per size and kind of search: unfiltered, 10% matching, 1% matching. */
export function searchTable(say: (line?: string) => void, rows: (SearchFigures & { mode: string })[]): void {
  say(`| products | search | filter | p50 ms | p90 ms | p99 ms | recall@${K} | hits, fewest |`);
  say(`| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of rows) {
    for (const [filter, run] of [
      ['none', r.latency],
      ['10%', r.filtered],
      ['1%', r.rare],
    ] as const) {
      say(
        `| ${r.size.toLocaleString('en')} | ${r.mode} | ${filter} | ${fmt(run.p50)} | ${fmt(run.p90)} | ${fmt(run.p99)} | ${fmt(run.recall, 3)} | ${run.minHits} |`,
      );
    }
  }
  say();
}
