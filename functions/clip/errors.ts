/**
 * Error codes shared by the CLIP core, the wire protocol and the gateway. The gateway puts them in
 * GraphQL's `extensions.code`, so they are part of the public contract: add, never rename.
 */
export enum ClipErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  INPUT_TOO_LARGE = 'INPUT_TOO_LARGE',
  UNSUPPORTED_IMAGE_FORMAT = 'UNSUPPORTED_IMAGE_FORMAT',
  IMAGE_DECODE_FAILED = 'IMAGE_DECODE_FAILED',
  INFERENCE_FAILED = 'INFERENCE_FAILED',
}

/**
 * An error its catcher tells apart by `code`, not by parsing the message: the CLIP core's input
 * errors, the catalogue store's failures. Each kind gives its own `name`, so that a log line says
 * which it is; `cause` keeps the underlying error for logs.
 */
export abstract class CodedError<Code extends string> extends Error {
  abstract override readonly name: string;

  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A problem with one input: it fails that input alone. The message is a full sentence meant for
 * the caller and never contains paths or internals.
 */
export class ClipInputError extends CodedError<ClipErrorCode> {
  override readonly name = 'ClipInputError';
}

/** A model directory that cannot be used: names the file and what was expected of it. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

/**
 * The execution device failed in a way this process cannot recover from (a CUDA illegal address,
 * a lost device): every later run would fail too. The function answers /ping with 503 and exits,
 * so that the platform replaces the worker; a host embedding the model decides for itself.
 */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
}
