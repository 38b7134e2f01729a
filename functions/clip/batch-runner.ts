import { classifyRunFailure, failureSummary } from './device-errors';
import { ClipErrorCode, DeviceError } from './errors';
import { failure, type EmbedResult } from './types';

export interface BatchRunOptions {
  /** Most inputs in one run. */
  maxBatch: number;
  /** What runs ("vision model"), for log lines and errors. */
  what: string;
  log: (line: string) => void;
}

/** What an input that ran out of device memory by itself gets in its slot. */
export const ALONE_OUT_OF_MEMORY =
  'The device ran out of memory embedding this input even on its own; retry later, when the worker is less busy.';

/**
 * Runs every input whose slot is still empty, in batches of at most maxBatch, and fills the slots
 * in order with `toResult` of each vector.
 *
 * When a run runs out of device memory, its batch is halved and retried, and the rest of the call
 * keeps the smaller size (the next call starts from maxBatch again: other processes' memory comes
 * and goes). An input that runs out of memory alone fails alone with INFERENCE_FAILED. A failure
 * that leaves the device unusable throws DeviceError; any other error propagates unchanged.
 */
export async function runInBatches<T>(
  slots: (EmbedResult | undefined)[],
  inputs: readonly T[],
  run: (batch: T[]) => Promise<Float32Array[]>,
  toResult: (vector: Float32Array) => EmbedResult,
  options: BatchRunOptions,
): Promise<void> {
  const pending = slots.flatMap((slot, i) => (slot === undefined ? [i] : []));
  let size = Math.min(options.maxBatch, pending.length);
  let start = 0;
  while (start < pending.length) {
    const indices = pending.slice(start, start + size);
    let vectors: Float32Array[];
    try {
      vectors = await run(indices.map((i) => inputs[i]));
    } catch (error) {
      const kind = classifyRunFailure(error);
      if (kind === 'device-lost') {
        throw new DeviceError(
          `The device running the ${options.what} failed on a batch of ${indices.length} and cannot recover in this process: ${failureSummary(error)}.`,
          { cause: error },
        );
      }
      if (kind !== 'out-of-memory') throw error;
      if (indices.length > 1) {
        size = Math.ceil(indices.length / 2);
        options.log(
          `${options.what}: out of device memory on a batch of ${indices.length} (${failureSummary(error)}); retrying in batches of ${size}`,
        );
        continue;
      }
      options.log(`${options.what}: out of device memory on one input alone (${failureSummary(error)}); that input fails`);
      slots[indices[0]] = failure(ClipErrorCode.INFERENCE_FAILED, ALONE_OUT_OF_MEMORY);
      start += 1;
      continue;
    }
    indices.forEach((inputIndex, k) => {
      slots[inputIndex] = toResult(vectors[k]);
    });
    start += indices.length;
  }
}
