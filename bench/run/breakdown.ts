// Section 5 of `npm run bench`: where the time goes for one image request, one in flight.
import { fmt, load, metric, metrics, startGatewayProcess } from '../lib';
import type { BenchContext, GatewayInputs } from './context';

export async function breakdownSection(ctx: BenchContext, inputs: GatewayInputs): Promise<void> {
  const { say, loadSeconds } = ctx;
  const { imageBodies, gatewayEnv } = inputs;
  say(`## 5. Where the time goes for one image request (one in flight)`);
  say();
  const gw = await startGatewayProcess(gatewayEnv);
  try {
    await load(gw.origin, imageBodies, 1, 2);
    const before = await metrics(gw.origin);
    const r = await load(gw.origin, imageBodies, 1, loadSeconds);
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
