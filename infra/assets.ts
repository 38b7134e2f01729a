// Where the Docker images are built from: the repository root is the build context of both images
// (they share package.json, the lockfile and functions/), and each image admits only what it
// needs, so that an edit to the gateway does not rebuild the CLIP image and the other way round.
// At synth time CDK only hashes and copies the context into cdk.out (no docker build happens), so
// the excludes also keep synth fast: node_modules alone is hundreds of megabytes.
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';

import { readModelDirectory, type ModelDtype } from '../functions/clip';
import { BUNDLED_MODEL_PATH } from '../functions/models';

/** The repository root: the nearest directory above this file with a package.json (the same from infra/ and dist/infra/). */
export function findRepoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`No package.json above ${from}: cannot find the repository root.`);
  }
}

export const REPO_ROOT = findRepoRoot();

/** The bundled tiny CLIP: a real CLIP in miniature that knows only coloured shapes; enough to smoke-test a deployment. */
export const DEFAULT_MODEL_DIR = BUNDLED_MODEL_PATH.split(sep).join(posix.sep);

/**
 * Each image's context is an allow-list: everything at the root is excluded (`*`), then what the
 * image needs is let back in with Docker's `!` exceptions. New folders (benchmarks, generated
 * models, notes) stay out of the images and out of the synth-time hash without anyone listing them.
 */
const BUILD_FILES = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json'];

/** Never inside an image, wherever they are, even in a folder let back in (Docker's last matching pattern wins). */
const NEVER = ['**/node_modules', '**/.git', '**/__pycache__', '**/*.log', '**/.DS_Store'];

function allowOnly(paths: string[]): string[] {
  return ['*', ...paths.map((path) => `!${path}`), ...NEVER];
}

/**
 * Excludes for the gateway image: its sources and the CLIP core's, and the product taxonomies that
 * TREE facets and attribute facets read at run time; no model, tests or infra (in Lambda mode CLIP
 * runs in the function).
 */
export function gatewayImageExcludes(): string[] {
  return [
    ...allowOnly([...BUILD_FILES, 'gateway', 'functions', 'scripts/build-pages.js', 'taxonomies']),
    'functions/Dockerfile',
    'functions/Dockerfile.cuda',
  ];
}

/**
 * Excludes for the CLIP function image: the function's sources, the model puller (the Dockerfile can
 * fetch a hub model with it) and the one model directory it bakes in.
 */
export function functionImageExcludes(modelDir: string): string[] {
  return allowOnly([...BUILD_FILES, 'functions', 'tools/model.ts', modelDir]);
}

/**
 * Excludes for the CUDA image (functions/Dockerfile.cuda): the function image's, plus the GPU
 * check and the bundled tiny CLIP it compares the GPU with the CPU on, so that a GPU host can run
 * the check on the very image it serves.
 */
export function cudaImageExcludes(modelDir: string): string[] {
  return allowOnly([...BUILD_FILES, 'functions', 'tools/model.ts', 'tools/gpu-check.ts', 'tools/gpu-check', DEFAULT_MODEL_DIR, modelDir]);
}

/**
 * Checks a model directory given relative to the repository root and returns it in the form
 * Docker's COPY wants (POSIX separators, no trailing slash). It must be inside the build context,
 * and it must hold a CLIP export with the weights for `dtype`: the same check the function makes
 * when it loads, done at synth time so that a typo fails `cdk synth` rather than the first invocation.
 */
export function checkModelDir(modelDir: string, dtype: ModelDtype, root: string = REPO_ROOT): string {
  if (modelDir.trim() === '' || isAbsolute(modelDir)) {
    throw new Error(`modelDir must be a path relative to the repository root (${root}), got ${JSON.stringify(modelDir)}.`);
  }
  const absolute = resolve(root, modelDir);
  const inside = relative(root, absolute);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new Error(`modelDir must be a directory inside the repository (the Docker build context), got ${JSON.stringify(modelDir)}.`);
  }
  const normalized = inside.split(sep).join(posix.sep);
  if (normalized.split('/').some((part) => ['node_modules', '.git', 'dist', 'cdk.out'].includes(part))) {
    throw new Error(
      `modelDir ${JSON.stringify(modelDir)} is inside a directory that is never sent to Docker; move the model, e.g. to models/.`,
    );
  }
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new Error(`modelDir ${JSON.stringify(modelDir)} is not a directory under ${root}.`);
  }
  try {
    readModelDirectory(absolute, dtype);
  } catch (error) {
    throw new Error(`modelDir ${JSON.stringify(modelDir)} with dtype ${dtype}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return normalized;
}
