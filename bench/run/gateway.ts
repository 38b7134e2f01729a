// Section 2 of `npm run bench`: the gateway end to end over HTTP, images per second against the
// ceiling its CPU per image allows, by requests in flight.
import { decodeAndCrop } from '../../functions/clip';
import { fmt, fmtSpread, load, metric, metrics, spread, startGatewayProcess } from '../lib';
import { GATEWAY_DEFAULTS, type BenchContext, type GatewayInputs } from './context';

export async function gatewaySection(ctx: BenchContext, inputs: GatewayInputs): Promise<void> {
  const { say, targets, rounds, loadSeconds, model, cores, threads } = ctx;
  const { jpegs, imageBodies, gatewayEnv } = inputs;
  let decodeMs = 0;
  let singleP50 = 0;
  say(`## 2. The gateway end to end over HTTP`);
  say();
  say(
    `One 640×480 JPEG (base64, ~60 KB) per \`embed\` request, all distinct, image cache off; autocannon with N requests in flight for ${loadSeconds} s after a 1 s warm-up; the gateway in its own process with its defaults but the in-flight backstop lifted (\`IMAGE_BATCH_MAX_SIZE\` ${GATEWAY_DEFAULTS.imageMaxBatchSize}, \`BATCH_MAX_DELAY_MS\` ${GATEWAY_DEFAULTS.maxDelayMs}, \`LOCAL_WORKERS\` = cores/2); the sweep ${rounds} times over, medians (min–max).`,
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
    // The sweep runs rounds times and each row reports medians: one pass is at the mercy of
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
    for (let round = 0; round < rounds; round++) {
      for (const connections of inFlight) {
        const before = await metrics(gw.origin);
        // Many connections start with a burst that a short window would over-weight.
        const r = await load(gw.origin, imageBodies, connections, connections >= 128 ? 2 * loadSeconds : loadSeconds, {
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
        `| ${connections} | ${fmtSpread(rate)} | ${fmt(median(list, 'p50'), 0)} | ${fmt(median(list, 'p99'), 0)} | ${list.reduce((sum, row) => sum + row.errors, 0)} | ${fmt(gatewayCpu)} | ${fmt(loadCpu)} | ${fmt(ceiling)} | ${fmt(rate.median / ceiling, 2)} | ${ctx.raw.bestImages ? fmt(rate.median / ctx.raw.bestImages, 2) : ''} |`,
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
      if (ctx.raw.bestImages) {
        say(
          `| (inference in raw ONNX Runtime, for comparison) | ${fmt((threads * 1000) / ctx.raw.bestImages)} | section 1's best batch, same threads |`,
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
    if (ctx.raw.bestImages) {
      targets.push([
        'gateway images/s at saturation vs raw ONNX Runtime best batch (informative)',
        `${fmt(saturation / ctx.raw.bestImages, 2)}`,
        undefined,
      ]);
    }
    if (ctx.raw.singleMs) {
      const bound = ctx.raw.singleMs + decodeMs + 5;
      targets.push([
        `one request in flight: p50 ≤ raw batch-1 inference (${fmt(ctx.raw.singleMs)} ms) + decode (${fmt(decodeMs)} ms) + 5 ms`,
        `${fmt(singleP50, 0)} ms (bound ${fmt(bound, 0)})`,
        singleP50 <= bound,
      ]);
    }
  } finally {
    await gw.stop();
  }
  say();
}
