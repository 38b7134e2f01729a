import { oneOf } from '../options';
import type { ImagePreprocessSpec, ModelDtype } from './model-dir';

/** Where the model runs. `cuda` tries the CUDA execution provider and falls back to the CPU. */
export type ExecutionDevice = 'cpu' | 'cuda';
export const EXECUTION_DEVICE = oneOf<ExecutionDevice>(['cpu', 'cuda']);

/**
 * One batch of inputs of one kind: what the CLIP core runs, what the wire protocol carries and
 * what the gateway's backends and batcher pass along.
 */
export type EmbedRequest =
  | { kind: 'text'; items: string[] }
  /** uint8 RGB crops, cropHeight × cropWidth × 3 bytes each, as the gateway makes them. */
  | { kind: 'crops'; items: Uint8Array[] }
  /** Encoded JPEG/PNG/WebP images, for direct callers; the function decodes them. */
  | { kind: 'images'; items: Uint8Array[] };

export type EmbedRequestKind = EmbedRequest['kind'];
export type EmbedRequestItem = EmbedRequest['items'][number];

/**
 * One result per input, in input order: a unit-length vector, or the failure of that input alone.
 * `code` is one of the public error codes (ClipErrorCode, or the gateway's for failures of a call);
 * `message` is a full sentence for the caller.
 */
export type EmbedResult = { ok: true; vector: Float32Array } | { ok: false; code: string; message: string };

export function failure(code: string, message: string): EmbedResult {
  return { ok: false, code, message };
}

/** The same kind of request with other items (a part of a batch). */
export function withItems(request: EmbedRequest, items: EmbedRequestItem[]): EmbedRequest {
  return { kind: request.kind, items } as EmbedRequest;
}

/** What the model is, for clients and logs. */
export interface ClipModelInfo {
  name: string;
  dim: number;
  /** Side of the (square, for CLIP) crop the image tower sees, in pixels. */
  imageSize: number;
  cropWidth: number;
  cropHeight: number;
  contextLength: number;
  logitScale: number;
  dtype: ModelDtype;
  /** The execution provider that actually runs the image tower. */
  device: ExecutionDevice;
}

/** What a caller needs to prepare inputs for a model and to interpret its vectors. */
export interface ModelDescription {
  info: ClipModelInfo;
  preprocess: ImagePreprocessSpec;
}
