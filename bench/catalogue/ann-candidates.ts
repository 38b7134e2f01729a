// Which approximate nearest-neighbour index the embedded store should keep beside its SQLite file:
// the candidates from the npm registry measured side by side on the same data, in one run. The
// data is the catalogue bench's synthetic catalogue (clustered unit vectors of 512 dimensions,
// vectors.ts); the exact answers come from a brute-force scan of it. For each candidate: the time
// to build the index over every product (its own threads), the memory it adds, and for k = 20 the
// latency of one query at a time (p50, p99) and recall@20 against exact, unfiltered and under
// filters matching 10% and 1% of the products (a predicate where the library takes one; else
// over-fetching until k pass, as a caller must).
//
// The candidates are not dependencies of the gateway until one is chosen:
//   npm install --no-save usearch@2.26.2 hnswlib-node@3.0.0
//   npm run build && node dist/bench/catalogue/ann-candidates.js [--products N] [--queries Q]
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { fmt, processMemory } from '../lib';
import { ClusteredVectors, DIM, K } from './vectors';

const EFS = [64, 128, 256];
const FILTERS: { name: string; accept: (i: number) => boolean }[] = [
  { name: 'none', accept: () => true },
  { name: '10%', accept: (i) => i % 10 === 3 },
  { name: '1%', accept: (i) => i % 100 === 7 },
];

/** One candidate index, as the bench drives it. */
interface Candidate {
  name: string;
  /** Builds the index over the first n vectors, keyed by their position. */
  build(data: ClusteredVectors, n: number): void;
  /** The k best keys for a query with this search width, among those `accept` takes. */
  search(query: Float32Array, k: number, ef: number, accept: (i: number) => boolean): number[];
}

interface UsearchModule {
  Index: new (config: Record<string, unknown>) => {
    add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
    search(vector: Float32Array, k: number, threads: number): { keys: BigUint64Array };
    size(): number;
  };
}

interface HnswlibModule {
  HierarchicalNSW: new (
    space: string,
    dim: number,
  ) => {
    initIndex(max: number, m: number, efConstruction: number, seed: number): void;
    addPoint(vector: Float32Array | number[], label: number): void;
    setEf(ef: number): void;
    searchKnn(query: Float32Array | number[], k: number, filter?: (label: number) => boolean): { neighbors: number[] };
  };
}

function load<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch {
    process.stderr.write(`${name} is not installed: npm install --no-save usearch@2.26.2 hnswlib-node@3.0.0\n`);
    return undefined;
  }
}

/**
 * usearch: HNSW in C++ (SIMD distances, its own threads). Its JavaScript binding fixes the search
 * width when the index is made and takes no predicate: a wider search asks for more results (HNSW
 * keeps max(width, k) candidates), and a filter over-fetches until k pass, as a caller must.
 */
function usearchCandidate(module: UsearchModule, quantization: 'f32' | 'f16' | 'i8'): Candidate {
  let index: InstanceType<UsearchModule['Index']>;
  let n = 0;
  return {
    name: `usearch (${quantization})`,
    build(vectors, count) {
      n = count;
      index = new module.Index({
        dimensions: DIM,
        metric: 'cos',
        quantization,
        connectivity: 16,
        expansion_add: 128,
        expansion_search: EFS[0],
      });
      const keys = new BigUint64Array(count);
      for (let i = 0; i < count; i++) keys[i] = BigInt(i);
      index.add(keys, vectors.vectors.subarray(0, count * DIM), 2);
    },
    search(query, k, ef, accept) {
      // Wider until k pass, then once more as wide again: the k-th passing one found first is seldom the k-th nearest.
      let enough = false;
      for (let fetch = Math.max(ef, k); ; fetch *= 4) {
        const keys = [...index.search(query, Math.min(fetch, n), 1).keys].map(Number).filter(accept);
        if ((enough && keys.length >= k) || fetch >= n) return keys.slice(0, k);
        enough = keys.length >= k;
      }
    },
  };
}

/** hnswlib-node: hnswlib's C++ behind N-API, one thread per call; searchKnn takes a filter predicate. */
function hnswlibCandidate(module: HnswlibModule): Candidate {
  let index: InstanceType<HnswlibModule['HierarchicalNSW']>;
  return {
    name: 'hnswlib-node',
    build(vectors, count) {
      index = new module.HierarchicalNSW('cosine', DIM);
      index.initIndex(count, 16, 128, 100);
      // Its binding takes plain arrays only.
      for (let i = 0; i < count; i++) index.addPoint(Array.from(vectors.vector(i)), i);
    },
    search(query, k, ef, accept) {
      index.setEf(Math.max(ef, k));
      return index.searchKnn(Array.from(query), k, accept).neighbors;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function main(): void {
  const { values } = parseArgs({ options: { products: { type: 'string' }, queries: { type: 'string' } } });
  const products = check('--products', Number(values.products ?? 100_000), positiveInt);
  const queryCount = check('--queries', Number(values.queries ?? 200), positiveInt);
  const data = new ClusteredVectors(products, 7);
  data.grow(products);
  const queries = data.queries(queryCount, 11);
  const started = Date.now();
  const exact = FILTERS.map((filter) => data.exact(queries, products, K, filter.accept));
  process.stdout.write(
    `${products} products x ${DIM} dims, ${queryCount} queries, k = ${K}; exact answers in ${fmt((Date.now() - started) / 1000, 1)} s\n`,
  );

  const candidates: Candidate[] = [];
  const usearch = load<UsearchModule>('usearch');
  if (usearch) candidates.push(usearchCandidate(usearch, 'f32'), usearchCandidate(usearch, 'f16'), usearchCandidate(usearch, 'i8'));
  const hnswlib = load<HnswlibModule>('hnswlib-node');
  if (hnswlib) candidates.push(hnswlibCandidate(hnswlib));

  process.stdout.write('| index | build s | RSS added MiB | ef | filter | p50 ms | p99 ms | recall@20 | exactly k |\n');
  process.stdout.write('| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n');
  for (const candidate of candidates) {
    global.gc?.();
    const before = processMemory(process.pid).rssBytes;
    const buildStart = process.hrtime.bigint();
    candidate.build(data, products);
    const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
    const added = (processMemory(process.pid).rssBytes - before) / 2 ** 20;
    for (const ef of EFS) {
      FILTERS.forEach((filter, f) => {
        // One warm-up query (lazy allocations, a width's index built), then every query timed alone.
        candidate.search(queries[0], K, ef, filter.accept);
        const times: number[] = [];
        let found = 0;
        let full = 0;
        queries.forEach((query, q) => {
          const t = process.hrtime.bigint();
          const keys = candidate.search(query, K, ef, filter.accept);
          times.push(Number(process.hrtime.bigint() - t) / 1e6);
          const truth = new Set(exact[f][q]);
          found += keys.filter((key) => truth.has(key)).length;
          if (keys.length === Math.min(K, exact[f][q].length)) full++;
        });
        times.sort((a, b) => a - b);
        const recall = found / exact[f].reduce((sum, answer) => sum + answer.length, 0);
        process.stdout.write(
          `| ${candidate.name} | ${fmt(buildSeconds, 1)} | ${fmt(added, 0)} | ${ef} | ${filter.name} | ${fmt(percentile(times, 50), 2)} | ${fmt(percentile(times, 99), 2)} | ${fmt(recall, 3)} | ${full}/${queries.length} |\n`,
        );
      });
    }
  }
}

main();
