#!/usr/bin/env node
// A command-line adapter over the CLIP core: classify image files, or print embeddings.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { DEFAULT_TEMPLATES, EXECUTION_DEVICE, MODEL_DTYPE, MODEL_DTYPES, ZeroShotClassifier, type EmbedResult } from './clip';
import { ClipModel } from './clip/model';
import { bundledModelDir } from './models';
import { check } from './options';

const USAGE = `Usage:
  clip-cli classify IMAGE... --label LABEL [--label LABEL ...] [--template "${DEFAULT_TEMPLATES[0]}"]
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
  const model = await ClipModel.load(directory, {
    dtype: check('--dtype', values.dtype, MODEL_DTYPE),
    device: check('--device', values.device, EXECUTION_DEVICE),
  });
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
          `${JSON.stringify({ input, ...(result.ok ? { vector: Array.from(result.vector) } : { error: result.message }) })}\n`,
        );
      }
      return rows.every((r) => r.result.ok) ? 0 : 1;
    }
    const classifier = await ZeroShotClassifier.create(
      values.label,
      async (text) => vectorOf(await model.embedTexts([text]).then((r) => r[0])),
      { templates: values.template, logitScale: model.info.logitScale },
    );
    images.forEach((file, i) => {
      const result = imageResults[i];
      if (!result.ok) {
        process.stdout.write(`${file}: ${result.code}: ${result.message}\n`);
        return;
      }
      const scores = classifier.classify(result.vector, 5).map((s) => `${s.label} ${(s.score * 100).toFixed(1)}%`);
      process.stdout.write(`${file}: ${scores.join(', ')}\n`);
    });
    return imageResults.every((r) => r.ok) ? 0 : 1;
  } finally {
    await model.release();
  }
}

function vectorOf(result: EmbedResult): Float32Array {
  if (!result.ok) throw new Error(result.message);
  return result.vector;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`clip-cli: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
