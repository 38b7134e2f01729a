#!/usr/bin/env node
// A command-line adapter over the CLIP core: classify image files (bar charts), compare texts with
// images (a similarity table), or print embeddings. The command line is read and checked in
// cli/arguments.ts; this file runs what it asks for.
import { parseCommandLine, USAGE, UsageError, type CliModel, type Job } from './cli/arguments';
import { dot, ZeroShotClassifier, type EmbedResult, type ModelDtype } from './clip';
import { consoleProgress, resolveModel } from './hub';
import { colourWanted, labelBars, similarityTable } from './terminal-charts';

/** The model's directory: a hub repo is looked up in the cache, or downloaded into it (progress on stderr), first. */
async function modelDirectory(model: CliModel, dtype: ModelDtype): Promise<string> {
  if (model.kind === 'directory') return model.directory;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    return (await resolveModel({ ...model.hub, dtype, log, progress: consoleProgress({ log }) })).directory;
  } catch (error) {
    // Only "no such repo" needs saying that a path was taken for a repo id.
    const status = (error as { cause?: { statusCode?: unknown } }).cause?.statusCode;
    if (!model.guessed || (status !== 401 && status !== 404)) throw error;
    throw new Error(
      `${model.guessed} (--model) is no directory here, so it was taken for a Hugging Face repo id: ${(error as Error).message}`,
    );
  }
}

async function run(job: Exclude<Job, { command: 'help' }>): Promise<number> {
  // The heavy entry (ONNX Runtime) is loaded only once the command line is known to be right;
  // require, not import(): the package is CommonJS, and import() would load an ES module.
  const { ClipModel } = require('./clip/model') as typeof import('./clip/model');
  const model = await ClipModel.load(await modelDirectory(job.model, job.dtype), { dtype: job.dtype, device: job.device });
  try {
    const imageResults = await model.embedImages(job.images.map((image) => image.bytes));
    if (job.command === 'embed') {
      const textResults = await model.embedTexts(job.texts);
      const rows = [
        ...job.texts.map((t, i) => ({ input: t, result: textResults[i] })),
        ...job.images.map(({ file }, i) => ({ input: file, result: imageResults[i] })),
      ];
      for (const { input, result } of rows) {
        process.stdout.write(
          `${JSON.stringify({ input, ...(result.ok ? { vector: Array.from(result.vector) } : { error: result.message }) })}\n`,
        );
      }
      return rows.every((r) => r.result.ok) ? 0 : 1;
    }
    if (job.command === 'similarity') return similarity(job, await model.embedTexts(job.texts), imageResults);
    const classifier = await ZeroShotClassifier.create(
      job.labels,
      async (text) => vectorOf(await model.embedTexts([text]).then((r) => r[0])),
      { templates: job.templates, logitScale: model.info.logitScale },
    );
    const style = { colour: colourWanted(process.stdout), width: 30 };
    job.images.forEach(({ file }, i) => {
      const result = imageResults[i];
      if (!result.ok) {
        const failed = job.json
          ? JSON.stringify({ file, code: result.code, error: result.message })
          : `${file}: ${result.code}: ${result.message}`;
        process.stdout.write(`${failed}\n`);
        return;
      }
      const labels = classifier.classify(result.vector, Math.min(job.top, job.labels.length));
      if (job.json) {
        process.stdout.write(
          `${JSON.stringify({ file, labels: labels.map(({ label, score, similarity }) => ({ label, score, similarity })) })}\n`,
        );
        return;
      }
      const bars = labelBars(labels, style).map((line) => `  ${line}`);
      process.stdout.write(`${i > 0 ? '\n' : ''}${file}\n${bars.join('\n')}\n`);
    });
    return imageResults.every((r) => r.ok) ? 0 : 1;
  } finally {
    await model.release();
  }
}

/** Cosine similarities of every text with every image (vectors are unit length): a table, or JSON. */
function similarity(job: Exclude<Job, { command: 'help' }>, texts: EmbedResult[], images: EmbedResult[]): number {
  const failures = [
    ...texts.flatMap((r, i) => (r.ok ? [] : [`--text #${i + 1}: ${r.code}: ${r.message}`])),
    ...images.flatMap((r, i) => (r.ok ? [] : [`${job.images[i].file}: ${r.code}: ${r.message}`])),
  ];
  if (failures.length > 0) {
    process.stderr.write(failures.map((f) => `clip-cli: ${f}\n`).join(''));
    return 1;
  }
  const values = texts.map((t) => images.map((image) => dot(vectorOf(t), vectorOf(image))));
  const files = job.images.map((image) => image.file);
  if (job.json) {
    process.stdout.write(`${JSON.stringify({ texts: job.texts, images: files, similarity: values })}\n`);
    return 0;
  }
  process.stdout.write(`${similarityTable(job.texts, files, values, { colour: colourWanted(process.stdout) }).join('\n')}\n`);
  return 0;
}

function vectorOf(result: EmbedResult): Float32Array {
  if (!result.ok) throw new Error(result.message);
  return result.vector;
}

async function main(argv: string[]): Promise<number> {
  let job: Job;
  try {
    job = parseCommandLine(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`clip-cli: ${error.message}\n${error.showUsage ? `\n${USAGE}` : ''}`);
    return 2;
  }
  if (job.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  return run(job);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`clip-cli: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
