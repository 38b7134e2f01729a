#!/usr/bin/env node
// A command-line adapter over the CLIP core: classify image files (bar charts), compare texts with
// images (a similarity table), or print embeddings.
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';

import {
  classifierInputProblem,
  DEFAULT_TEMPLATES,
  dot,
  EXECUTION_DEVICE,
  MODEL_DTYPE,
  MODEL_DTYPES,
  ZeroShotClassifier,
  type EmbedResult,
  type ExecutionDevice,
  type ModelDtype,
} from './clip';
import type { ItemNamer } from './clip/classify';
import {
  consoleProgress,
  DEFAULT_REVISION,
  hubSettingsFromEnv,
  modelSourceFromEnv,
  repoId,
  resolveModel,
  revisionName,
  type HubModel,
} from './hub';
import { bundledModelDir } from './models';
import { check } from './options';
import { colourWanted, labelBars, similarityTable } from './terminal-charts';

const USAGE = `Usage:
  clip-cli classify IMAGE... --label LABEL [--label LABEL ...] [--template "${DEFAULT_TEMPLATES[0]}"] [--top N]
  clip-cli similarity --text TEXT [--text TEXT ...] IMAGE...
  clip-cli embed [--text TEXT ...] [IMAGE ...]

classify prints a bar chart of each image's label probabilities, similarity a table of cosine
similarities (texts by images); in colour on a terminal (NO_COLOR turns it off).

Options:
  --json           classify and similarity: one JSON object per line instead of charts
  --top N          classify: the N best labels (default 10)
  --model DIR|REPO a model directory, or a Hugging Face repo id such as Xenova/clip-vit-base-patch32,
                   fetched into the Hugging Face cache (default: $CLIP_MODEL_DIR, else $CLIP_MODEL,
                   else the bundled tiny CLIP)
  --revision REV   branch, tag or commit of the repo (default: main, or $CLIP_MODEL_REVISION for $CLIP_MODEL)
  --dtype DTYPE    ${MODEL_DTYPES.join(' | ')} (default fp32)
  --device cpu|cuda
`;

const COMMANDS = ['classify', 'similarity', 'embed'] as const;

/** A mistake on the command line: one line on stderr (and the usage, if it helps), exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

/** What to run, every argument checked and every image read, so that no mistake waits for the model to load. */
type Job =
  | { command: 'help' }
  | {
      command: (typeof COMMANDS)[number];
      model: CliModel;
      dtype: ModelDtype;
      device: ExecutionDevice;
      images: { file: string; bytes: Buffer }[];
      labels: string[];
      templates?: string[];
      texts: string[];
      json: boolean;
      top: number;
    };

/** The nth --label or --template, as the user counts them. */
const optionName: ItemNamer = (list, index) => `--${list === 'labels' ? 'label' : 'template'} #${index + 1}`;

function parseCommandLine(argv: string[]): Job {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        revision: { type: 'string' },
        dtype: { type: 'string', default: 'fp32' },
        device: { type: 'string', default: 'cpu' },
        label: { type: 'string', multiple: true, default: [] },
        template: { type: 'string', multiple: true },
        text: { type: 'string', multiple: true, default: [] },
        json: { type: 'boolean', default: false },
        top: { type: 'string', default: '10' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // Node's own sentences: "Unknown option '--lable'. ...", "Option '--label <value>' argument missing".
    throw new UsageError(error instanceof Error ? error.message : String(error), true);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  const [command, ...files] = positionals;
  const commands = `the commands are ${COMMANDS.slice(0, -1).join(', ')} and ${COMMANDS.at(-1)}.`;
  if (command === undefined) throw new UsageError(`no command given; ${commands}`, true);
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new UsageError(`unknown command ${JSON.stringify(command)}; ${commands}`, true);
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top must be a positive integer, got ${JSON.stringify(values.top)}.`);
  if (values.json && command === 'embed') throw new UsageError('--json is for classify and similarity; embed always prints JSON.');

  const dtype = check('--dtype', values.dtype, MODEL_DTYPE, (m) => new UsageError(`${m}.`));
  const device = check('--device', values.device, EXECUTION_DEVICE, (m) => new UsageError(`${m}.`));
  if (command === 'classify') {
    if (values.text.length > 0) throw new UsageError('--text is for embed; classify takes image files and --label.');
    if (files.length === 0) throw new UsageError('classify needs at least one image file.', true);
    if (values.label.length === 0) throw new UsageError('classify needs at least one --label.', true);
    const problem = classifierInputProblem(values.label, values.template ?? DEFAULT_TEMPLATES, optionName);
    if (problem) throw new UsageError(problem);
  } else if (command === 'similarity') {
    if (values.label.length > 0 || values.template)
      throw new UsageError('--label and --template are for classify; similarity takes --text and image files.');
    if (values.text.length === 0) throw new UsageError('similarity needs at least one --text.', true);
    if (files.length === 0) throw new UsageError('similarity needs at least one image file.', true);
  } else {
    if (values.label.length > 0 || values.template)
      throw new UsageError('--label and --template are for classify; embed takes --text and image files.');
    if (files.length === 0 && values.text.length === 0) throw new UsageError('embed needs --text or at least one image file.', true);
  }
  return {
    command: command as (typeof COMMANDS)[number],
    json: values.json,
    top,
    model: modelFrom(values.model, values.revision),
    dtype,
    device,
    images: files.map((file) => ({ file, bytes: readImageFile(file) })),
    labels: values.label,
    templates: values.template,
    texts: values.text,
  };
}

/** Where the model comes from; `guessed` when --model was no directory here and so was taken for a repo id. */
type CliModel = { kind: 'directory'; directory: string } | { kind: 'hub'; hub: HubModel; guessed?: string };

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * The model --model names (a directory if there is one by that name, else a hub repo id), else
 * the one the environment names (CLIP_MODEL_DIR or CLIP_MODEL), else the bundled tiny CLIP.
 */
function modelFrom(option: string | undefined, revisionOption: string | undefined): CliModel {
  const revision =
    revisionOption === undefined ? undefined : check('--revision', revisionOption, revisionName, (m) => new UsageError(`${m}.`));
  const hub = (repo: string): HubModel => {
    try {
      const settings = hubSettingsFromEnv(process.env);
      return { repo, revision: revision ?? DEFAULT_REVISION, ...settings };
    } catch (error) {
      throw new UsageError(`${(error as Error).message}.`);
    }
  };
  if (option !== undefined) {
    if (isDirectory(option)) {
      if (revision !== undefined) throw new UsageError(`--revision is for a Hugging Face repo; --model ${option} is a directory.`);
      return { kind: 'directory', directory: option };
    }
    if (repoId.accepts(option) && !option.startsWith('.')) return { kind: 'hub', hub: hub(option), guessed: option };
    throw new UsageError(`the model directory ${option} (--model) does not exist or is not a directory.`);
  }
  let source;
  try {
    source = modelSourceFromEnv(process.env);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}.`);
  }
  if (revision !== undefined && source.kind !== 'hub')
    throw new UsageError('--revision needs a Hugging Face repo, from --model or CLIP_MODEL.');
  if (source.kind === 'hub') return { kind: 'hub', hub: revision === undefined ? source.hub : { ...source.hub, revision } };
  if (source.kind === 'bundled') return { kind: 'directory', directory: bundledModelDir() };
  if (!isDirectory(source.directory)) {
    throw new UsageError(`the model directory ${source.directory} (CLIP_MODEL_DIR) does not exist or is not a directory.`);
  }
  return { kind: 'directory', directory: source.directory };
}

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

function readImageFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw new UsageError(`${file} does not exist.`);
    if (code === 'EISDIR') throw new UsageError(`${file} is a directory, not an image file.`);
    if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`${file} cannot be read (permission denied).`);
    throw new UsageError(`${file} cannot be read${typeof code === 'string' ? ` (${code})` : ''}.`);
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
    job = parseCommandLine(argv);
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
