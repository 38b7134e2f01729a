import { rmSync } from 'node:fs';

import { InferenceSession } from 'onnxruntime-node';

import { cudaProviderAbsence, cudaProviderLibrary, missingLibraries } from './cuda-provider';
import { ModelLoadError } from './errors';
import { describePlacement, placementProblem, profilingFor, readPlacement, type Placement } from './placement';
import type { ExecutionDevice } from './types';

export interface SessionOptions {
  /** Requested device. Default `cpu`. */
  device: ExecutionDevice;
  /**
   * With device `cuda`: fail when the CUDA execution provider cannot run the model, instead of
   * falling back to the CPU. Default false.
   */
  requireGpu: boolean;
  /** Threads one session uses inside an operator; 0 lets ONNX Runtime choose (all cores). Default 0. */
  intraOpThreads: number;
  /**
   * Let ONNX Runtime's intra-op threads busy-wait between operators. Faster when the model has the
   * cores to itself; when other work shares them (a gateway decoding images next to inference) the
   * spinning threads steal its time. Default true (ONNX Runtime's own default).
   */
  spinning: boolean;
  /** Receives one line per session saying which execution provider runs it. Default: stderr. */
  log: (line: string) => void;
}

export interface LoadedSession {
  session: InferenceSession;
  /** The provider that actually runs this session. */
  provider: ExecutionDevice;
  /** For a session created on CUDA: where the profile of its first run goes, read by confirmPlacement. */
  profileDir?: string;
}

function baseOptions(options: SessionOptions): InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    // One request at a time per session: parallelism comes from batching and from worker threads.
    executionMode: 'sequential',
    ...(options.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
  };
}

const gpuRequired = (what: string, reason: string) => `${what}: a GPU is required (requireGpu, CLIP_REQUIRE_GPU=true) but ${reason}.`;

/**
 * Creates one session for one model file. With `cuda`, a host without the CUDA provider (no GPU,
 * no CUDA libraries, an onnxruntime-node installed without them) gets a CPU session and a log line
 * saying so, so that one container image serves GPU and CPU capacity; with requireGpu it fails
 * instead, naming why, so that GPU-priced capacity never quietly runs on its CPU.
 */
export async function createSession(path: string, what: string, options: SessionOptions): Promise<LoadedSession> {
  if (options.device === 'cuda') {
    const onCuda = await createCudaSession(path, what, options);
    if (onCuda) return onCuda;
  }
  try {
    const session = await InferenceSession.create(path, { ...baseOptions(options), executionProviders: ['cpu'] });
    if (options.device === 'cpu') options.log(`${what}: running on the CPU execution provider`);
    return { session, provider: 'cpu' };
  } catch (error) {
    throw new ModelLoadError(`${path} could not be loaded by ONNX Runtime: ${firstLine(error)}`, { cause: error });
  }
}

/** A session on ['cuda', 'cpu'] with its first run profiled, or undefined (logged) to fall back to the CPU. */
async function createCudaSession(path: string, what: string, options: SessionOptions): Promise<LoadedSession | undefined> {
  // Asking ONNX Runtime without the library would print its own red "Failed to load library"
  // error for what is the expected outcome on a host set up without CUDA.
  const absence = cudaProviderAbsence();
  if (absence !== undefined) {
    if (options.requireGpu) throw new ModelLoadError(gpuRequired(what, absence));
    options.log(`${what}: ${absence}; running on the CPU`);
    return undefined;
  }
  const profile = profilingFor(what);
  try {
    const session = await InferenceSession.create(path, {
      ...baseOptions(options),
      ...profile.options,
      executionProviders: ['cuda', 'cpu'],
    });
    return { session, provider: 'cuda', profileDir: profile.dir };
  } catch (error) {
    rmSync(profile.dir, { recursive: true, force: true });
    const reason = await cudaFailureReason(error);
    if (options.requireGpu) {
      throw new ModelLoadError(gpuRequired(what, `creating its session on the CUDA execution provider failed: ${reason}`), {
        cause: error,
      });
    }
    options.log(`${what}: CUDA execution provider unavailable (${reason}); running on the CPU`);
    return undefined;
  }
}

/**
 * Reads where a session created on CUDA ran its nodes in its first run (see placement.ts), logs
 * it, and fails with requireGpu when the compute-heavy nodes did not run on CUDA. A session whose
 * nodes all ran on the CPU is marked as a CPU session.
 */
export function confirmPlacement(loaded: LoadedSession, what: string, options: SessionOptions): Placement | undefined {
  if (loaded.profileDir === undefined) return undefined;
  let placement: Placement;
  try {
    placement = readPlacement(loaded.session, loaded.profileDir);
  } catch (error) {
    const reason = `where ONNX Runtime ran its nodes cannot be read from its profile (${firstLine(error)})`;
    if (options.requireGpu) throw new ModelLoadError(gpuRequired(what, reason), { cause: error });
    options.log(`${what}: created on the CUDA execution provider, but ${reason}`);
    return undefined;
  } finally {
    loaded.profileDir = undefined;
  }
  const problem = placementProblem(placement);
  if (problem !== undefined && options.requireGpu) throw new ModelLoadError(gpuRequired(what, problem));
  if (placement.onCuda === 0) loaded.provider = 'cpu';
  options.log(
    problem === undefined
      ? `${what}: running on the CUDA execution provider (${describePlacement(placement)})`
      : `${what}: the CUDA execution provider is loaded but ${problem}`,
  );
  return placement;
}

/** Releases a session that will not be used, with its profile directory if its first run never came. */
export async function discardSession(loaded: LoadedSession): Promise<void> {
  if (loaded.profileDir !== undefined) rmSync(loaded.profileDir, { recursive: true, force: true });
  await loaded.session.release();
}

/**
 * ONNX Runtime's first line, and, when it could not load the provider's library (its JavaScript
 * error says only "Failed to load shared library"), the libraries the linker cannot find.
 */
async function cudaFailureReason(error: unknown): Promise<string> {
  const line = firstLine(error);
  if (!/Failed to load (?:shared )?library/i.test(line)) return line;
  const missing = await missingLibraries(cudaProviderLibrary());
  return missing && missing.length > 0 ? `${line}; the dynamic linker cannot find ${missing.join(', ')}` : line;
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}
