// The catalogue's section of `npm run bench`: ingest through the gateway against its own embed
// throughput, re-tagging from stored vectors, and search and label queries on both stores at
// sizes a shop reaches. Every figure is measured in this run; synthetic vectors stand in for
// product images wherever no inference is being measured.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { Client } from 'pg';

import type { EmbedRequest } from '../functions/clip';
import { createBackend, type InferenceBackend } from '../gateway/backends';
import {
  DEFAULT_FACET_TEMPLATES,
  DEFAULT_JOB_RUNNER_OPTIONS,
  tagsForMany,
  type CatalogueService,
  type FacetInput,
  type ScoredFacet,
} from '../gateway/catalogue';
import { GatewayMetrics } from '../gateway/common/metrics';
import { configFromEnv, DEFAULT_IMAGE_MAX_BATCH_SIZE } from '../gateway/config';
import { DEFAULT_BATCHER_OPTIONS } from '../gateway/embedding/batcher';
import type { EmbeddingService } from '../gateway/embedding/service';
import { createGateway } from '../gateway/gateway';
import {
  modelKey,
  openPostgresStore,
  openSqliteStore,
  type CatalogueStore,
  type ProductFilter,
  type ProductRow,
  type TagRow,
  type VectorModel,
} from '../gateway/store';
import { fmt, load, makeJpegs, metric, seeded, spread, startGatewayProcess, type LoadResult, type Spread } from './lib';

export type Target = [what: string, value: string, met: boolean | undefined];

export interface CatalogueBenchOptions {
  modelDir: string;
  quick: boolean;
  /** Interleaved rounds of the HTTP comparison. */
  rounds: number;
  say: (line?: string) => void;
  targets: Target[];
}

const DIM = 512;
const K = 20;
const CLUSTERS = 1000;
/** Noise norm relative to a centre's: cos(product, its centre) ≈ 0.78, as for photos of one kind of product. */
const NOISE = 0.8;
/** One product in BRANDS carries each brand: a filter on one brand matches 10%. */
const BRANDS = 10;
const FILTER: ProductFilter = { attributes: { brand: 'b3' } };
const inFilter = (i: number) => i % BRANDS === 3;
/** Facet and labels of the synthetic tags that labelTopProducts reads. */
const TAG_FACET = 'category';
const TAG_LABELS = 50;

const started = performance.now();
/** Progress goes to stderr, never into the report. */
const progress = (message: string) => process.stderr.write(`[catalogue ${fmt((performance.now() - started) / 1000, 0)} s] ${message}\n`);

export async function benchCatalogue(options: CatalogueBenchOptions): Promise<void> {
  const { say, quick } = options;
  say(`## 6. The catalogue`);
  say();
  await ingest(options);
  const sqliteSizes = quick ? [10_000, 50_000] : [10_000, 100_000, 1_000_000];
  const pgSizes = quick ? [10_000] : [10_000, 100_000];
  const tagSize = quick ? 50_000 : 100_000;
  const data = new ClusteredVectors(Math.max(...sqliteSizes), 7);
  const truths = new Map<number, Truth>();
  const model = await embeddedStore(options, data, sqliteSizes, tagSize, truths);
  await postgresStore(options, model, data, pgSizes, truths);
}

// ---------------------------------------------------------------------------------------------
// 1. Ingest through the gateway process vs its own embed

const INGEST_FACETS: FacetInput[] = [
  { name: 'colour', labels: ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white'] },
  {
    name: 'category',
    labels: ['sneaker', 'boot', 'sandal', 'jacket', 'shirt', 'dress', 'bag', 'hat', 'watch', 'lamp'],
  },
];

async function ingest(options: CatalogueBenchOptions): Promise<void> {
  const { say, rounds, modelDir, targets, quick } = options;
  const connections = 32;
  // 32 in flight fill whole batches of IMAGE_BATCH_MAX_SIZE (16 or 32), so answers come back a batch at a
  // time: a fixed number of batch periods is measured rather than a window a batch more or less would skew.
  const amount = connections * (quick ? 4 : 8);
  progress(`ingest vs embed: ${rounds} rounds of ${amount} requests at ${connections} in flight`);
  const seen = new Set<string>();
  let duplicates = 0;
  // A pool of distinct images per run: the measured requests, and the warm-up second at the fastest rate seen so far.
  let fastest = 0;
  const pool = async (seed: number): Promise<string[]> => {
    const count = amount + Math.ceil(Math.max(fastest, 30) * 2) + 2 * connections;
    const jpegs = await makeJpegs(count, seed);
    for (const jpeg of jpegs) {
      const hash = createHash('sha256').update(jpeg).digest('hex');
      if (seen.has(hash)) duplicates++;
      seen.add(hash);
    }
    return jpegs.map((j) => j.toString('base64'));
  };
  /** Bodies in order, none twice; past the end, the pool is reused and the reuse counted. */
  const supplier = (images: string[], body: (base64: string, n: number) => string) => {
    let n = 0;
    const state = {
      reused: 0,
      next: () => {
        if (n >= images.length) state.reused++;
        return body(images[n % images.length], n++);
      },
    };
    return state;
  };
  const embedBody = (base64: string) =>
    JSON.stringify({ query: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }', variables: { i: [{ imageBase64: base64 }] } });
  const upsertBody = (run: string) => (base64: string, n: number) =>
    JSON.stringify({
      query:
        'mutation($p:[ProductInput!]!){ productsUpsert(products:$p){ products { id tags { facet label } } userErrors { field code message } } }',
      variables: { p: [{ id: `r${run}-${n}`, title: `product ${n}`, images: [{ base64 }], attributes: { brand: `b${n % BRANDS}` } }] },
    });
  const embedOk = (text: string) => {
    const answer = JSON.parse(text) as { data?: { embed?: { vector: number[] }[] }; errors?: unknown[] };
    return !answer.errors && answer.data?.embed?.length === 1 && answer.data.embed[0].vector.length === DIM;
  };
  const upsertOk = (text: string) => {
    const answer = JSON.parse(text) as {
      data?: { productsUpsert?: { products: ({ tags: unknown[] } | null)[]; userErrors: unknown[] } };
      errors?: unknown[];
    };
    const payload = answer.data?.productsUpsert;
    // Single-mode facets: exactly one tag each, so a product without its tags is a wrong answer.
    return (
      !answer.errors &&
      payload?.userErrors.length === 0 &&
      payload.products.length === 1 &&
      payload.products[0]?.tags.length === INGEST_FACETS.length
    );
  };

  const runs = { embed: [] as LoadResult[], ingest: [] as LoadResult[] };
  const sequence: string[] = [];
  const reused = { embed: 0, ingest: 0 };
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'clip-bench-ingest-'));
    const gw = await startGatewayProcess({ CLIP_MODEL_DIR: modelDir, IMAGE_CACHE_SIZE: '1', DATA_DIR: dataDir });
    try {
      const set = await graphql(
        gw.origin,
        'mutation($f:[FacetInput!]!){ taxonomySet(facets:$f){ taxonomy { version } userErrors { message } } }',
        {
          f: INGEST_FACETS,
        },
      );
      const payload = (set as { taxonomySet?: { taxonomy: unknown; userErrors: unknown[] } }).taxonomySet;
      if (!payload?.taxonomy || payload.userErrors.length > 0) throw new Error(`taxonomySet failed: ${JSON.stringify(set)}`);
      // A new process's first batches are slower (ONNX Runtime's arenas, SQLite's first pages): both
      // kinds of request are run for a few batch periods, unmeasured, before the first measured run.
      const warm = await pool(1000 + round * 10 + 9);
      for (const [n, body] of [embedBody, upsertBody(`${round}-warm`)].entries()) {
        const bodies = supplier(warm.slice((n * warm.length) / 2, ((n + 1) * warm.length) / 2), body);
        await load(gw.origin, () => bodies.next(), connections, 2);
      }
      // ABBA within a round (a drift during the round weighs on both alike), BAAB in the next.
      const order: ('embed' | 'ingest')[] =
        round % 2 === 0 ? ['embed', 'ingest', 'ingest', 'embed'] : ['ingest', 'embed', 'embed', 'ingest'];
      const mean = { embed: 0, ingest: 0 };
      for (const [step, variant] of order.entries()) {
        const images = await pool(1000 + round * 10 + step);
        const bodies = supplier(images, variant === 'embed' ? embedBody : upsertBody(`${round}-${step}`));
        progress(`round ${round + 1}: ${variant} (${images.length} distinct images ready)`);
        const result = await load(gw.origin, () => bodies.next(), connections, 600, {
          check: variant === 'embed' ? embedOk : upsertOk,
          amount,
        });
        runs[variant].push(result);
        reused[variant] += bodies.reused;
        mean[variant] += result.requestsPerSecond / 2;
        sequence.push(`${variant === 'embed' ? 'E' : 'I'} ${fmt(result.requestsPerSecond)}`);
        fastest = Math.max(fastest, result.requestsPerSecond);
        progress(
          `  ${fmt(result.requestsPerSecond)} answers/s, p50 ${fmt(result.p50, 0)} ms, ${result.wrong} wrong, ${bodies.reused} reused`,
        );
      }
      ratios.push(mean.ingest / mean.embed);
      sequence.push('/');
    } finally {
      await gw.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  const rate = (list: LoadResult[]) => spread(list.map((r) => r.requestsPerSecond));
  const embed = rate(runs.embed);
  const upsert = rate(runs.ingest);
  const ratio = spread(ratios).median;
  say(`### 6.1 Ingest: \`productsUpsert\` against the same gateway's \`embed\``);
  say();
  say(
    `The gateway in its own process (defaults: \`IMAGE_BATCH_MAX_SIZE\` ${DEFAULT_IMAGE_MAX_BATCH_SIZE}, \`BATCH_MAX_DELAY_MS\` ${DEFAULT_BATCHER_OPTIONS.maxDelayMs}, \`LOCAL_WORKERS\` = cores/2; \`IMAGE_CACHE_SIZE\`=1; SQLite store in a fresh \`DATA_DIR\` per process), ${rounds} rounds, one process per round serving both variants twice in the order ABBA (BAAB in the next round); autocannon with ${connections} requests in flight, after a 1 s warm-up, for ${amount} requests each, timed from the first sent to the last answered (answers come back a batch at a time: a fixed count of batches, not a window that catches one more or less). One 640×480 JPEG (base64) per request, every image distinct across the whole run (${seen.size} made, ${duplicates} duplicate hashes). \`productsUpsert\`: one product with one image per request, a taxonomy already set (${INGEST_FACETS.map((f) => `${f.name}: ${f.labels.length} labels`).join(', ')}, single mode), the answer asking for the product's tags. An answer counts only if it is 2xx with no \`errors\`, no \`userErrors\`, and the expected shape (a ${DIM}-value vector; a product with one tag per facet).`,
  );
  say();
  say(`| request | answers/s | p50 ms | p99 ms | errors + non-2xx | wrong 2xx answers | images reused |`);
  say(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  const row = (label: string, list: LoadResult[], s: Spread, reuse: number) =>
    say(
      `| ${label} | ${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}) | ${fmt(spread(list.map((r) => r.p50)).median, 0)} | ${fmt(spread(list.map((r) => r.p99)).median, 0)} | ${list.reduce((n, r) => n + r.errors + r.non2xx, 0)} | ${list.reduce((n, r) => n + r.wrong, 0)} | ${reuse} |`,
    );
  row('`embed`, 1 image', runs.embed, embed, reused.embed);
  row('`productsUpsert`, 1 product × 1 image, upsert and tag', runs.ingest, upsert, reused.ingest);
  say();
  say(
    `Runs in order (E embed, I ingest, answers/s; / between processes): ${sequence.slice(0, -1).join(' ')}. Ingest over embed, per round (the mean of each variant's two runs in the same gateway process): ${ratios.map((r) => fmt(r, 2)).join(', ')}; median **${fmt(ratio, 2)}×** (target ≥ 0.9×: store and tagging cost ≤ 10%). Both are bound by inference in the worker thread; the store's work and the tagging run on the event loop meanwhile.`,
  );
  say();
  const clean = runs.ingest.every((r) => r.wrong + r.errors + r.non2xx === 0) && reused.ingest + reused.embed + duplicates === 0;
  targets.push(['catalogue: productsUpsert vs embed, distinct images, 32 in flight', `${fmt(ratio, 2)}×`, clean && ratio >= 0.9]);
}

async function graphql(origin: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  if (!response.ok || answer.errors) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(answer.errors ?? answer)}`);
  return answer.data ?? {};
}

// ---------------------------------------------------------------------------------------------
// Synthetic catalogue: clustered unit vectors, kept in memory for the exact answers

class ClusteredVectors {
  readonly vectors: Float32Array;
  readonly clusters: Uint16Array;
  private readonly centres: Float32Array;
  /** Standard normal samples drawn once: indexing them is ~20× cheaper than Box–Muller per value. */
  private readonly normal = new Float32Array(1 << 16);
  private readonly random: () => number;
  count = 0;

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    this.random = seeded(seed);
    for (let i = 0; i < this.normal.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.random()));
      const a = 2 * Math.PI * this.random();
      this.normal[i] = r * Math.cos(a);
      this.normal[i + 1] = r * Math.sin(a);
    }
    this.vectors = new Float32Array(capacity * DIM);
    this.clusters = new Uint16Array(capacity);
    this.centres = new Float32Array(CLUSTERS * DIM);
    for (let c = 0; c < CLUSTERS; c++) {
      const centre = this.centres.subarray(c * DIM, (c + 1) * DIM);
      for (let d = 0; d < DIM; d++) centre[d] = this.gauss();
      unit(centre);
    }
  }

  private gauss(): number {
    return this.normal[(this.random() * 65536) | 0];
  }

  /** A vector near cluster c, written into `out`. */
  private near(c: number, out: Float32Array): Float32Array {
    const scale = NOISE / Math.sqrt(DIM);
    const base = c * DIM;
    for (let d = 0; d < DIM; d++) out[d] = this.centres[base + d] + scale * this.gauss();
    return unit(out);
  }

  /** Makes products up to `n` (the first ones stay as they are, so every size holds the smaller ones). */
  grow(n: number): void {
    for (let i = this.count; i < n; i++) {
      const c = (this.random() * CLUSTERS) | 0;
      this.clusters[i] = c;
      this.near(c, this.vectors.subarray(i * DIM, (i + 1) * DIM));
    }
    this.count = Math.max(this.count, n);
  }

  vector(i: number): Float32Array {
    return this.vectors.subarray(i * DIM, (i + 1) * DIM);
  }

  /** Query vectors near random clusters: never a stored vector itself. */
  queries(count: number, seed: number): Float32Array[] {
    const random = seeded(seed);
    return Array.from({ length: count }, () => this.near((random() * CLUSTERS) | 0, new Float32Array(DIM)));
  }

  /** The exact k nearest among the first n products (cosine: dot products of unit vectors), by brute force. */
  exact(queries: Float32Array[], n: number, k: number, accept: (i: number) => boolean = () => true): number[][] {
    const best = queries.map(() => ({ index: new Int32Array(k).fill(-1), score: new Float64Array(k).fill(-Infinity) }));
    const v = this.vectors;
    for (let i = 0; i < n; i++) {
      if (!accept(i)) continue;
      const base = i * DIM;
      for (let q = 0; q < queries.length; q++) {
        const query = queries[q];
        let dot = 0;
        for (let d = 0; d < DIM; d++) dot += query[d] * v[base + d];
        const top = best[q];
        if (dot <= top.score[k - 1]) continue;
        let j = k - 1;
        while (j > 0 && top.score[j - 1] < dot) {
          top.score[j] = top.score[j - 1];
          top.index[j] = top.index[j - 1];
          j--;
        }
        top.score[j] = dot;
        top.index[j] = i;
      }
    }
    return best.map((b) => [...b.index].filter((i) => i >= 0));
  }
}

function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (let d = 0; d < v.length; d++) norm += v[d] * v[d];
  norm = Math.sqrt(norm);
  for (let d = 0; d < v.length; d++) v[d] /= norm;
  return v;
}

const idOf = (i: number) => `p${String(i).padStart(7, '0')}`;
const indexOf = (id: string) => Number(id.slice(1));

function productRows(from: number, to: number, now: string): ProductRow[] {
  const rows: ProductRow[] = [];
  for (let i = from; i < to; i++) {
    rows.push({
      id: idOf(i),
      title: null,
      description: null,
      attributes: { brand: `b${i % BRANDS}` },
      imageHashes: [],
      imageUrls: [],
      createdAt: now,
      updatedAt: now,
    });
  }
  return rows;
}

/** Writes products [from, to) and their vectors through the port, `batch` per transaction; returns ms. */
async function fill(store: CatalogueStore, model: VectorModel, data: ClusteredVectors, from: number, to: number, batch: number) {
  const now = new Date().toISOString();
  const t0 = performance.now();
  let last = t0;
  for (let start = from; start < to; start += batch) {
    const end = Math.min(to, start + batch);
    await store.upsertProducts(productRows(start, end, now));
    const rows = [];
    for (let i = start; i < end; i++) rows.push({ productId: idOf(i), vector: data.vector(i) });
    await store.putProductVectors(model, rows);
    if (performance.now() - last > 10_000) {
      progress(`  ${store.kind}: ${end} / ${to} products`);
      last = performance.now();
    }
  }
  return performance.now() - t0;
}

/** Automatic tags, one per product (the label of its cluster, a random score), through replaceAutoTags in pages; returns ms. */
async function writeTags(store: CatalogueStore, model: VectorModel, data: ClusteredVectors, n: number, page: number) {
  const random = seeded(11);
  const t0 = performance.now();
  for (let start = 0; start < n; start += page) {
    const ids: string[] = [];
    const tags: TagRow[] = [];
    for (let i = start; i < Math.min(n, start + page); i++) {
      ids.push(idOf(i));
      const score = random();
      tags.push({
        productId: idOf(i),
        facet: TAG_FACET,
        label: `c${data.clusters[i] % TAG_LABELS}`,
        score,
        similarity: score,
        source: 'auto',
        needsReview: false,
        model: modelKey(model),
        taxonomyVersion: 1,
      });
    }
    await store.replaceAutoTags(ids, tags);
  }
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Search and label queries: one at a time, each timed from call to answer

interface Truth {
  queries: Float32Array[];
  all: number[][];
  filtered: number[][];
}

interface SearchFigures {
  size: number;
  latency: { p50: number; p90: number };
  recall: number;
  filtered: { p50: number; p90: number; recall: number; minHits: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function truthFor(data: ClusteredVectors, size: number, queryCount: number, truths: Map<number, Truth>): Truth {
  let truth = truths.get(size);
  if (!truth) {
    const t0 = performance.now();
    const queries = data.queries(queryCount, 100 + size);
    truth = { queries, all: data.exact(queries, size, K), filtered: data.exact(queries, size, K, inFilter) };
    truths.set(size, truth);
    progress(`  exact answers for ${queryCount} queries at ${size} (brute force): ${fmt((performance.now() - t0) / 1000)} s`);
  }
  return truth;
}

async function measureSearch(store: CatalogueStore, model: VectorModel, size: number, truth: Truth): Promise<SearchFigures> {
  const run = async (filter: ProductFilter | undefined, expected: number[][]) => {
    for (const q of truth.queries.slice(0, 3)) await store.searchProducts(model, q, K, filter); // warm-up
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
    return { p50: percentile(times, 0.5), p90: percentile(times, 0.9), recall: found / wanted, minHits };
  };
  const all = await run(undefined, truth.all);
  const filtered = await run(FILTER, truth.filtered);
  return { size, latency: all, recall: all.recall, filtered };
}

async function measureLabelTop(store: CatalogueStore, calls: number): Promise<{ p50: number; p90: number; minHits: number }> {
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

function searchTable(say: (line?: string) => void, rows: (SearchFigures & { mode: string })[]): void {
  say(
    `| products | search | p50 ms | p90 ms | recall@${K} | filtered p50 ms | filtered p90 ms | filtered hits, fewest | filtered recall@${K} |`,
  );
  say(`| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of rows) {
    say(
      `| ${r.size.toLocaleString('en')} | ${r.mode} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p90)} | ${fmt(r.recall, 3)} | ${fmt(r.filtered.p50)} | ${fmt(r.filtered.p90)} | ${r.filtered.minHits} | ${fmt(r.filtered.recall, 3)} |`,
    );
  }
  say();
}

// ---------------------------------------------------------------------------------------------
// 2–4. The embedded store: search at three sizes, labelTopProducts, re-tagging

async function embeddedStore(
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
  const searches: (SearchFigures & { mode: string })[] = [];
  let labelTop: { size: number; tagMs: number; p50: number; p90: number; minHits: number } | undefined;
  let retag: RetagFigures | undefined;
  let model: VectorModel;
  try {
    const store = await openSqliteStore({ path });
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
        const truth = truthFor(data, size, queryCount, truths);
        progress(`SQLite: searching ${size}`);
        searches.push({
          ...(await measureSearch(store, model, size, truth)),
          mode: size > 20_000 ? 'binary prefilter + exact rescore' : 'exact',
        });
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
    `\`searchProducts\` for k=${K}, ${queryCount} query vectors near random clusters (never stored vectors), one at a time in this process (better-sqlite3 is synchronous: the time is the store's), after 3 warm-up queries. Recall@${K} is against the exact answer on the same data, by brute force in JS (Float32Array dot products). Filtered: \`attributes: { brand: "b3" }\`, matching 10% of products, against the exact answer among those; every filtered search must return exactly ${K} hits. The adapter is exact up to 20,000 products and approximate above (\`approximateSearchAbove\`, 1200 candidates by default).`,
  );
  say();
  searchTable(say, searches);
  if (searches.length > 1) {
    const growth = searches
      .slice(1)
      .map(
        (s, i) =>
          `×${fmt(s.latency.p50 / searches[i].latency.p50, 1)} from ${searches[i].size.toLocaleString('en')} to ${s.size.toLocaleString('en')} (${fmt(s.size / searches[i].size, 0)}× the products)`,
      );
    say(
      `The unfiltered p50 grows ${growth.join(', ')}: above the exact threshold every search scans the whole binary copy (64 bytes a product) before rescoring, so it grows in proportion to the products.`,
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
  const worst = (f: (s: SearchFigures) => number) => Math.min(...searches.map(f));
  targets.push([
    `catalogue: SQLite recall@${K} vs exact, unfiltered / filtered, worst of ${searches.map((s) => s.size.toLocaleString('en')).join(', ')} (≥ 0.95)`,
    `${fmt(
      worst((s) => s.recall),
      3,
    )} / ${fmt(
      worst((s) => s.filtered.recall),
      3,
    )}`,
    worst((s) => s.recall) >= 0.95 && worst((s) => s.filtered.recall) >= 0.95,
  ]);
  targets.push([
    `catalogue: SQLite filtered search (10% match) returns exactly k=${K}`,
    `fewest ${worst((s) => s.filtered.minHits)}`,
    worst((s) => s.filtered.minHits) === K,
  ]);
  return model;
}

function fileBytes(path: string): number {
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

// ---------------------------------------------------------------------------------------------
// The catalogue service, composed as gateway/gateway.ts composes it

interface Catalogue {
  service: CatalogueService;
  embeddings: EmbeddingService;
  metrics: GatewayMetrics;
  /** Inputs the backend was sent, by kind: what proves that re-tagging embedded no image. */
  sent: { text: number; images: number };
  /** Store time by method (synchronous part of each call: all of it for SQLite). */
  storeTime: Map<string, { calls: number; ms: number }>;
  close(): Promise<void>;
}

/**
 * The one place that builds a CatalogueService: createGateway itself, over the given store (with a
 * timing wrapper whose close leaves the store open for the sizes still to come) and a backend that
 * counts what it is sent. Its job runner polls once an hour: nothing else touches the store.
 */
async function catalogueOn(store: CatalogueStore, modelDir: string): Promise<Catalogue> {
  const config = { ...configFromEnv({ CLIP_MODEL_DIR: modelDir }), jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, pollMs: 3_600_000 } };
  const log = (message: string, error?: unknown) => progress(`gateway: ${message}${error ? ` ${String(error)}` : ''}`);
  const sent = { text: 0, images: 0 };
  const backend = countingBackend(createBackend(config.backend, log), sent);
  const storeTime = new Map<string, { calls: number; ms: number }>();
  const gateway = await createGateway(config, { backend, log, store: timedStore(store, storeTime) });
  storeTime.clear(); // the start's own calls (migrate, claiming the model, the runner's first look)
  let closed = false;
  return {
    service: gateway.catalogue,
    metrics: gateway.metrics,
    embeddings: gateway.embeddings,
    sent,
    storeTime,
    async close() {
      if (closed) return;
      closed = true;
      await gateway.stop();
    },
  };
}

function countingBackend(inner: InferenceBackend, sent: { text: number; images: number }): InferenceBackend {
  return {
    kind: inner.kind,
    get concurrency() {
      return inner.concurrency;
    },
    start: () => inner.start(),
    ready: () => inner.ready(),
    close: () => inner.close(),
    embed(request: EmbedRequest) {
      if (request.kind === 'text') sent.text += request.items.length;
      else sent.images += request.items.length;
      return inner.embed(request);
    },
  };
}

/** The store with each method's synchronous time added up (SQLite runs each call to its end before returning its promise). */
function timedStore(store: CatalogueStore, times: Map<string, { calls: number; ms: number }>): CatalogueStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'close') return () => Promise.resolve(); // the bench closes the store itself
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          const entry = times.get(String(property)) ?? { calls: 0, ms: 0 };
          entry.calls++;
          entry.ms += performance.now() - t0;
          times.set(String(property), entry);
        }
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Re-tagging from stored vectors

// prettier-ignore
const LABELS_50 = [
  'sneaker', 'boot', 'sandal', 'loafer', 'slipper', 'high heel', 'running shoe', 'hiking boot', 'flip-flop', 'clog',
  'jacket', 'coat', 'shirt', 't-shirt', 'sweater', 'hoodie', 'dress', 'skirt', 'jeans', 'shorts',
  'handbag', 'backpack', 'wallet', 'belt', 'scarf', 'hat', 'cap', 'glove', 'sock', 'tie',
  'watch', 'necklace', 'ring', 'bracelet', 'earring', 'sunglasses', 'umbrella', 'suitcase', 'lamp', 'chair',
  'table', 'sofa', 'mug', 'plate', 'vase', 'pillow', 'blanket', 'clock', 'mirror', 'rug',
];

/** 50 labels in one facet, then the same number over three facets (three tags a product instead of one). */
const RETAG_CASES: { name: string; facets: FacetInput[] }[] = [
  { name: `1 facet × ${LABELS_50.length} labels`, facets: [{ name: 'kind', labels: LABELS_50 }] },
  {
    name: '3 facets: 12 + 12 + 26 labels',
    facets: [
      { name: 'colour', labels: ['red', 'orange', 'yellow', 'green', 'teal', 'blue', 'navy', 'purple', 'pink', 'brown', 'black', 'white'] },
      {
        name: 'material',
        labels: ['leather', 'suede', 'canvas', 'cotton', 'wool', 'linen', 'silk', 'denim', 'nylon', 'metal', 'wood', 'glass'],
      },
      { name: 'type', labels: LABELS_50.slice(0, 26).map((l) => `${l} style`) },
    ],
  },
];

interface RetagCase {
  name: string;
  facets: number;
  labels: number;
  labelMs: number;
  prompts: number;
  setMs: number;
  tags: number;
  checked: number;
  imagesBefore: number;
  imagesAfter: number;
  imageBatchesBefore: number;
  imageBatchesAfter: number;
  storeTime: [string, { calls: number; ms: number }][];
  mathMs: number;
}

interface RetagFigures {
  size: number;
  cases: RetagCase[];
}

async function imageBatches(metrics: GatewayMetrics): Promise<number> {
  const count = metric(await metrics.registry.metrics(), 'clip_gateway_inference_seconds_count', 'kind="image",outcome="ok"');
  return Number.isNaN(count) ? 0 : count;
}

async function retagging(catalogue: Catalogue, data: ClusteredVectors, size: number): Promise<RetagFigures> {
  const { service, embeddings, metrics, sent, storeTime } = catalogue;
  const cases: RetagCase[] = [];
  for (const c of RETAG_CASES) {
    // The label prompts alone first, the text cache cold: their cost is the model's, not the re-tag's.
    const prompts = c.facets.flatMap((f) => f.labels.map((l) => DEFAULT_FACET_TEMPLATES[0].replaceAll('{}', l)));
    const l0 = performance.now();
    const vectors = await Promise.all(prompts.map((p) => embeddings.embedText(p)));
    const labelMs = performance.now() - l0;
    const imagesBefore = sent.images;
    const imageBatchesBefore = await imageBatches(metrics);
    storeTime.clear();
    // setTaxonomy as a whole, its prompts now in the text cache: what it takes is the re-tag.
    const s0 = performance.now();
    const taxonomy = await service.setTaxonomy(c.facets);
    const setMs = performance.now() - s0;
    const times = [...storeTime].sort((a, b) => b[1].ms - a[1].ms);
    // Every product tagged once per facet by this version: checked on a random sample.
    const random = seeded(17);
    const sample = Array.from({ length: 1000 }, () => idOf((random() * size) | 0));
    const tags = await service.getTags(sample);
    const checked = sample.filter((id) => {
      const auto = (tags.get(id) ?? []).filter((t) => t.source === 'auto' && t.taxonomyVersion === taxonomy.version);
      return auto.length === c.facets.length;
    }).length;
    // The arithmetic alone, on the vectors that were written (in memory) and the same label vectors: how much of the re-tag is the tagging math.
    const scored: ScoredFacet[] = [];
    let at = 0;
    for (const row of taxonomy.facets) {
      scored.push({ facet: row, labelVectors: vectors.slice(at, at + row.labels.length) });
      at += row.labels.length;
    }
    // In pages of 2000, as the service re-tags.
    const context = { logitScale: embeddings.model.info.logitScale, model: modelKey(service.model), taxonomyVersion: taxonomy.version };
    const m0 = performance.now();
    let tagCount = 0;
    for (let from = 0; from < size; from += 2000) {
      const page = Array.from({ length: Math.min(2000, size - from) }, (_, i) => ({
        productId: idOf(from + i),
        vector: data.vector(from + i),
      }));
      tagCount += (await tagsForMany(page, scored, context)).length;
    }
    const mathMs = performance.now() - m0;
    cases.push({
      name: c.name,
      facets: c.facets.length,
      labels: prompts.length,
      labelMs,
      prompts: prompts.length,
      setMs,
      tags: tagCount,
      checked,
      imagesBefore,
      imagesAfter: sent.images,
      imageBatchesBefore,
      imageBatchesAfter: await imageBatches(metrics),
      storeTime: times,
      mathMs,
    });
    progress(`  ${c.name}: setTaxonomy ${fmt(setMs / 1000, 2)} s (${fmt(size / (setMs / 1000), 0)} products/s)`);
  }
  return { size, cases };
}

function reportRetag(options: CatalogueBenchOptions, figures: RetagFigures): void {
  const { say, targets } = options;
  const { size, cases } = figures;
  say(`### 6.2 Re-tagging from stored vectors (SQLite, ${size.toLocaleString('en')} products)`);
  say();
  say(
    `\`CatalogueService.setTaxonomy\` (composed as \`createGateway\` composes it: the local backend with the bench model, \`EmbeddingService\` with the default batching and caches) over the SQLite store of 6.3 holding ${size.toLocaleString('en')} synthetic products with their vectors. The label prompts (\`${DEFAULT_FACET_TEMPLATES[0]}\`) are first embedded alone with the text cache cold, and timed: that is the label-embedding time. Then \`setTaxonomy\` is timed as a whole with those prompts cached: that is the re-tag time (reading every product's vector, the tagging arithmetic, writing the tags), from which products/s. Image inputs are counted by a wrapper around the backend and image batches from the gateway's \`clip_gateway_inference_seconds_count{kind="image"}\`, before and after.`,
  );
  say();
  say(
    `| taxonomy | label prompts | embedding the labels ms | setTaxonomy (re-tag) s | products re-tagged/s | tags written | sample checked | image inputs before → after | image batches before → after |`,
  );
  say(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of cases) {
    say(
      `| ${c.name} | ${c.prompts} | ${fmt(c.labelMs, 0)} | ${fmt(c.setMs / 1000, 2)} | **${fmt(size / (c.setMs / 1000), 0)}** | ${c.tags.toLocaleString('en')} | ${c.checked}/1000 | ${c.imagesBefore} → ${c.imagesAfter} | ${c.imageBatchesBefore} → ${c.imageBatchesAfter} |`,
    );
  }
  say();
  say(
    `Where the re-tag's time goes (store methods' time inside setTaxonomy; the rest is JS: the tagging arithmetic, promises, the service):`,
  );
  say();
  say(`| taxonomy | store method | calls | ms | share of setTaxonomy |`);
  say(`| --- | --- | ---: | ---: | ---: |`);
  for (const c of cases) {
    let storeMs = 0;
    for (const [method, t] of c.storeTime) {
      storeMs += t.ms;
      if (t.ms >= 1)
        say(`| ${c.name} | \`${method}\` | ${t.calls.toLocaleString('en')} | ${fmt(t.ms, 0)} | ${fmt((t.ms / c.setMs) * 100, 0)}% |`);
    }
    say(`| ${c.name} | everything else (JS) | | ${fmt(c.setMs - storeMs, 0)} | ${fmt(((c.setMs - storeMs) / c.setMs) * 100, 0)}% |`);
    say(
      `| ${c.name} | for comparison: \`tagsForMany\` alone over the same ${size.toLocaleString('en')} vectors in memory | ${size.toLocaleString('en')} | ${fmt(c.mathMs, 0)} | (${fmt(size / (c.mathMs / 1000), 0)} products/s) |`,
    );
  }
  say();
  const first = cases[0];
  const rate = size / (first.setMs / 1000);
  const noImages = cases.every((c) => c.imagesAfter === c.imagesBefore && c.imageBatchesAfter === c.imageBatchesBefore);
  targets.push([
    `catalogue: re-tag ${size.toLocaleString('en')} products, ${first.name} (≥ 50,000 products/s, no image inference)`,
    `${fmt(rate, 0)}/s, ${first.imagesAfter - first.imagesBefore} images`,
    rate >= 50_000 && noImages && cases.every((c) => c.checked === 1000),
  ]);
}

// ---------------------------------------------------------------------------------------------
// 5. The PostgreSQL adapter on PGlite

interface PgliteServer {
  url: string;
  stop(): Promise<void>;
}

/** PGlite (PostgreSQL compiled to WebAssembly) with pgvector behind pglite-socket, in memory, as test/helpers/postgres.ts starts it. */
async function startPglite(): Promise<PgliteServer> {
  const script = join(dirname(require.resolve('@electric-sql/pglite-socket')), 'scripts', 'server.js');
  const child = spawn(
    process.execPath,
    [script, '--db=memory://', '--host=127.0.0.1', '--port=0', '--max-connections=4', '--extensions=@electric-sql/pglite-pgvector:vector'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  // Its output is read to the end: a full pipe would stall the server.
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      const listening = /listening on (\{.*\})/.exec(output);
      if (listening) resolve((JSON.parse(listening[1]) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`pglite-server exited (${code}):\n${output}`)));
  });
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface PgStep {
  size: number;
  /** Rows/s written with the HNSW index in place (at the previous size), over `probe` rows. */
  withIndex: { rows: number; at: number; perSecond: number };
  fillMs: number;
  buildMs: number;
}

async function postgresStore(
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

async function hnswIndex(admin: Client): Promise<{ name: string; definition: string }> {
  const rows = (
    await admin.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%' ORDER BY indexname`,
    )
  ).rows;
  if (rows.length !== 1) throw new Error(`expected one HNSW index, found ${rows.length}`);
  return { name: rows[0].indexname, definition: rows[0].indexdef };
}
