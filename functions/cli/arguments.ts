// clip-cli's command line: its usage, and argv turned into a checked job, or a UsageError that
// says what is wrong. Everything that can be refused is refused here, images read included, so
// that no mistake waits for the model to load; cli.ts runs the job.
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';

import {
  classifierInputProblem,
  DEFAULT_TEMPLATES,
  EXECUTION_DEVICE,
  MODEL_DTYPE,
  MODEL_DTYPES,
  type ExecutionDevice,
  type ModelDtype,
} from '../clip';
import type { ItemNamer } from '../clip/classify';
import { DEFAULT_REVISION, hubSettingsFromEnv, modelSourceFromEnv, repoId, revisionName, type HubModel } from '../hub';
import { bundledModelDir } from '../models';
import { check, type Env } from '../options';

export const USAGE = `Usage:
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
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

/** Where the model comes from; `guessed` when --model was no directory here and so was taken for a repo id. */
export type CliModel = { kind: 'directory'; directory: string } | { kind: 'hub'; hub: HubModel; guessed?: string };

/** What to run, every argument checked and every image read, so that no mistake waits for the model to load. */
export type Job =
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

/**
 * The job `argv` (the arguments after the script) asks for, with the model taken from `env` when
 * --model is not given; throws a UsageError for the first mistake, in the order a user meets them:
 * the options, the command, its arguments, the model, then each image file.
 */
export function parseCommandLine(argv: string[], env: Env): Job {
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
    model: modelFrom(values.model, values.revision, env),
    dtype,
    device,
    images: files.map((file) => ({ file, bytes: readImageFile(file) })),
    labels: values.label,
    templates: values.template,
    texts: values.text,
  };
}

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
function modelFrom(option: string | undefined, revisionOption: string | undefined, env: Env): CliModel {
  const revision =
    revisionOption === undefined ? undefined : check('--revision', revisionOption, revisionName, (m) => new UsageError(`${m}.`));
  const hub = (repo: string): HubModel => {
    try {
      const settings = hubSettingsFromEnv(env);
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
    source = modelSourceFromEnv(env);
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
