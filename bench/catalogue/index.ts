// The catalogue's section of `npm run bench`: ingest through the gateway against its own embed
// throughput, re-tagging from stored vectors, and search and label queries on both stores at
// sizes a shop reaches. Every figure is measured in this run; synthetic vectors stand in for
// product images wherever no inference is being measured.
import { ingest } from './ingest';
import type { CatalogueBenchOptions } from './options';
import { postgresStore } from './postgres';
import type { Truth } from './search';
import { embeddedStore } from './sqlite';
import { ClusteredVectors } from './vectors';

export type { CatalogueBenchOptions, Target } from './options';

export async function benchCatalogue(options: CatalogueBenchOptions): Promise<void> {
  const { say, quick } = options;
  say(`## 6. The catalogue`);
  say();
  if (options.parts.has('ingest')) await ingest(options);
  const { products } = options;
  const sqliteSizes = [...new Set([...[10_000, 100_000, 1_000_000].filter((size) => size < products), products])];
  // PGlite runs PostgreSQL single-threaded in WebAssembly: its HNSW build at a million would take hours.
  const pgSizes = quick ? [10_000] : [10_000, 100_000].filter((size) => size <= products);
  const tagSize = Math.min(products, quick ? 50_000 : 100_000);
  const data = new ClusteredVectors(Math.max(...sqliteSizes), 7);
  const truths = new Map<number, Truth>();
  if (!options.parts.has('sqlite')) return;
  const model = await embeddedStore(options, data, sqliteSizes, tagSize, truths);
  if (options.parts.has('postgres')) await postgresStore(options, model, data, pgSizes, truths);
}
