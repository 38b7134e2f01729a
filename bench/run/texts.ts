// Section 2b of `npm run bench`: texts through the gateway, distinct prompts of a fixed length.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { fmt, fmtSpread, load, seeded, spread, startGatewayProcess } from '../lib';
import { GATEWAY_DEFAULTS, type BenchContext, type GatewayInputs } from './context';

export async function textsSection(ctx: BenchContext, inputs: GatewayInputs): Promise<void> {
  const { say, targets, rounds, loadSeconds, tokenizer, modelDir } = ctx;
  const { gatewayEnv } = inputs;
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
    `${perRequest} distinct prompts per \`embed\` request, never the same prompt twice in a run, text cache off (\`TEXT_CACHE_SIZE\`=1); the gateway as in section 2 (texts batched up to \`BATCH_MAX_SIZE\` ${GATEWAY_DEFAULTS.maxBatchSize}), the sweep ${rounds} times over, medians (min–max). Ratio to raw ONNX Runtime at 32 texts per run with the same threads (section 1).`,
  );
  say();
  say(`| tokens | in flight | texts/s | p50 ms | p99 ms | errors | ratio to raw |`);
  say(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  const gw = await startGatewayProcess({ ...gatewayEnv, TEXT_CACHE_SIZE: '1' });
  try {
    for (const [tokens, raw] of [
      [7, ctx.raw.short32],
      [16, ctx.raw.medium32],
    ] as const) {
      const prompts = distinctPrompts(tokens, 40_000);
      let next = 0;
      const body = () =>
        JSON.stringify({
          query: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }',
          variables: { i: Array.from({ length: perRequest }, () => ({ text: prompts[next++ % prompts.length] })) },
        });
      let best = 0;
      // As for images: the sweep rounds times over, medians, so that one slow stretch of the machine is not a row.
      const inFlight = [1, 8, 32, 128];
      const runs = new Map(inFlight.map((c) => [c, [] as Awaited<ReturnType<typeof load>>[]]));
      for (let round = 0; round < rounds; round++) {
        for (const connections of inFlight) runs.get(connections)!.push(await load(gw.origin, body, connections, loadSeconds));
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
