// The embedded store's HNSW graph (gateway/store/sqlite/hnsw/graph.ts) alone, without SQLite: how
// its shape (links a vector, the build's beam) and the search's width trade recall@20 for time on
// the catalogue bench's clustered vectors, unfiltered and under filters matching 10% and 1% (a
// bitmap predicate, the cheapest a walk can have). One build per shape, saved under --dir to be
// searched again without building.
//
//   npm run build && node dist/bench/catalogue/graph-shape.js build --products 1000000 --m 32 --ef-construction 64
//   npm run build && node dist/bench/catalogue/graph-shape.js search --products 1000000 --m 32 --ef-construction 64 --efs 64,128,256
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, integer, positiveInt } from '../../functions/options';
import { HnswGraph as Graph } from '../../gateway/store';
import { fmt } from '../lib';
import { percentile } from './search';
import { DIM, inFilter, inRareFilter, K, ClusteredVectors } from './vectors';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    products: { type: 'string', default: '1000000' },
    m: { type: 'string', default: '32' },
    'ef-construction': { type: 'string', default: '64' },
    efs: { type: 'string', default: '64,128,256' },
    queries: { type: 'string', default: '60' },
    dir: { type: 'string', default: join(tmpdir(), 'clip-graph-shape') },
  },
});

async function main(): Promise<void> {
  const mode = positionals[0];
  if (mode !== 'build' && mode !== 'search') throw new TypeError(`the first argument must be build or search, got ${JSON.stringify(mode)}`);
  const n = check('--products', Number(args.products), positiveInt);
  const shape = {
    m: check('--m', Number(args.m), integer(2, 100)),
    efConstruction: check('--ef-construction', Number(args['ef-construction']), integer(8, 4096)),
  };
  const dir = join(args.dir!, `n${n}-m${shape.m}-efc${shape.efConstruction}`);
  const data = new ClusteredVectors(n, 7);
  data.grow(n);
  if (mode === 'build') {
    const t0 = performance.now();
    const graph = Graph.create(DIM, n, shape);
    // pk = index + 1, as the store's keys start at 1.
    for (let i = 0; i < n; i++) graph.upsert(i + 1, data.vector(i));
    mkdirSync(dir, { recursive: true });
    await graph.save(dir);
    process.stdout.write(
      `built ${n} vectors, m ${shape.m}, efConstruction ${shape.efConstruction}: ${fmt((performance.now() - t0) / 1000)} s (${dir})\n`,
    );
    return;
  }
  if (!existsSync(dir)) throw new Error(`no graph at ${dir}: run this with build first`);
  const graph = await Graph.load(dir, DIM);
  const queries = data.queries(check('--queries', Number(args.queries), positiveInt), 100 + n);
  for (const q of queries.slice(0, 5)) graph.search(q, K + 1, 64);
  const efs = args.efs!.split(',').map((ef) => check('--efs', Number(ef), positiveInt));
  process.stdout.write(
    `| m | efConstruction | filter | ef | recall@${K} | p50 ms | p99 ms |\n| ---: | ---: | --- | ---: | ---: | ---: | ---: |\n`,
  );
  for (const [name, accept] of [
    ['none', undefined],
    ['10%', inFilter],
    ['1%', inRareFilter],
  ] as const) {
    const truth = data.exact(queries, n, K, accept);
    const allowed = new Uint8Array(n + 1);
    for (let i = 0; i < n; i++) if (!accept || accept(i)) allowed[i + 1] = 1;
    for (const ef of efs) {
      let found = 0;
      const times: number[] = [];
      for (const [i, q] of queries.entries()) {
        const t0 = performance.now();
        const hits = graph.search(q, K + 1, ef, accept ? (pk) => allowed[pk] === 1 : undefined);
        times.push(performance.now() - t0);
        const want = new Set(truth[i].map((index) => index + 1));
        found += hits.slice(0, K).filter((hit) => want.has(hit.pk)).length;
      }
      times.sort((a, b) => a - b);
      process.stdout.write(
        `| ${shape.m} | ${shape.efConstruction} | ${name} | ${ef} | ${fmt(found / (K * queries.length), 3)} | ${fmt(percentile(times, 0.5), 2)} | ${fmt(percentile(times, 0.99), 2)} |\n`,
      );
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`graph-shape: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
