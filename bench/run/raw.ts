// Section 1 of `npm run bench`: raw ONNX Runtime, the ceiling: images and texts per second by batch.
import { fmt, fmtSpread } from '../lib';
import { interleaved, throughput, type BenchContext } from './context';

/** Also fills ctx.raw, which the later sections compare with. */
export async function rawSection(ctx: BenchContext): Promise<void> {
  const { say, targets, model, tokenizer, crops, peakGflops } = ctx;
  const { short, medium, long } = ctx.prompts;
  say(`## 1. Raw ONNX Runtime (the ceiling)`);
  say();
  const sizes = [1, 2, 4, 8, 16, 32];
  const images = await interleaved(
    ctx,
    Object.fromEntries(sizes.map((n) => [`${n}`, () => throughput(ctx, n, () => model.embedCrops(crops.slice(0, n)))])),
  );
  say(`| images per run | images/s | achieved GFLOP/s | share of the measured peak |`);
  say(`| ---: | ---: | ---: | ---: |`);
  for (const n of sizes) {
    const s = images[`${n}`];
    ctx.raw.bestImages = Math.max(ctx.raw.bestImages, s.median);
    say(`| ${n} | ${fmtSpread(s)} | ${fmt(s.median * 8.8, 0)} | ${fmt((s.median * 8.8) / peakGflops, 2)} |`);
  }
  ctx.raw.singleMs = 1000 / images['1'].median;
  say();
  const texts = await interleaved(ctx, {
    short1: () => throughput(ctx, 1, () => model.embedTexts([short])),
    short32: () => throughput(ctx, 32, () => model.embedTexts(Array(32).fill(short))),
    medium32: () => throughput(ctx, 32, () => model.embedTexts(Array(32).fill(medium))),
    long32: () => throughput(ctx, 32, () => model.embedTexts(Array(32).fill(long))),
    short32max: () => throughput(ctx, 32, () => model.embedTexts(Array(32).fill(short), 'max_length')),
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
  ctx.raw.short32 = texts.short32.median;
  ctx.raw.medium32 = texts.medium32.median;
  const padRatio = texts.short32.median / texts.short32max.median;
  targets.push(['short prompts: pad-to-longest vs pad-to-77', `${fmt(padRatio, 1)}×`, padRatio >= 4]);
  say();
}
