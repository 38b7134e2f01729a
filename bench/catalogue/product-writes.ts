// What the store's writes of products cost, without embedding: the store (SQLite, or PostgreSQL on
// PGlite with --store postgres) upserting N products of two
// images each (one of them shared by a hundred products) in batches of B, upserting them again with
// a tenth of their images replaced, then deleting them. Compare builds by running it in each
// checkout: `npm run build && node dist/bench/catalogue/product-writes.js [--products N] [--batch B] [--store sqlite|postgres]`.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { openPostgresStore, openSqliteStore, type CatalogueStore, type ProductRow } from '../../gateway/store';
import { fmt } from '../lib';
import { startPglite } from './pglite';

const hash = (text: string) => createHash('sha256').update(text).digest('hex');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { products: { type: 'string' }, batch: { type: 'string' }, store: { type: 'string' } } });
  const products = check('--products', Number(values.products ?? 20_000), positiveInt);
  const batch = check('--batch', Number(values.batch ?? 256), positiveInt);
  if (values.store !== undefined && values.store !== 'sqlite' && values.store !== 'postgres')
    throw new Error(`--store must be sqlite or postgres, got ${JSON.stringify(values.store)}`);
  const dir = mkdtempSync(join(tmpdir(), 'product-writes-'));
  const pglite = values.store === 'postgres' ? await startPglite() : undefined;
  const store: CatalogueStore = pglite
    ? await openPostgresStore({ url: pglite.url, poolSize: 1 })
    : await openSqliteStore({ path: join(dir, 'catalogue.sqlite') });
  try {
    await store.migrate();
    const ids = Array.from({ length: products }, (_, i) => `p${i}`);
    const rows = (replaced: boolean): ProductRow[] =>
      ids.map((id, i) => ({
        id,
        title: id,
        description: null,
        attributes: null,
        imageHashes: [hash(`${id}${replaced && i % 10 === 0 ? '-new' : ''}`), hash(`shared-${i % 100}`)],
        imageUrls: [null, null],
        createdAt: '2026-12-07T00:00:00.000Z',
        updatedAt: '2026-12-07T00:00:00.000Z',
      }));
    const timed = async (work: (from: number) => Promise<unknown>) => {
      const start = process.hrtime.bigint();
      for (let from = 0; from < products; from += batch) await work(from);
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    const first = rows(false);
    const again = rows(true);
    const insert = await timed((from) => store.upsertProducts(first.slice(from, from + batch)));
    const update = await timed((from) => store.upsertProducts(again.slice(from, from + batch)));
    const remove = await timed((from) => store.deleteProducts(ids.slice(from, from + batch)));
    process.stdout.write(
      `${values.store ?? 'sqlite'}: ${products} products, batches of ${batch}: upsert ${fmt(insert, 2)} s, upsert again (a tenth of the images replaced) ${fmt(update, 2)} s, delete ${fmt(remove, 2)} s\n`,
    );
  } finally {
    await store.close();
    await pglite?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
