// What a taxonomy change costs through the job runner, by the size of a tagging-only job's chunks:
// JOB_TAG_CHUNK_SIZE 100 (the chunk of a job that embeds images) against 2,000 (the default), side
// by side in one run, rounds interleaved, each round on a fresh SQLite store of the same products
// (seeded random unit vectors of the bundled tiny CLIP's 64 dimensions; a tag's cost does not
// depend on what they mean). `taxonomySet` is timed from the request to the re-tagging job's end:
// its prompts are stored by a warm-up taxonomy of the same labels, so it is the re-tag alone. Two
// changes are timed: the warm-up facet replaced by another (every product's tag and the outbox
// change: one tag deleted, one written and two outbox rows a product), then the same facet set
// again (every product keeps its label and score: only the tags' taxonomy version is written).
//
// `npm run build && node dist/bench/catalogue/retag-chunks.js [--products N] [--rounds R] [--sizes 100,2000]`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { configFromEnv } from '../../gateway/config';
import { createGateway } from '../../gateway/gateway';
import { openSqliteStore, type ProductRow } from '../../gateway/store';
import { fmt, fmtSpread, seeded, spread } from '../lib';
import { idOf } from './products';

const LABELS = Array.from({ length: 50 }, (_, i) => `thing number ${i}`);

/** Seconds of the two re-taggings over `products` products, tagging-only chunks of `tagChunkSize`. */
async function retagSeconds(products: number, tagChunkSize: number, seed: number): Promise<{ replaced: number; kept: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'retag-chunks-'));
  try {
    const store = await openSqliteStore({ path: join(dir, 'catalogue.sqlite') });
    await store.migrate();
    const base = configFromEnv({});
    const gateway = await createGateway({ ...base, jobs: { ...base.jobs, tagChunkSize, pollMs: 3_600_000 } }, { store, log: () => {} });
    try {
      const model = gateway.catalogue.model;
      const random = seeded(seed);
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
      await gateway.catalogue.setTaxonomy([{ name: 'warm-up', labels: LABELS }]);
      const t0 = performance.now();
      await gateway.catalogue.setTaxonomy([{ name: 'kind', labels: LABELS }]);
      const t1 = performance.now();
      await gateway.catalogue.setTaxonomy([{ name: 'kind', labels: LABELS }]);
      return { replaced: (t1 - t0) / 1000, kept: (performance.now() - t1) / 1000 };
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
    },
  });
  const products = check('--products', Number(values.products), positiveInt);
  const rounds = check('--rounds', Number(values.rounds), positiveInt);
  const sizes = values.sizes.split(',').map((size, i) => check(`--sizes[${i}]`, Number(size), positiveInt));
  const seconds = new Map(sizes.map((size) => [size, { replaced: [] as number[], kept: [] as number[] }]));
  for (let round = 0; round < rounds; round++)
    for (const size of round % 2 === 0 ? sizes : [...sizes].reverse()) {
      const { replaced, kept } = await retagSeconds(products, size, round + 1);
      seconds.get(size)!.replaced.push(replaced);
      seconds.get(size)!.kept.push(kept);
    }
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(
    `A taxonomy change (50 labels) re-tagging ${products.toLocaleString('en')} stored products through the job runner, SQLite, medians of ${rounds} interleaved rounds (min–max):`,
  );
  say();
  say('| JOB_TAG_CHUNK_SIZE | facet replaced: taxonomySet to re-tagged, s | products/s | same facet again: s | products/s |');
  say('| ---: | ---: | ---: | ---: | ---: |');
  for (const size of sizes) {
    const replaced = spread(seconds.get(size)!.replaced);
    const kept = spread(seconds.get(size)!.kept);
    say(
      `| ${size} | ${fmtSpread(replaced, 2)} | ${fmt(products / replaced.median, 0)} | ${fmtSpread(kept, 2)} | ${fmt(products / kept.median, 0)} |`,
    );
  }
  if (sizes.length > 1) {
    const [first, last] = [sizes[0], sizes[sizes.length - 1]].map((size) => spread(seconds.get(size)!.replaced).median);
    say();
    say(`Facet replaced, chunks of ${sizes[sizes.length - 1]} against ${sizes[0]}: ${fmt(first / last, 2)}× as fast.`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench retag-chunks: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
