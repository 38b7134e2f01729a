// What a taxonomy change costs through the job runner, by the size of a tagging-only job's chunks:
// JOB_TAG_CHUNK_SIZE 100 (the chunk of a job that embeds images) against 2,000 (the default), side
// by side in one run, rounds interleaved, each round on a fresh SQLite store of the same products
// (seeded random unit vectors of the bundled tiny CLIP's 64 dimensions; a tag's cost does not
// depend on what they mean). `taxonomySet` is timed from the request to the re-tagging job's end:
// its prompts are stored by a warm-up taxonomy of the same labels, so it is the re-tag alone.
//
// `npm run build && node dist/bench/catalogue/retag-chunks.js [--products N] [--rounds R]`
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

const SIZES = [100, 2000];
const LABELS = Array.from({ length: 50 }, (_, i) => `thing number ${i}`);

/** Seconds from taxonomySet to the end of its re-tagging, over `products` products, tagging-only chunks of `tagChunkSize`. */
async function retagSeconds(products: number, tagChunkSize: number, seed: number): Promise<number> {
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
      return (performance.now() - t0) / 1000;
    } finally {
      await gateway.stop();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { products: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '3' } } });
  const products = check('--products', Number(values.products), positiveInt);
  const rounds = check('--rounds', Number(values.rounds), positiveInt);
  const seconds = new Map<number, number[]>(SIZES.map((size) => [size, []]));
  for (let round = 0; round < rounds; round++)
    for (const size of round % 2 === 0 ? SIZES : [...SIZES].reverse())
      seconds.get(size)!.push(await retagSeconds(products, size, round + 1));
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(
    `A taxonomy change (50 labels) re-tagging ${products.toLocaleString('en')} stored products through the job runner, SQLite, medians of ${rounds} interleaved rounds (min–max):`,
  );
  say();
  say('| JOB_TAG_CHUNK_SIZE | taxonomySet to re-tagged, s | products/s |');
  say('| ---: | ---: | ---: |');
  for (const size of SIZES) {
    const s = spread(seconds.get(size)!);
    say(`| ${size} | ${fmtSpread(s, 2)} | ${fmt(products / s.median, 0)} |`);
  }
  const [small, large] = SIZES.map((size) => spread(seconds.get(size)!).median);
  say();
  say(`Chunks of ${SIZES[1]} against ${SIZES[0]}: ${fmt(small / large, 2)}× as fast.`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench retag-chunks: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
