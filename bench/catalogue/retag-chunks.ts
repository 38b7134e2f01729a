// What a taxonomy change costs through the job runner, by the size of a tagging-only job's chunks:
// JOB_TAG_CHUNK_SIZE 100 (the chunk of a job that embeds images) against 2,000 (the default), side
// by side in one run, rounds interleaved, each round on a fresh SQLite store of the same products
// (seeded random unit vectors of the bundled tiny CLIP's 64 dimensions; a tag's cost does not
// depend on what they mean). `taxonomySet` is timed from the request to the re-tagging job's end:
// its prompts are stored by a warm-up taxonomy of the same labels, so it is the re-tag alone. Two
// changes are timed: the warm-up facet replaced by another (every product's tag and the outbox
// change: one tag deleted, one written and two outbox rows a product), then the same facet set
// again (every product keeps its label and score: only the tags' taxonomy version is written). CPU
// seconds are given beside wall seconds: on a shared machine they move less. `--model-dir` takes
// another model (bench/model has CLIP ViT-B/32's 512 dimensions): reading a vector costs by its size.
//
// `npm run build && node dist/bench/catalogue/retag-chunks.js [--products N] [--rounds R] [--sizes 100,2000] [--model-dir bench/model]`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { configFromEnv } from '../../gateway/config';
import { createGateway } from '../../gateway/gateway';
import { openSqliteStore, type ProductRow } from '../../gateway/store';
import { fmt, fmtSpread, seeded, spread, timed, type Timed } from '../lib';
import { idOf } from './products';

const LABELS = Array.from({ length: 50 }, (_, i) => `thing number ${i}`);

/** Seconds of the two re-taggings over `products` products, tagging-only chunks of `tagChunkSize`. */
async function retagSeconds(
  products: number,
  tagChunkSize: number,
  seed: number,
  modelDir: string | undefined,
): Promise<{ built: number; warmUp: number; replaced: Timed; kept: Timed }> {
  const dir = mkdtempSync(join(tmpdir(), 'retag-chunks-'));
  try {
    const store = await openSqliteStore({ path: join(dir, 'catalogue.sqlite') });
    await store.migrate();
    const base = configFromEnv(modelDir ? { CLIP_MODEL_DIR: modelDir } : {});
    const gateway = await createGateway({ ...base, jobs: { ...base.jobs, tagChunkSize, pollMs: 3_600_000 } }, { store, log: () => {} });
    try {
      const model = gateway.catalogue.model;
      const random = seeded(seed);
      const t0 = performance.now();
      const now = new Date().toISOString();
      for (let start = 0; start < products; start += 2000) {
        const rows: ProductRow[] = [];
        const vectors: { productId: string; vector: Float32Array }[] = [];
        for (let i = start; i < Math.min(products, start + 2000); i++) {
          rows.push({
            id: idOf(i),
            title: null,
            description: null,
            attributes: {},
            imageHashes: [],
            imageUrls: [],
            createdAt: now,
            updatedAt: now,
          });
          const vector = Float32Array.from({ length: model.dim }, () => random() - 0.5);
          const norm = Math.hypot(...vector);
          vectors.push({ productId: idOf(i), vector: vector.map((v) => v / norm) });
        }
        await store.upsertProducts(rows);
        await store.putProductVectors(model, vectors);
      }
      // The prompts embedded and stored first, and a facet of other labels: what is timed re-tags.
      const built = (performance.now() - t0) / 1000;
      const warmUp = await timed(() => gateway.catalogue.setTaxonomy([{ name: 'warm-up', labels: LABELS }]));
      const replaced = await timed(() => gateway.catalogue.setTaxonomy([{ name: 'kind', labels: LABELS }]));
      const kept = await timed(() => gateway.catalogue.setTaxonomy([{ name: 'kind', labels: LABELS }]));
      return { built, warmUp: warmUp.wall, replaced, kept };
    } finally {
      await gateway.stop();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      products: { type: 'string', default: '50000' },
      rounds: { type: 'string', default: '3' },
      sizes: { type: 'string', default: '100,2000' },
      'model-dir': { type: 'string' },
    },
  });
  const products = check('--products', Number(values.products), positiveInt);
  const rounds = check('--rounds', Number(values.rounds), positiveInt);
  const sizes = values.sizes.split(',').map((size, i) => check(`--sizes[${i}]`, Number(size), positiveInt));
  const seconds = new Map(sizes.map((size) => [size, { replaced: [] as Timed[], kept: [] as Timed[] }]));
  const setUp: { built: number; warmUp: number }[] = [];
  for (let round = 0; round < rounds; round++)
    for (const size of round % 2 === 0 ? sizes : [...sizes].reverse()) {
      const { built, warmUp, replaced, kept } = await retagSeconds(products, size, round + 1, values['model-dir']);
      setUp.push({ built, warmUp });
      seconds.get(size)!.replaced.push(replaced);
      seconds.get(size)!.kept.push(kept);
    }
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(
    `A taxonomy change (50 labels) re-tagging ${products.toLocaleString('en')} stored products through the job runner, SQLite, ${values['model-dir'] ?? 'the tiny CLIP'}, medians of ${rounds} interleaved rounds (min–max):`,
  );
  say();
  say('| JOB_TAG_CHUNK_SIZE | change | taxonomySet to re-tagged, s | products/s | CPU s | products/CPU s |');
  say('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const size of sizes) {
    for (const [change, runs] of [
      ['facet replaced', seconds.get(size)!.replaced],
      ['same facet again', seconds.get(size)!.kept],
    ] as const) {
      const wall = spread(runs.map((r) => r.wall));
      const cpu = spread(runs.map((r) => r.cpu));
      say(
        `| ${size} | ${change} | ${fmtSpread(wall, 2)} | ${fmt(products / wall.median, 0)} | ${fmtSpread(cpu, 2)} | ${fmt(products / cpu.median, 0)} |`,
      );
    }
  }
  const built = spread(setUp.map((s) => s.built));
  const warmUp = spread(setUp.map((s) => s.warmUp));
  say();
  say(
    `Each round's store: products and vectors written in ${fmtSpread(built, 1)} s, then tagged the first time (the warm-up facet) in ${fmtSpread(warmUp, 1)} s.`,
  );
  if (sizes.length > 1) {
    const [first, last] = [sizes[0], sizes[sizes.length - 1]].map((size) => spread(seconds.get(size)!.replaced.map((r) => r.wall)).median);
    say();
    say(`Facet replaced, chunks of ${sizes[sizes.length - 1]} against ${sizes[0]}: ${fmt(first / last, 2)}× as fast.`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench retag-chunks: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
