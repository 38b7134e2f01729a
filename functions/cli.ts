#!/usr/bin/env node
// A command-line adapter over the CLIP core: classify image files, or print embeddings.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { bundledModelDir } from './bundled-model';
import { ClipModel, meanUnitVector, MODEL_DTYPES, zeroShot, type ModelDtype } from './clip';

const USAGE = `Usage:
  clip-cli classify IMAGE... --label LABEL [--label LABEL ...] [--template "a photo of a {}."]
  clip-cli embed [--text TEXT ...] [IMAGE ...]

Options:
  --model DIR      model directory (default: $CLIP_MODEL_DIR, else the bundled tiny CLIP)
  --dtype DTYPE    ${MODEL_DTYPES.join(' | ')} (default fp32)
  --device cpu|cuda
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      device: { type: 'string', default: 'cpu' },
      label: { type: 'string', multiple: true, default: [] },
      template: { type: 'string', multiple: true },
      text: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...images] = positionals;
  if (values.help || (command !== 'classify' && command !== 'embed')) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const directory = values.model ?? process.env.CLIP_MODEL_DIR ?? bundledModelDir();
  const model = await ClipModel.load(directory, { dtype: values.dtype as ModelDtype, device: values.device as 'cpu' | 'cuda' });
  try {
    const imageResults = await model.embedImages(images.map((file) => readFileSync(file)));
    if (command === 'embed') {
      const textResults = await model.embedTexts(values.text);
      const rows = [
        ...values.text.map((t, i) => ({ input: t, result: textResults[i] })),
        ...images.map((f, i) => ({ input: f, result: imageResults[i] })),
      ];
      for (const { input, result } of rows) {
        process.stdout.write(
          `${JSON.stringify({ input, ...(result.ok ? { vector: Array.from(result.vector) } : { error: result.error.message }) })}\n`,
        );
      }
      return rows.every((r) => r.result.ok) ? 0 : 1;
    }
    if (values.label.length === 0) throw new Error('classify needs at least one --label.');
    const templates = values.template ?? ['a photo of a {}.'];
    const labelVectors: Float32Array[] = [];
    for (const label of values.label) {
      const results = await model.embedTexts(templates.map((t) => t.replaceAll('{}', label)));
      const failed = results.find((r) => !r.ok);
      if (failed && !failed.ok) throw new Error(`label ${JSON.stringify(label)}: ${failed.error.message}`);
      labelVectors.push(meanUnitVector(results.map((r) => (r.ok ? r.vector : new Float32Array()))));
    }
    images.forEach((file, i) => {
      const result = imageResults[i];
      if (!result.ok) {
        process.stdout.write(`${file}: ${result.error.code}: ${result.error.message}\n`);
        return;
      }
      const scores = zeroShot(result.vector, labelVectors, model.info.logitScale)
        .slice(0, 5)
        .map((s) => `${values.label[s.index]} ${(s.score * 100).toFixed(1)}%`);
      process.stdout.write(`${file}: ${scores.join(', ')}\n`);
    });
    return imageResults.every((r) => r.ok) ? 0 : 1;
  } finally {
    await model.release();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`clip-cli: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
