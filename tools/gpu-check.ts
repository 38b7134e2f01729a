#!/usr/bin/env node
// npm run gpu:check: the one command a GPU machine runs after installing the CUDA binaries. It
// fails unless ONNX Runtime's CUDA execution provider really runs CLIP, compares the embeddings
// with the CPU's, and reports images/s and GPU memory by batch size. The report goes to stdout;
// the model's log lines, npm's output and the reason for a failure go to stderr.
import { dirname } from 'node:path';

import type { ModelDtype } from '../functions/clip';
import { describeGpu, probeGpu } from '../functions/clip/gpu-info';
import type { ClipModel } from '../functions/clip/model';
import { describePlacement, placementProblem } from '../functions/clip/placement';
import { consoleProgress, resolveModel } from '../functions/hub';
import { parseCheckArgs, USAGE, UsageError, type CheckModel, type CheckOptions } from './gpu-check/args';
import { bundledImages, CHECK_TEXTS, compareWithCpu, MIN_COSINE, summarise } from './gpu-check/compare';
import { cudaLibsLabel, installNpmCudaLibs } from './gpu-check/cuda-libs';
import { useOnnxRuntimeFrom } from './gpu-check/onnxruntime-from';
import { sweep, sweepTable } from './gpu-check/sweep';

/** The check did its work and the answer is no: the sentence says why; exit code 1. */
class CheckFailed extends Error {}

const say = (line = '') => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`gpu-check: ${line}\n`);
const field = (name: string, value: string) => say(`  ${name.padEnd(20)}${value}`);

async function modelDirectory(model: CheckModel, dtype: ModelDtype): Promise<string> {
  if (model.kind === 'directory') return model.directory;
  return (await resolveModel({ ...model.hub, dtype, log: note, progress: consoleProgress({ log: note }) })).directory;
}

async function check(options: CheckOptions): Promise<void> {
  let libraries = cudaLibsLabel('installed');
  if (options.cudaLibs === 'npm') {
    useOnnxRuntimeFrom(await installNpmCudaLibs(options.cudaLibsDir, note));
    libraries = cudaLibsLabel('npm', options.cudaLibsDir);
  }
  // Loaded only now, so that the npm path's onnxruntime-node is the one they get.
  const provider = require('../functions/clip/cuda-provider') as typeof import('../functions/clip/cuda-provider');
  const { ClipModel } = require('../functions/clip/model') as typeof import('../functions/clip/model');
  const { ModelLoadError } = require('../functions/clip') as typeof import('../functions/clip');

  say('GPU check');
  field('ONNX Runtime', `${provider.onnxRuntimeVersion()} (onnxruntime-node in ${dirname(dirname(require.resolve('onnxruntime-node')))})`);
  field('CUDA libraries', libraries);
  const absence = provider.cudaProviderAbsence();
  if (absence !== undefined) {
    field('CUDA provider', absence);
  } else {
    const missing = await provider.missingLibraries(provider.cudaProviderLibrary());
    const linked =
      missing === undefined
        ? ''
        : missing.length > 0
          ? `; the dynamic linker cannot find ${missing.join(', ')}`
          : '; the libraries it needs are found';
    field('CUDA provider', `${provider.cudaProviderLibrary()}${linked}`);
  }
  const gpu = await probeGpu();
  field('GPU', describeGpu(gpu));

  const directory = await modelDirectory(options.model, options.dtype);
  const modelLines: string[] = [];
  let checked: ClipModel;
  try {
    checked = await ClipModel.load(directory, {
      device: 'cuda',
      requireGpu: !options.allowCpu,
      dtype: options.dtype,
      maxRunBatch: Math.max(...options.batchSizes),
      log: (line) => {
        modelLines.push(line);
        note(line);
      },
    });
  } catch (error) {
    if (error instanceof ModelLoadError) throw new CheckFailed(`the CUDA execution provider is not active: ${error.message}`);
    throw error;
  }
  const cpu = await ClipModel.load(directory, { device: 'cpu', dtype: options.dtype, log: () => {} });
  try {
    field('Model', `${checked.info.name} (${checked.info.dtype}) from ${directory}`);
    const report = checked.deviceReport;
    const towers = (['text', 'vision'] as const).map((tower) => [tower, report.placement[tower]] as const);
    const onGpu =
      report.provider === 'cuda' && towers.every(([, placement]) => placement !== undefined && placementProblem(placement) === undefined);
    field(
      'Execution provider',
      onGpu
        ? `CUDA (${towers.map(([tower, placement]) => `${tower}: ${describePlacement(placement!)}`).join(', ')})`
        : `${report.provider === 'cuda' ? 'CUDA in part' : 'CPU'} (--allow-cpu: CUDA does not run this model here, so this is no GPU result)`,
    );
    field('Warm-up', `${Math.round(report.warmupMs)} ms (load and self-check)`);

    say();
    say(`Embeddings against the CPU (the same model on both providers, cosine ≥ ${MIN_COSINE})`);
    const agreement = await compareWithCpu(checked, cpu, bundledImages(), CHECK_TEXTS);
    const images = summarise('images', agreement.images);
    const texts = summarise('texts', agreement.texts);
    say(`  ${images.line}`);
    say(`  ${texts.line}`);
    const disagreements = [...images.failures, ...texts.failures];
    disagreements.forEach((failure) => say(`    ${failure}`));

    say();
    say(`Throughput by batch size (${options.rounds} timed runs each, crops through embedCrops after one untimed run)`);
    const crops = await Promise.all(bundledImages().map(async (image) => (await checked.cropImage(image.bytes)).data));
    const rows = await sweep(checked, crops, {
      batchSizes: options.batchSizes,
      rounds: options.rounds,
      nvidiaSmi: 'nvidia-smi',
      modelLines,
    });
    sweepTable(rows).forEach((line) => say(line));

    say();
    if (disagreements.length > 0) {
      throw new CheckFailed(
        `${disagreements.length} embeddings differ from the CPU's (cosine below ${MIN_COSINE}): ${disagreements.join('; ')}.`,
      );
    }
    say(
      onGpu
        ? `Result: PASSED: the CUDA execution provider runs ${checked.info.name} on ${gpu.found ? gpu.name : 'the GPU'} and agrees with the CPU.`
        : 'Result: PASSED on the CPU only (--allow-cpu): the check itself works here, but it says nothing about a GPU.',
    );
  } finally {
    await Promise.all([checked.release(), cpu.release()]);
  }
}

async function main(argv: string[]): Promise<number> {
  let options: CheckOptions | undefined;
  try {
    options = parseCheckArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`gpu-check: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    await check(options);
    return 0;
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
    say('Result: FAILED (the reason is on stderr).');
    note(`FAILED: ${error.message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    note(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
