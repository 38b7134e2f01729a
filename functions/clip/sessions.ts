import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { InferenceSession } from 'onnxruntime-node';

import { ModelLoadError } from './errors';
import type { ExecutionDevice } from './types';

export interface SessionOptions {
  /** Requested device. Default `cpu`. */
  device: ExecutionDevice;
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

/**
 * Creates one session for one model file. With `cuda`, a host without the CUDA provider (no GPU,
 * no CUDA libraries, an onnxruntime-node installed without them) gets a CPU session and a log line
 * saying so, rather than a failure: the same container image serves GPU and CPU capacity.
 */
export async function createSession(path: string, what: string, options: SessionOptions): Promise<LoadedSession> {
  if (options.device === 'cuda' && !cudaProviderInstalled()) {
    // Asking ONNX Runtime anyway would print its own red "Failed to load library" error for what
    // is the expected outcome on a host set up without CUDA.
    options.log(
      `${what}: the CUDA execution provider is not installed (install onnxruntime-node with --onnxruntime-node-install=cuda12); running on the CPU`,
    );
  } else if (options.device === 'cuda') {
    try {
      const session = await InferenceSession.create(path, { ...baseOptions(options), executionProviders: ['cuda', 'cpu'] });
      options.log(`${what}: running on the CUDA execution provider`);
      return { session, provider: 'cuda' };
    } catch (error) {
      options.log(`${what}: CUDA execution provider unavailable (${firstLine(error)}); running on the CPU`);
    }
  }
  try {
    const session = await InferenceSession.create(path, { ...baseOptions(options), executionProviders: ['cpu'] });
    if (options.device === 'cpu') options.log(`${what}: running on the CPU execution provider`);
    return { session, provider: 'cpu' };
  } catch (error) {
    throw new ModelLoadError(`${path} could not be loaded by ONNX Runtime: ${firstLine(error)}`, { cause: error });
  }
}

/** Whether onnxruntime-node was installed with its CUDA provider library (it downloads it only when asked). */
function cudaProviderInstalled(): boolean {
  const packageRoot = dirname(dirname(require.resolve('onnxruntime-node')));
  const library = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(packageRoot, 'bin', 'napi-v6', process.platform, process.arch, library));
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}
