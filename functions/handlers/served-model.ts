import type { ClipModelInfo, EmbedRequest, EmbedResult, ModelDescription } from '../clip/types';

/**
 * What the function's adapters need of a model, and nothing more: ClipModel is one, and a
 * wrapper around one (a test's stand-in for a failing GPU) is a few lines.
 */
export interface ServedModel {
  readonly info: ClipModelInfo;
  /** What a caller needs to prepare inputs and read vectors: the describe answer. */
  describe(): ModelDescription;
  /** One result per input, in order; rejects only when the whole call failed (DeviceError: the device is gone). */
  embed(request: EmbedRequest): Promise<EmbedResult[]>;
  /** Frees the sessions; the model is not used afterwards. */
  release(): Promise<void>;
}
