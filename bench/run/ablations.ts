// Section 3 of `npm run bench`: what each of the gateway's mechanisms is worth, each variant in a
// process of its own, and classify against embedding the image alone.
import { fmt, fmtSpread, load, metric, metrics, spread, startGatewayProcess } from '../lib';
import type { BenchContext, GatewayInputs } from './context';

export async function ablationsSection(ctx: BenchContext, inputs: GatewayInputs): Promise<void> {
  const { say, targets, rounds, loadSeconds } = ctx;
  const { jpegs, imageBodies, gatewayEnv } = inputs;
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
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, env]] of variants.entries()) {
      const gw = await startGatewayProcess({ ...gatewayEnv, ...env });
      try {
        const r = await load(gw.origin, imageBodies, 32, loadSeconds);
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
  for (let round = 0; round < rounds; round++) {
    for (const key of ['on', 'off'] as const) {
      const gw = await startGatewayProcess({ ...gatewayEnv, ...(key === 'off' && { BATCH_DISPATCH_WHEN_IDLE: 'false' }) });
      try {
        idle[key].push((await load(gw.origin, imageBodies, 1, loadSeconds)).p50);
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
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, env, bodies]] of classifyVariants.entries()) {
      const gw = await startGatewayProcess({ ...gatewayEnv, ...env });
      try {
        const r = await load(gw.origin, bodies, 8, loadSeconds);
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
