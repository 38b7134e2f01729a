// `npm run bench`: how close the gateway gets to raw ONNX Runtime on a ViT-B/32-shaped model, what
// each of its mechanisms is worth, how it compares with Transformers.js on the same files, and what
// the catalogue's store and tagging cost (bench/catalogue.ts).
// Everything is measured in one run on one machine, variants interleaved and repeated; only
// ratios within a run are meaningful on a shared machine. Writes BENCHMARKS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { decodeAndCrop } from '../functions/clip';
import { ClipModel } from '../functions/clip/model';
import { defaultWorkerCount } from '../gateway/backends';
import { DEFAULT_IMAGE_MAX_BATCH_SIZE } from '../gateway/config';
import { DEFAULT_BATCHER_OPTIONS } from '../gateway/embedding/batcher';
import { matrixProduct } from '../gateway/catalogue/matrix';
import type { ClipTokenizer } from '../functions/clip/tokenizer';
import { benchCatalogue } from './catalogue';
import { fmt, fmtSpread, load, makeJpegs, metric, metrics, ROOT, seeded, spread, startGatewayProcess, type Spread } from './lib';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'bench', 'model') },
    out: { type: 'string', default: join(ROOT, 'BENCHMARKS.md') },
    quick: { type: 'boolean', default: false },
    sections: { type: 'string', default: 'raw,gateway,texts,ablations,peer,breakdown,catalogue' },
  },
});
const QUICK = args.quick!;
const ROUNDS = QUICK ? 2 : 3;
const LOAD_SECONDS = QUICK ? 4 : 8;
const sections = new Set(args.sections!.split(','));
const report: string[] = [];
const say = (line = '') => {
  report.push(line);
  process.stdout.write(`${line}\n`);
};

/** Runs `work` repeatedly for at least `minMs` (and `minRuns` times); returns items per second. */
async function throughput(items: number, work: () => Promise<unknown>, minMs = QUICK ? 800 : 2000, minRuns = 2): Promise<number> {
  await work(); // warm-up: first runs allocate
  let runs = 0;
  const started = performance.now();
  while (runs < minRuns || performance.now() - started < minMs) {
    await work();
    runs++;
  }
  return (runs * items) / ((performance.now() - started) / 1000);
}

/** Interleaves variants over rounds so that drift on a shared machine spreads over all of them. */
async function interleaved<K extends string>(variants: Record<K, () => Promise<number>>): Promise<Record<K, Spread>> {
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const key of Object.keys(variants) as K[]) samples[key].push(await variants[key]());
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, spread(v as number[])])) as Record<K, Spread>;
}

function promptOfTokens(tokenizer: ClipTokenizer, tokens: number): string {
  const words =
    'a photo of a small red leather sneaker with white laces on a wooden floor next to a green plant in morning light near the window'.split(
      ' ',
    );
  let text = '';
  for (const word of [...words, ...words, ...words, ...words, ...words]) {
    const next = text ? `${text} ${word}` : word;
    if (tokenizer.encode(next).length > tokens) break;
    text = next;
  }
  return text;
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
  // The measured peak: the best of 5 runs each of ViT-B/32's own MLP products at 32 images (1600
  // tokens × 768 × 3072 and back) through ONNX Runtime's MatMul on every core: the densest
  // arithmetic the model does, in the shapes it does it. Square 1024³ or 4096³ products ran slower.
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
  const crops = Array.from({ length: 32 }, crop);
  const short = promptOfTokens(tokenizer, 7);
  const medium = promptOfTokens(tokenizer, 16);
  const long = promptOfTokens(tokenizer, 77);
  let bestRawImages = 0;
  let rawSingleMs = 0;
  let rawShort32 = 0;
  let rawMedium32 = 0;
  let decodeMs = 0;
  let singleP50 = 0;
  const targets: [string, string, boolean | undefined][] = [];

  if (sections.has('raw')) {
    say(`## 1. Raw ONNX Runtime (the ceiling)`);
    say();
    const sizes = [1, 2, 4, 8, 16, 32];
    const images = await interleaved(
      Object.fromEntries(sizes.map((n) => [`${n}`, () => throughput(n, () => model.embedCrops(crops.slice(0, n)))])),
    );
    say(`| images per run | images/s | achieved GFLOP/s | share of the measured peak |`);
    say(`| ---: | ---: | ---: | ---: |`);
    for (const n of sizes) {
      const s = images[`${n}`];
      bestRawImages = Math.max(bestRawImages, s.median);
      say(`| ${n} | ${fmtSpread(s)} | ${fmt(s.median * 8.8, 0)} | ${fmt((s.median * 8.8) / peakGflops, 2)} |`);
    }
    rawSingleMs = 1000 / images['1'].median;
    say();
    const texts = await interleaved({
      short1: () => throughput(1, () => model.embedTexts([short])),
      short32: () => throughput(32, () => model.embedTexts(Array(32).fill(short))),
      medium32: () => throughput(32, () => model.embedTexts(Array(32).fill(medium))),
      long32: () => throughput(32, () => model.embedTexts(Array(32).fill(long))),
      short32max: () => throughput(32, () => model.embedTexts(Array(32).fill(short), 'max_length')),
    });
    say(`| texts | tokens | per run | padding | texts/s |`);
    say(`| --- | ---: | ---: | --- | ---: |`);
    say(`| "${short}" | ${tokenizer.encode(short).length} | 1 | longest | ${fmtSpread(texts.short1)} |`);
    say(`| same | ${tokenizer.encode(short).length} | 32 | longest | ${fmtSpread(texts.short32)} |`);
    say(`| same | ${tokenizer.encode(short).length} | 32 | to 77 | ${fmtSpread(texts.short32max)} |`);
    say(
      `| a ${tokenizer.encode(medium).length}-token prompt | ${tokenizer.encode(medium).length} | 32 | longest | ${fmtSpread(texts.medium32)} |`,
    );
    say(`| a 77-token text | 77 | 32 | longest | ${fmtSpread(texts.long32)} |`);
    say();
    say(
      `Pad-to-longest vs pad-to-77 for ${tokenizer.encode(short).length}-token prompts: **${fmt(texts.short32.median / texts.short32max.median, 1)}×** (target ≥ 4×).`,
    );
    rawShort32 = texts.short32.median;
    rawMedium32 = texts.medium32.median;
    const padRatio = texts.short32.median / texts.short32max.median;
    targets.push(['short prompts: pad-to-longest vs pad-to-77', `${fmt(padRatio, 1)}×`, padRatio >= 4]);
    say();
  }

  const jpegs = await makeJpegs(QUICK ? 200 : 400);
  const imageBodies = jpegs.map((jpeg) =>
    JSON.stringify({
      query: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }',
      variables: { i: [{ imageBase64: jpeg.toString('base64') }] },
    }),
  );
  // Admission control's bounds out of the way: these sections measure how fast the batching path
  // serves what it is given at 128 in flight; what the bounds do under overload is the soak's
  // subject (npm run soak, RELIABILITY.md).
  const gatewayEnv = {
    CLIP_MODEL_DIR: modelDir,
    IMAGE_CACHE_SIZE: '1',
    ADMISSION_MAX_IMAGES: '100000',
    ADMISSION_MAX_TEXTS: '100000',
    MAX_REQUESTS_IN_FLIGHT: '100000',
  };

  if (sections.has('gateway')) {
    say(`## 2. The gateway end to end over HTTP`);
    say();
    say(
      `One 640×480 JPEG (base64, ~60 KB) per \`embed\` request, all distinct, image cache off; autocannon with N requests in flight for ${LOAD_SECONDS} s after a 1 s warm-up; the gateway in its own process with its defaults but admission control's bounds lifted (\`IMAGE_BATCH_MAX_SIZE\` ${DEFAULT_IMAGE_MAX_BATCH_SIZE}, \`BATCH_MAX_DELAY_MS\` ${DEFAULT_BATCHER_OPTIONS.maxDelayMs}, \`LOCAL_WORKERS\` = cores/2); the sweep ${ROUNDS} times over, medians (min–max).`,
    );
    say();
    // Decoding alone, in this process, one image at a time: its CPU per image, and its latency.
    const decodeSample = jpegs.slice(0, 64);
    await decodeAndCrop(decodeSample[0], model.spec.image);
    const decodeCpu = process.cpuUsage();
    const decodeStarted = performance.now();
    for (const jpeg of decodeSample) await decodeAndCrop(jpeg, model.spec.image);
    decodeMs = (performance.now() - decodeStarted) / decodeSample.length;
    const decodeUsed = process.cpuUsage(decodeCpu);
    const decodeCpuMs = (decodeUsed.user + decodeUsed.system) / 1000 / decodeSample.length;
    say(
      `Ceiling: ${cores} cores × 1000 ms ÷ the CPU each image costs, measured over the same run: the gateway process's CPU time (every thread: HTTP, GraphQL, decoding, the worker and its ONNX Runtime threads; from /proc) plus the load generator's (autocannon in the bench's process), per completed request.`,
    );
    say();
    say(
      `| in flight | images/s | p50 ms | p99 ms | errors | gateway CPU ms/image | load generator CPU ms/image | ceiling images/s | ratio to ceiling | ratio to raw best |`,
    );
    say(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
    const gw = await startGatewayProcess(gatewayEnv);
    try {
      // The sweep runs ROUNDS times and each row reports medians: one pass is at the mercy of
      // whatever else the machine does during its 8 s, and a row compared with its neighbours
      // should not be.
      const inFlight = [1, 8, 32, 128];
      type Row = {
        rate: number;
        p50: number;
        p99: number;
        errors: number;
        gatewayCpu: number;
        loadCpu: number;
        inference: number;
        preprocess: number;
      };
      const rows = new Map<number, Row[]>(inFlight.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const connections of inFlight) {
          const before = await metrics(gw.origin);
          // Many connections start with a burst that a short window would over-weight.
          const r = await load(gw.origin, imageBodies, connections, connections >= 128 ? 2 * LOAD_SECONDS : LOAD_SECONDS, {
            pid: gw.child.pid,
          });
          const after = await metrics(gw.origin);
          // Includes the warm-up second's images on both sides of the ratio: a per-image mean.
          const delta = (name: string, labels = '') => metric(after, name, labels) - metric(before, name, labels);
          const perImage = (name: string, labels = '') => (delta(`${name}_sum`, labels) / delta(`${name}_count`, labels)) * 1000;
          const inferenceBatches = delta('clip_gateway_inference_seconds_sum', 'kind="image",outcome="ok"') * 1000;
          // Images that reached the model: requests cut off at the end of a run were decoded but never inferred.
          const images = delta('clip_gateway_batch_size_sum', 'kind="image"');
          rows.get(connections)!.push({
            rate: r.requestsPerSecond,
            p50: r.p50,
            p99: r.p99,
            errors: r.errors + r.non2xx,
            gatewayCpu: r.serverCpuMs! / r.completed,
            loadCpu: r.loadCpuMs / r.completed,
            inference: (inferenceBatches * threads) / images,
            preprocess: perImage('clip_gateway_image_preprocess_seconds'),
          });
        }
      }
      const median = (list: Row[], key: keyof Row) => spread(list.map((row) => row[key])).median;
      let saturation = 0;
      let saturationCeiling = 0;
      let breakdown: { inference: number; preprocess: number; gatewayCpu: number; loadCpu: number } | undefined;
      for (const connections of inFlight) {
        const list = rows.get(connections)!;
        const rate = spread(list.map((row) => row.rate));
        const gatewayCpu = median(list, 'gatewayCpu');
        const loadCpu = median(list, 'loadCpu');
        const ceiling = (cores * 1000) / (gatewayCpu + loadCpu);
        if (connections === 1) singleP50 = median(list, 'p50');
        if (rate.median > saturation) {
          saturation = rate.median;
          saturationCeiling = ceiling;
          breakdown = { inference: median(list, 'inference'), preprocess: median(list, 'preprocess'), gatewayCpu, loadCpu };
        }
        say(
          `| ${connections} | ${fmtSpread(rate)} | ${fmt(median(list, 'p50'), 0)} | ${fmt(median(list, 'p99'), 0)} | ${list.reduce((sum, row) => sum + row.errors, 0)} | ${fmt(gatewayCpu)} | ${fmt(loadCpu)} | ${fmt(ceiling)} | ${fmt(rate.median / ceiling, 2)} | ${bestRawImages ? fmt(rate.median / bestRawImages, 2) : ''} |`,
        );
      }
      say();
      if (breakdown) {
        const other = Math.max(0, breakdown.gatewayCpu - breakdown.inference - decodeCpuMs);
        say(`CPU per image at saturation, by stage:`);
        say();
        say(`| stage | CPU ms per image | how it is measured |`);
        say(`| --- | ---: | --- |`);
        say(`| inference | ${fmt(breakdown.inference)} | ONNX Runtime's wall time per batch × its ${threads} threads, per image |`);
        if (bestRawImages) {
          say(
            `| (inference in raw ONNX Runtime, for comparison) | ${fmt((threads * 1000) / bestRawImages)} | section 1's best batch, same threads |`,
          );
        }
        say(
          `| decode, orient, resize, crop | ${fmt(decodeCpuMs)} | the same JPEGs decoded one at a time in the bench process (process.cpuUsage); ${fmt(breakdown.preprocess)} ms wall each in the gateway under load |`,
        );
        say(`| HTTP, JSON, GraphQL, base64, hand-over, the rest | ${fmt(other)} | the gateway's CPU time less the two above |`);
        say(`| load generator | ${fmt(breakdown.loadCpu)} | autocannon's process |`);
        say(`| all | ${fmt(breakdown.gatewayCpu + breakdown.loadCpu)} | ceiling ${fmt(saturationCeiling)} images/s on ${cores} cores |`);
        say();
        targets.push([
          'gateway images/s at saturation vs the end-to-end ceiling',
          `${fmt(saturation / saturationCeiling, 2)}`,
          saturation / saturationCeiling >= 0.9,
        ]);
      }
      if (bestRawImages) {
        targets.push([
          'gateway images/s at saturation vs raw ONNX Runtime best batch (informative)',
          `${fmt(saturation / bestRawImages, 2)}`,
          undefined,
        ]);
      }
      if (rawSingleMs) {
        const bound = rawSingleMs + decodeMs + 5;
        targets.push([
          `one request in flight: p50 ≤ raw batch-1 inference (${fmt(rawSingleMs)} ms) + decode (${fmt(decodeMs)} ms) + 5 ms`,
          `${fmt(singleP50, 0)} ms (bound ${fmt(bound, 0)})`,
          singleP50 <= bound,
        ]);
      }
    } finally {
      await gw.stop();
    }
    say();
  }

  if (sections.has('texts')) {
    say(`## 2b. Texts through the gateway`);
    say();
    const perRequest = 8;
    // Whole words that are one token each in this tokenizer, so that a prompt's length is exact.
    const vocab = (JSON.parse(readFileSync(join(modelDir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model
      .vocab;
    const words = Object.keys(vocab)
      .filter((token) => /^[a-z]{3,10}<\/w>$/.test(token))
      .map((token) => token.slice(0, -4));
    /** Distinct prompts of exactly `tokens` tokens (start and end included): "a photo of" and random words. */
    const distinctPrompts = (tokens: number, count: number) => {
      const random = seeded(tokens * 7919);
      const made = new Set<string>();
      const base = tokenizer.encode('a photo of').length;
      while (made.size < count) {
        const picked = Array.from({ length: tokens - base }, () => words[Math.floor(random() * words.length)]);
        const text = `a photo of ${picked.join(' ')}`;
        if (tokenizer.encode(text).length === tokens) made.add(text);
      }
      return [...made];
    };
    say(
      `${perRequest} distinct prompts per \`embed\` request, never the same prompt twice in a run, text cache off (\`TEXT_CACHE_SIZE\`=1); the gateway as in section 2 (texts batched up to \`BATCH_MAX_SIZE\` ${DEFAULT_BATCHER_OPTIONS.maxBatchSize}), the sweep ${ROUNDS} times over, medians (min–max). Ratio to raw ONNX Runtime at 32 texts per run with the same threads (section 1).`,
    );
    say();
    say(`| tokens | in flight | texts/s | p50 ms | p99 ms | errors | ratio to raw |`);
    say(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
    const gw = await startGatewayProcess({ ...gatewayEnv, TEXT_CACHE_SIZE: '1' });
    try {
      for (const [tokens, raw] of [
        [7, rawShort32],
        [16, rawMedium32],
      ] as const) {
        const prompts = distinctPrompts(tokens, 40_000);
        let next = 0;
        const body = () =>
          JSON.stringify({
            query: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }',
            variables: { i: Array.from({ length: perRequest }, () => ({ text: prompts[next++ % prompts.length] })) },
          });
        let best = 0;
        // As for images: the sweep ROUNDS times over, medians, so that one slow stretch of the machine is not a row.
        const inFlight = [1, 8, 32, 128];
        const runs = new Map(inFlight.map((c) => [c, [] as Awaited<ReturnType<typeof load>>[]]));
        for (let round = 0; round < ROUNDS; round++) {
          for (const connections of inFlight) runs.get(connections)!.push(await load(gw.origin, body, connections, LOAD_SECONDS));
        }
        for (const connections of inFlight) {
          const list = runs.get(connections)!;
          const rate = spread(list.map((r) => r.requestsPerSecond * perRequest));
          best = Math.max(best, rate.median);
          say(
            `| ${tokens} | ${connections} | ${fmtSpread(rate)} | ${fmt(spread(list.map((r) => r.p50)).median, 0)} | ${fmt(spread(list.map((r) => r.p99)).median, 0)} | ${list.reduce((sum, r) => sum + r.errors + r.non2xx, 0)} | ${raw ? fmt(rate.median / raw, 2) : ''} |`,
          );
        }
        if (raw) {
          targets.push([
            `${tokens}-token texts through the gateway at saturation vs raw at 32 per run`,
            fmt(best / raw, 2),
            best / raw >= 0.8,
          ]);
        }
      }
    } finally {
      await gw.stop();
    }
    say();
  }

  if (sections.has('ablations')) {
    say(`## 3. What each mechanism is worth (32 requests in flight)`);
    say();
    say(`| variant | images/s | p50 ms | p99 ms | errors | event-loop delay p99 ms |`);
    say(`| --- | ---: | ---: | ---: | ---: | ---: |`);
    const variants: [string, Record<string, string>][] = [
      ['worker pool, cross-request batching (default)', {}],
      ['batching off (IMAGE_BATCH_MAX_SIZE=1)', { IMAGE_BATCH_MAX_SIZE: '1' }],
      // The previous default: kept here so that the cap is re-measured on every run.
      ['batches of up to 32 images (IMAGE_BATCH_MAX_SIZE=32)', { IMAGE_BATCH_MAX_SIZE: '32' }],
      ['idle dispatch off (BATCH_DISPATCH_WHEN_IDLE=false)', { BATCH_DISPATCH_WHEN_IDLE: 'false' }],
      ['inference on the main thread (LOCAL_WORKERS=0)', { LOCAL_WORKERS: '0' }],
    ];
    const samples = variants.map(() => ({
      rate: [] as number[],
      p50: [] as number[],
      p99: [] as number[],
      lag: [] as number[],
      errors: 0,
    }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, [, env]] of variants.entries()) {
        const gw = await startGatewayProcess({ ...gatewayEnv, ...env });
        try {
          const r = await load(gw.origin, imageBodies, 32, LOAD_SECONDS);
          // Reading /metrics resets the event-loop histogram; load() read it last just before the run.
          const lag = metric(await metrics(gw.origin), 'nodejs_eventloop_lag_p99_seconds') * 1000;
          samples[i].rate.push(r.requestsPerSecond);
          samples[i].p50.push(r.p50);
          samples[i].p99.push(r.p99);
          samples[i].lag.push(lag);
          samples[i].errors += r.errors + r.non2xx;
        } finally {
          await gw.stop();
        }
      }
    }
    targets.push([
      'event-loop delay p99 at saturation (32 in flight)',
      `${fmt(spread(samples[0].lag).median)} ms`,
      spread(samples[0].lag).median <= 20,
    ]);
    variants.forEach(([label], i) => {
      const m = samples[i];
      say(
        `| ${label} | ${fmtSpread(spread(m.rate))} | ${fmt(spread(m.p50).median, 0)} | ${fmt(spread(m.p99).median, 0)} | ${m.errors} | ${fmtSpread(spread(m.lag))} |`,
      );
    });
    say();
    say(
      `Event-loop delay: prom-client's \`nodejs_eventloop_lag_p99_seconds\` from the gateway's /metrics, sampled every 1 ms, over the measured run (target ≤ 20 ms at saturation).`,
    );
    say();
    // The batching window when idle: one request in flight, with and without idle dispatch.
    const idle = { on: [] as number[], off: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const key of ['on', 'off'] as const) {
        const gw = await startGatewayProcess({ ...gatewayEnv, ...(key === 'off' && { BATCH_DISPATCH_WHEN_IDLE: 'false' }) });
        try {
          idle[key].push((await load(gw.origin, imageBodies, 1, LOAD_SECONDS)).p50);
        } finally {
          await gw.stop();
        }
      }
    }
    say(
      `One request in flight, p50 ms: idle dispatch on (default) ${fmtSpread(spread(idle.on))}, off ${fmtSpread(spread(idle.off))} (BATCH_MAX_DELAY_MS 5).`,
    );
    say();
    const labels = [
      'sneaker',
      'boot',
      'sandal',
      'high heel',
      'loafer',
      'slipper',
      'running shoe',
      'hiking boot',
      'flip-flop',
      'clog',
      'moccasin',
      'oxford shoe',
    ];
    const classifyBodies = jpegs.map((jpeg) =>
      JSON.stringify({
        query: 'query($i:[ImageInput!]!,$l:[String!]!){ classify(images:$i, labels:$l, topK: 3){ labels { label score } } }',
        variables: { i: [{ base64: jpeg.toString('base64') }], l: labels },
      }),
    );
    say(`\`classify\` against ${labels.length} labels (the same set every request) vs \`embed\` of the image alone, 8 in flight:`);
    say();
    say(`| variant | requests/s | p50 ms | p99 ms | errors |`);
    say(`| --- | ---: | ---: | ---: | ---: |`);
    const classifyVariants: [string, Record<string, string>, string[]][] = [
      ['embed the image alone', {}, imageBodies],
      ['classify, label cache on', {}, classifyBodies],
      ['classify, label cache off (TEXT_CACHE_SIZE=1)', { TEXT_CACHE_SIZE: '1' }, classifyBodies],
    ];
    const runs = classifyVariants.map(() => ({ rate: [] as number[], p50: [] as number[], p99: [] as number[], errors: 0 }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, [, env, bodies]] of classifyVariants.entries()) {
        const gw = await startGatewayProcess({ ...gatewayEnv, ...env });
        try {
          const r = await load(gw.origin, bodies, 8, LOAD_SECONDS);
          runs[i].rate.push(r.requestsPerSecond);
          runs[i].p50.push(r.p50);
          runs[i].p99.push(r.p99);
          runs[i].errors += r.errors + r.non2xx;
        } finally {
          await gw.stop();
        }
      }
    }
    const rates = runs.map((r) => spread(r.rate).median);
    classifyVariants.forEach(([label], i) => {
      say(
        `| ${label} | ${fmtSpread(spread(runs[i].rate))} | ${fmt(spread(runs[i].p50).median, 0)} | ${fmt(spread(runs[i].p99).median, 0)} | ${runs[i].errors} |`,
      );
    });
    say();
    // Cost per request: how much longer a classify takes than an embed of the same image.
    const overhead = rates[0] / rates[1] - 1;
    const signed = `${overhead >= 0 ? '+' : '−'}${fmt(Math.abs(overhead) * 100, 0)}%`;
    say(`Cached-label \`classify\` costs **${signed}** per request relative to embedding the image alone (target within +10%).`);
    targets.push(['classify with a cached label set vs embedding the image alone', signed, overhead <= 0.1]);
    say();
  }

  if (sections.has('peer')) {
    say(`## 4. Transformers.js on the same model files`);
    say();
    // Transformers.js is an ES module; TypeScript keeps this import() as is.
    const tjs = await import('@huggingface/transformers');
    tjs.env.allowRemoteModels = false;
    tjs.env.localModelPath = join(modelDir, '..');
    const name = modelDir.split('/').pop()!;
    const processor = await tjs.AutoProcessor.from_pretrained(name);
    const vision = await tjs.CLIPVisionModelWithProjection.from_pretrained(name, { dtype: 'fp32' });
    const tjsTokenizer = await tjs.AutoTokenizer.from_pretrained(name);
    const text = await tjs.CLIPTextModelWithProjection.from_pretrained(name, { dtype: 'fp32' });
    const batch = jpegs.slice(0, 16);
    const prompts = Array(32).fill(short);
    const results = await interleaved({
      oursImages: () => throughput(batch.length, () => model.embedImages(batch)),
      tjsImages: () =>
        throughput(batch.length, async () => {
          const images = await Promise.all(batch.map((jpeg) => tjs.RawImage.fromBlob(new Blob([jpeg]))));
          const inputs = await processor(images);
          await vision(inputs);
        }),
      oursTexts: () => throughput(prompts.length, () => model.embedTexts(prompts)),
      tjsTexts: () =>
        throughput(prompts.length, async () => {
          const inputs = tjsTokenizer(prompts, { padding: true, truncation: true });
          await text(inputs);
        }),
    });
    say(`| work | clip-gateway core | Transformers.js ${'4.3.1'} | ratio |`);
    say(`| --- | ---: | ---: | ---: |`);
    say(
      `| ${batch.length} JPEGs decoded, preprocessed and embedded, images/s | ${fmtSpread(results.oursImages)} | ${fmtSpread(results.tjsImages)} | ${fmt(results.oursImages.median / results.tjsImages.median, 2)}× |`,
    );
    say(
      `| 32 ${tokenizer.encode(short).length}-token prompts embedded, texts/s | ${fmtSpread(results.oursTexts)} | ${fmtSpread(results.tjsTexts)} | ${fmt(results.oursTexts.median / results.tjsTexts.median, 2)}× |`,
    );
    const imageRatio = results.oursImages.median / results.tjsImages.median;
    const textRatio = results.oursTexts.median / results.tjsTexts.median;
    targets.push([
      'ahead of Transformers.js on images and on texts',
      `${fmt(imageRatio, 2)}×, ${fmt(textRatio, 2)}×`,
      imageRatio > 1 && textRatio > 1,
    ]);
    say();
  }

  if (sections.has('breakdown')) {
    say(`## 5. Where the time goes for one image request (one in flight)`);
    say();
    const gw = await startGatewayProcess(gatewayEnv);
    try {
      await load(gw.origin, imageBodies, 1, 2);
      const before = await metrics(gw.origin);
      const r = await load(gw.origin, imageBodies, 1, LOAD_SECONDS);
      const after = await metrics(gw.origin);
      const delta = (name: string, labels = '') => metric(after, name, labels) - metric(before, name, labels);
      const mean = (name: string, labels = '') => (delta(`${name}_sum`, labels) / delta(`${name}_count`, labels)) * 1000;
      const preprocess = mean('clip_gateway_image_preprocess_seconds');
      const queue = mean('clip_gateway_queue_delay_seconds', 'kind="image"');
      const inference = mean('clip_gateway_inference_seconds', 'kind="image",outcome="ok"');
      const total = 1000 / r.requestsPerSecond;
      say(`| stage | ms | share |`);
      say(`| --- | ---: | ---: |`);
      for (const [stage, ms] of [
        ['decode, orient, resize, crop (sharp)', preprocess],
        ['waiting in the batcher', queue],
        ['inference in the worker (incl. hand-over)', inference],
        ['HTTP, JSON, GraphQL, base64, serialising the vector', total - preprocess - queue - inference],
      ] as const) {
        say(`| ${stage} | ${fmt(ms)} | ${fmt((ms / total) * 100, 0)}% |`);
      }
      say(`| whole request (client side) | ${fmt(total)} | |`);
    } finally {
      await gw.stop();
    }
    say();
  }

  if (sections.has('catalogue')) {
    await benchCatalogue({ modelDir, quick: QUICK, rounds: ROUNDS, say, targets });
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
