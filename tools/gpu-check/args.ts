import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { MODEL_DTYPE, MODEL_DTYPES, type ModelDtype } from '../../functions/clip';
import { DEFAULT_REVISION, hubSettingsFromEnv, modelSourceFromEnv, repoId, revisionName, type HubModel } from '../../functions/hub';
import { bundledModelDir } from '../../functions/models';
import { check, integer, listOf, positiveInt } from '../../functions/options';

export const USAGE = `Usage: npm run gpu:check -- [options]

Checks that ONNX Runtime's CUDA execution provider really runs CLIP on this machine (it fails,
saying why, unless the model's compute-heavy nodes run on CUDA), compares its embeddings with
the CPU's (cosine ≥ 0.9999 on every bundled image and on texts), and reports images/s and GPU
memory by batch size.

Options:
  --model DIR|REPO     a model directory, or a Hugging Face repo id such as Xenova/clip-vit-base-patch32
                       (default: $CLIP_MODEL_DIR, else $CLIP_MODEL, else the bundled tiny CLIP)
  --model-dir DIR      a model directory
  --revision REV       branch, tag or commit of the repo (default main)
  --dtype DTYPE        ${MODEL_DTYPES.join(' | ')} (default fp32)
  --batch-sizes LIST   batch sizes to measure (default 1,8,16,32,64)
  --rounds N           timed runs per batch size (default 10)
  --cuda-libs installed|npm
                       where the CUDA provider's libraries come from: the installed onnxruntime-node
                       (its install script fetches them from NuGet with --onnxruntime-node-install=cuda12;
                       default), or npm: onnxruntime-node@1.29.0 and the npm package
                       com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9, installed apart from the project
                       (about 1.1 GB; its CUDA provider links CUDA 13: libcublasLt.so.13, libcudart.so.13)
  --cuda-libs-dir DIR  where --cuda-libs npm installs them (default ~/.cache/clip-gateway/cuda-libs-npm)
  --allow-cpu          when CUDA is not active, run the comparison and the measurements on the CPU
                       instead of failing (to try the check on a machine without a GPU; no GPU result)
`;

/** A mistake on the command line: one line on stderr and the usage, exit code 2. */
export class UsageError extends Error {}

export type CudaLibs = 'installed' | 'npm';

/** Where the model comes from: a directory, or a hub repo (looked up in the cache, or downloaded into it). */
export type CheckModel = { kind: 'directory'; directory: string } | { kind: 'hub'; hub: HubModel };

export interface CheckOptions {
  model: CheckModel;
  dtype: ModelDtype;
  batchSizes: number[];
  rounds: number;
  cudaLibs: CudaLibs;
  cudaLibsDir: string;
  allowCpu: boolean;
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

const usage = (message: string) => new UsageError(`${message}.`);

/** Every option checked before anything loads; undefined for --help. */
export function parseCheckArgs(argv: string[]): CheckOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'model-dir': { type: 'string' },
        revision: { type: 'string' },
        dtype: { type: 'string', default: 'fp32' },
        'batch-sizes': { type: 'string', default: '1,8,16,32,64' },
        rounds: { type: 'string', default: '10' },
        'cuda-libs': { type: 'string', default: 'installed' },
        'cuda-libs-dir': { type: 'string' },
        'allow-cpu': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // Node's own sentences: "Unknown option '--modle'. ...".
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return undefined;
  const cudaLibs = values['cuda-libs'];
  if (cudaLibs !== 'installed' && cudaLibs !== 'npm') throw usage(`--cuda-libs must be installed or npm, got ${JSON.stringify(cudaLibs)}`);
  if (values['cuda-libs-dir'] !== undefined && cudaLibs !== 'npm') throw usage('--cuda-libs-dir goes with --cuda-libs npm');
  const sizes = listOf(positiveInt, 'a comma-separated list of positive integers');
  const batchSizes = sizes.parse(values['batch-sizes']);
  if (!sizes.accepts(batchSizes) || batchSizes.length === 0) {
    throw usage(`--batch-sizes must be ${sizes.expected}, got ${JSON.stringify(values['batch-sizes'])}`);
  }
  return {
    model: modelFrom(values.model, values['model-dir'], values.revision),
    dtype: check('--dtype', values.dtype, MODEL_DTYPE, usage),
    batchSizes,
    rounds: check('--rounds', Number(values.rounds), integer(1, 10_000), usage),
    cudaLibs,
    cudaLibsDir: values['cuda-libs-dir'] ?? join(homedir(), '.cache', 'clip-gateway', 'cuda-libs-npm'),
    allowCpu: values['allow-cpu'],
  };
}

/** --model-dir, else --model (a directory if there is one by that name, else a repo id), else the environment, else the bundled tiny CLIP. */
function modelFrom(model: string | undefined, modelDir: string | undefined, revisionOption: string | undefined): CheckModel {
  const revision = revisionOption === undefined ? undefined : check('--revision', revisionOption, revisionName, usage);
  const hub = (repo: string): CheckModel => {
    try {
      return { kind: 'hub', hub: { repo, revision: revision ?? DEFAULT_REVISION, ...hubSettingsFromEnv(process.env) } };
    } catch (error) {
      throw usage((error as Error).message);
    }
  };
  if (modelDir !== undefined && model !== undefined) throw usage('--model and --model-dir name two models; give one');
  const directory = modelDir ?? (model !== undefined && isDirectory(model) ? model : undefined);
  if (directory !== undefined) {
    if (!isDirectory(directory)) throw usage(`the model directory ${directory} (--model-dir) does not exist or is not a directory`);
    if (revision !== undefined) throw usage(`--revision is for a Hugging Face repo; ${directory} is a directory`);
    return { kind: 'directory', directory };
  }
  if (model !== undefined) {
    if (repoId.accepts(model) && !model.startsWith('.')) return hub(model);
    throw usage(`the model directory ${model} (--model) does not exist or is not a directory`);
  }
  let source;
  try {
    source = modelSourceFromEnv(process.env);
  } catch (error) {
    throw usage((error as Error).message);
  }
  if (source.kind === 'hub') return { kind: 'hub', hub: revision === undefined ? source.hub : { ...source.hub, revision } };
  if (revision !== undefined) throw usage('--revision needs a Hugging Face repo, from --model or CLIP_MODEL');
  return { kind: 'directory', directory: source.kind === 'bundled' ? bundledModelDir() : source.directory };
}
