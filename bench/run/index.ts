// `npm run bench`: how close the gateway gets to raw ONNX Runtime on a ViT-B/32-shaped model, what
// each of its mechanisms is worth, how it compares with Transformers.js on the same files, and what
// the catalogue's store and tagging cost (bench/catalogue/).
// Everything is measured in one run on one machine, variants interleaved and repeated; only
// ratios within a run are meaningful on a shared machine. Writes BENCHMARKS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ClipModel } from '../../functions/clip/model';
import { defaultWorkerCount } from '../../gateway/backends';
import { matrixProduct } from '../../gateway/catalogue';
import { benchCatalogue, type Target } from '../catalogue';
import { fmt, makeJpegs, ROOT } from '../lib';
import { ablationsSection } from './ablations';
import { breakdownSection } from './breakdown';
import { promptOfTokens, type BenchContext, type GatewayInputs } from './context';
import { gatewaySection } from './gateway';
import { peerSection } from './peer';
import { rawSection } from './raw';
import { textsSection } from './texts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'bench', 'model') },
    out: { type: 'string', default: join(ROOT, 'BENCHMARKS.md') },
    quick: { type: 'boolean', default: false },
    // The catalogue's largest size on the embedded store: 10,000, 100,000, 1,000,000 up to it (and it).
    products: { type: 'string' },
    // Which parts of the catalogue section run: ingest (through the gateway), sqlite, postgres.
    'catalogue-parts': { type: 'string', default: 'ingest,sqlite,postgres' },
    sections: { type: 'string', default: 'raw,gateway,texts,ablations,peer,breakdown,catalogue' },
  },
});
const QUICK = args.quick!;
const PRODUCTS = args.products === undefined ? (QUICK ? 50_000 : 1_000_000) : Number(args.products.replaceAll('_', ''));
if (!Number.isSafeInteger(PRODUCTS) || PRODUCTS < 1000) {
  throw new TypeError(`--products must be a whole number of at least 1000, got ${JSON.stringify(args.products)}`);
}
const ROUNDS = QUICK ? 2 : 3;
const LOAD_SECONDS = QUICK ? 4 : 8;
const sections = new Set(args.sections!.split(','));
const report: string[] = [];
const say = (line = '') => {
  report.push(line);
  process.stdout.write(`${line}\n`);
};

/**
 * The measured peak: the best of 5 runs each of ViT-B/32's own MLP products at 32 images (1600
 * tokens × 768 × 3072 and back) through ONNX Runtime's MatMul on every core: the densest
 * arithmetic the model does, in the shapes it does it. Square 1024³ or 4096³ products ran slower.
 */
async function measurePeakGflops(): Promise<number> {
  let peakGflops = 0;
  for (const [rows, inner, cols] of [
    [1600, 768, 3072],
    [1600, 3072, 768],
  ] as const) {
    const left = Float32Array.from({ length: rows * inner }, (_, i) => ((i * 2654435761) >>> 24) / 255);
    const right = Float32Array.from({ length: inner * cols }, (_, i) => ((i * 40503) >>> 8) / 255);
    for (let run = 0; run < 6; run++) {
      const started = performance.now();
      await matrixProduct(left, rows, right, inner, cols);
      const gflops = (2 * rows * inner * cols) / ((performance.now() - started) / 1000) / 1e9;
      if (run > 0) peakGflops = Math.max(peakGflops, gflops);
    }
  }
  return peakGflops;
}

async function main(): Promise<void> {
  const modelDir = args.model!;
  if (!existsSync(join(modelDir, 'onnx', 'vision_model.onnx'))) {
    throw new Error(`No model at ${modelDir}: run /usr/bin/python3 scripts/bench_model/make_bench_model.py first (see BENCHMARKS.md).`);
  }
  const cpu = cpus()[0];
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu.speed);
  const cores = availableParallelism();
  // The gateway's local backend: defaultWorkerCount() workers, each with its share of the cores as
  // ONNX Runtime intra-op threads, spinning off. The raw sections run ONNX Runtime the same way.
  const workers = defaultWorkerCount();
  const threads = Math.max(1, Math.floor(cores / workers));
  const peakGflops = await measurePeakGflops();
  say(`# Benchmarks`);
  say();
  say(
    `Run on ${new Date().toISOString().slice(0, 10)} with \`npm run bench${QUICK ? ' -- --quick' : ''}\`: ${cpu.model.trim()}, ${cores} cores at ${fmt(mhz, 0)} MHz, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, onnxruntime-node 1.30.`,
  );
  say(
    `Model: ViT-B/32 shapes with random weights (\`scripts/bench_model/make_bench_model.py\`), fp32. Medians of ${ROUNDS} interleaved rounds, (min–max) after them.`,
  );
  say(
    `ONNX Runtime as the gateway's local backend runs it: ${workers} worker${workers === 1 ? '' : 's'}, ${threads} intra-op thread${threads === 1 ? '' : 's'} each, spinning off; every raw figure below uses the same settings.`,
  );
  say(
    `Measured arithmetic peak: ${fmt(peakGflops, 0)} GFLOP/s (the best of ViT-B/32's MLP products at 32 images, 1600×768×3072 and 1600×3072×768 fp32, in ONNX Runtime on ${cores} threads), i.e. ≈ ${fmt(peakGflops / 8.8, 1)} images/s at 8.8 GFLOP per ViT-B/32 image.`,
  );
  say();

  const model = await ClipModel.load(modelDir, { log: () => {}, intraOpThreads: threads, spinning: false });
  const { tokenizer } = model;
  const crop = () => Uint8Array.from({ length: 224 * 224 * 3 }, (_, i) => (i * 2654435761) >>> 24);
  const targets: Target[] = [];
  const ctx: BenchContext = {
    quick: QUICK,
    rounds: ROUNDS,
    loadSeconds: LOAD_SECONDS,
    say,
    targets,
    modelDir,
    model,
    tokenizer,
    cores,
    threads,
    peakGflops,
    crops: Array.from({ length: 32 }, crop),
    prompts: { short: promptOfTokens(tokenizer, 7), medium: promptOfTokens(tokenizer, 16), long: promptOfTokens(tokenizer, 77) },
    raw: { bestImages: 0, singleMs: 0, short32: 0, medium32: 0 },
  };

  if (sections.has('raw')) await rawSection(ctx);

  const jpegs = await makeJpegs(QUICK ? 200 : 400);
  const inputs: GatewayInputs = {
    jpegs,
    imageBodies: jpegs.map((jpeg) =>
      JSON.stringify({
        query: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }',
        variables: { i: [{ imageBase64: jpeg.toString('base64') }] },
      }),
    ),
    // These sections measure how fast the batching path serves what it is given at 128 in flight:
    // admission by time admits that (it is well within the deadline), and the in-flight backstop
    // is out of the way; what admission does under overload is the soak's subject (npm run soak,
    // RELIABILITY.md).
    gatewayEnv: {
      CLIP_MODEL_DIR: modelDir,
      IMAGE_CACHE_SIZE: '1',
      MAX_REQUESTS_IN_FLIGHT: '100000',
    },
  };

  if (sections.has('gateway')) await gatewaySection(ctx, inputs);
  if (sections.has('texts')) await textsSection(ctx, inputs);
  if (sections.has('ablations')) await ablationsSection(ctx, inputs);
  if (sections.has('peer')) await peerSection(ctx, inputs);
  if (sections.has('breakdown')) await breakdownSection(ctx, inputs);
  if (sections.has('catalogue')) {
    const parts = new Set(args['catalogue-parts']!.split(','));
    await benchCatalogue({ modelDir, quick: QUICK, products: PRODUCTS, parts, rounds: ROUNDS, say, targets });
  }

  say(`## Targets`);
  say();
  say(`| target | measured in this run | met |`);
  say(`| --- | ---: | :---: |`);
  for (const [what, value, met] of targets) say(`| ${what} | ${value} | ${met === undefined ? '—' : met ? 'yes' : 'no'} |`);
  say();
  await model.release();
  // The hand-written reading of the results at the end of the file survives a rerun.
  const previous = existsSync(args.out!) ? readFileSync(args.out!, 'utf8') : '';
  const reading = previous.indexOf('\n## Reading these numbers');
  writeFileSync(args.out!, `${report.join('\n')}\n${reading >= 0 ? previous.slice(reading) : ''}`);
  process.stdout.write(`wrote ${args.out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
