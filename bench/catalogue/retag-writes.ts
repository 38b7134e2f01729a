// What a re-tag's writes cost in the store alone: replaceAutoTags over stored products, 2,000 a
// transaction as a tagging job's chunk, with tags made beforehand (no vectors read, no scoring, no
// job runner). Two changes, as retag-chunks.ts times them through the job runner: a facet replaced
// by another (each product's tag deleted, a new one inserted, two outbox rows), then the same facet
// with a new taxonomy version (each tag restamped, no outbox row). Set beside retag-chunks.ts's
// figures, it says how much of a re-tag is the store's write itself, which no change to the job
// around it can take away. Each round on a fresh store; CPU seconds beside wall seconds.
//
// `npm run build && node dist/bench/catalogue/retag-writes.js [--products 100000] [--rounds 3]`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { openSqliteStore, type TagRow } from '../../gateway/store';
import { fmt, fmtSpread, seeded, spread, timed, type Timed } from '../lib';
import { idOf, productRows } from './products';

const CHUNK = 2000;
const LABELS = 50;

/** Every product's one tag in `facet` (a random label of 50, a random score), chunk by chunk. */
function tagsOf(products: number, facet: string, taxonomyVersion: number, seed: number): { ids: string[]; tags: TagRow[] }[] {
  const random = seeded(seed);
  const chunks: { ids: string[]; tags: TagRow[] }[] = [];
  for (let start = 0; start < products; start += CHUNK) {
    const ids: string[] = [];
    const tags: TagRow[] = [];
    for (let i = start; i < Math.min(products, start + CHUNK); i++) {
      const score = random();
      ids.push(idOf(i));
      tags.push({
        productId: idOf(i),
        facet,
        label: `thing number ${Math.floor(random() * LABELS)}`,
        score,
        similarity: random(),
        source: 'auto',
        needsReview: score < 0.3,
        model: 'bench|fp32',
        taxonomyVersion,
      });
    }
    chunks.push({ ids, tags });
  }
  return chunks;
}

async function round(products: number, seed: number): Promise<{ replaced: Timed; restamped: Timed }> {
  const dir = mkdtempSync(join(tmpdir(), 'retag-writes-'));
  try {
    const store = await openSqliteStore({ path: join(dir, 'catalogue.sqlite'), log: () => {} });
    try {
      await store.migrate();
      const now = new Date().toISOString();
      for (let start = 0; start < products; start += CHUNK)
        await store.upsertProducts(productRows(start, Math.min(products, start + CHUNK), now));
      const write = (chunks: { ids: string[]; tags: TagRow[] }[]): Promise<Timed> =>
        timed(async () => {
          for (const { ids, tags } of chunks) await store.replaceAutoTags(ids, tags);
        });
      await write(tagsOf(products, 'warm-up', 1, seed));
      const kind = tagsOf(products, 'kind', 2, seed + 1);
      const replaced = await write(kind);
      const restamped = await write(kind.map(({ ids, tags }) => ({ ids, tags: tags.map((t) => ({ ...t, taxonomyVersion: 3 })) })));
      return { replaced, restamped };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { products: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } });
  const products = check('--products', Number(values.products), positiveInt);
  const rounds = check('--rounds', Number(values.rounds), positiveInt);
  const runs = { replaced: [] as Timed[], restamped: [] as Timed[] };
  for (let r = 0; r < rounds; r++) {
    const { replaced, restamped } = await round(products, r + 1);
    runs.replaced.push(replaced);
    runs.restamped.push(restamped);
  }
  const say = (line = '') => process.stdout.write(`${line}\n`);
  say(
    `replaceAutoTags alone over ${products.toLocaleString('en')} stored products, SQLite, ${CHUNK} a transaction, medians of ${rounds} round${rounds === 1 ? '' : 's'} (min–max):`,
  );
  say();
  say('| change | s | products/s | CPU s |');
  say('| --- | ---: | ---: | ---: |');
  for (const [change, runsOf] of [
    ['facet replaced (a tag deleted, one inserted, two outbox rows)', runs.replaced],
    ['same tags, new taxonomy version (restamped)', runs.restamped],
  ] as const) {
    const wall = spread(runsOf.map((t) => t.wall));
    say(`| ${change} | ${fmtSpread(wall, 2)} | ${fmt(products / wall.median, 0)} | ${fmtSpread(spread(runsOf.map((t) => t.cpu)), 2)} |`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench retag-writes: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
