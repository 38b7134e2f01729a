// Section 4 of `npm run bench`: Transformers.js on the same model files.
import { join } from 'node:path';

import { fmt, fmtSpread } from '../lib';
import { interleaved, throughput, type BenchContext, type GatewayInputs } from './context';

export async function peerSection(ctx: BenchContext, inputs: GatewayInputs): Promise<void> {
  const { say, targets, model, tokenizer, modelDir } = ctx;
  const { short } = ctx.prompts;
  const { jpegs } = inputs;
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
  const results = await interleaved(ctx, {
    oursImages: () => throughput(ctx, batch.length, () => model.embedImages(batch)),
    tjsImages: () =>
      throughput(ctx, batch.length, async () => {
        const images = await Promise.all(batch.map((jpeg) => tjs.RawImage.fromBlob(new Blob([jpeg]))));
        const inputs = await processor(images);
        await vision(inputs);
      }),
    oursTexts: () => throughput(ctx, prompts.length, () => model.embedTexts(prompts)),
    tjsTexts: () =>
      throughput(ctx, prompts.length, async () => {
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
