// Ingest through the gateway process against its own embed: productsUpsert and embed of the same
// distinct images, interleaved in one process per round.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { FacetInput } from '../../gateway/catalogue';
import { defaultConfig } from '../../gateway/config';
import { fmt, load, makeJpegs, spread, startGatewayProcess, type LoadResult, type Spread } from '../lib';
import { progress, type CatalogueBenchOptions } from './options';
import { BRANDS, DIM } from './vectors';

/** The gateway's defaults, which the ingest's gateway runs with. */
const DEFAULTS = defaultConfig();

export const INGEST_FACETS: FacetInput[] = [
  { name: 'colour', labels: ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white'] },
  {
    name: 'category',
    labels: ['sneaker', 'boot', 'sandal', 'jacket', 'shirt', 'dress', 'bag', 'hat', 'watch', 'lamp'],
  },
];

export async function ingest(options: CatalogueBenchOptions): Promise<void> {
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
    `The gateway in its own process (defaults: \`IMAGE_BATCH_MAX_SIZE\` ${DEFAULTS.imageMaxBatchSize}, \`BATCH_MAX_DELAY_MS\` ${DEFAULTS.maxDelayMs}, \`LOCAL_WORKERS\` = cores/2; \`IMAGE_CACHE_SIZE\`=1; SQLite store in a fresh \`DATA_DIR\` per process), ${rounds} rounds, one process per round serving both variants twice in the order ABBA (BAAB in the next round); autocannon with ${connections} requests in flight, after a 1 s warm-up, for ${amount} requests each, timed from the first sent to the last answered (answers come back a batch at a time: a fixed count of batches, not a window that catches one more or less). One 640×480 JPEG (base64) per request, every image distinct across the whole run (${seen.size} made, ${duplicates} duplicate hashes). \`productsUpsert\`: one product with one image per request, a taxonomy already set (${INGEST_FACETS.map((f) => `${f.name}: ${f.labels?.length ?? 0} labels`).join(', ')}, single mode), the answer asking for the product's tags. An answer counts only if it is 2xx with no \`errors\`, no \`userErrors\`, and the expected shape (a ${DIM}-value vector; a product with one tag per facet).`,
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

export async function graphql(origin: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  if (!response.ok || answer.errors) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(answer.errors ?? answer)}`);
  return answer.data ?? {};
}
