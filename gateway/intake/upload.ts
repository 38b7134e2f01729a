import { addAbortSignal, Readable } from 'node:stream';

import { ErrorCode, GatewayError } from '../common/errors';

/**
 * A file of a GraphQL multipart request, as graphql-upload hands it over (its FileUpload): what the
 * intake reads of it. The file is spooled to a temporary file on disk as it arrives, never to memory.
 */
export interface UploadedFile {
  filename: string;
  /** As the client says; the decoder decides what the bytes are. */
  mimetype: string;
  /** A new stream of the file's bytes as they arrive; throws once the file was refused or the request is gone. */
  createReadStream(): Readable;
}

/**
 * An upload as a resolver receives it: the `Upload` scalar's value, the promise of the file, which
 * settles once the file's part begins to arrive (or rejects, when the request ends without it). One
 * file mapped to several places of the operation is one and the same promise in each.
 */
export type UploadValue = Promise<UploadedFile>;

/** The status graphql-upload's http-errors carry (413: over its maxFileSize; 499: the request was cut). */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** The limit an upload is held to: its bytes, and the variable that sets them. */
export interface UploadLimit {
  maxBytes: number;
  variable: string;
}

function tooLarge({ maxBytes, variable }: UploadLimit): GatewayError {
  return new GatewayError(ErrorCode.INPUT_TOO_LARGE, `The uploaded file is over the limit of ${maxBytes} bytes (${variable}).`);
}

/** Any failure to read an upload, as the client should read it. */
function uploadError(error: unknown, limit: UploadLimit): GatewayError {
  if (error instanceof GatewayError) return error;
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  // graphql-upload's own limit (see gateway/uploads.ts): the same refusal as the count's below.
  if (status === 413) return tooLarge(limit);
  if (status === 499)
    return new GatewayError(ErrorCode.CLIENT_CLOSED_REQUEST, 'The client closed the request while the file was uploading.', {
      cause: error,
    });
  if (status === 400 && /^File missing/.test(message))
    return new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      "The request's map names a file for this input that is not among the request's parts.",
      { cause: error },
    );
  // A body cut short or malformed (busboy's "Unexpected end of form"): the client's to fix.
  return new GatewayError(ErrorCode.BAD_USER_INPUT, `The uploaded file could not be read: ${message}`, { cause: error });
}

/** The promise, or the signal's reason as soon as it is aborted. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The bytes of an uploaded file, read as they arrive and counted: refused with INPUT_TOO_LARGE the
 * moment the count passes `maxBytes` (what was read is dropped, the rest is never read), so no more
 * than `maxBytes` of one file is ever held. `signal`: the client has gone; reading stops at once.
 */
export async function readUpload(upload: UploadValue, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  const { stream } = await streamUpload(upload, { maxBytes, variable: 'IMAGE_MAX_BYTES' }, signal);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    received += chunk.byteLength;
    chunks.push(chunk);
  }
  if (received === 0) throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'The uploaded file is empty.');
  const bytes = Buffer.concat(chunks, received);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * An uploaded file read as a stream of its bytes as they arrive (readUpload holds them; an import
 * reads a file too large to hold as it comes): its name, and a stream that fails with a GatewayError
 * saying what is wrong (INPUT_TOO_LARGE naming `variable`
 * the moment the count passes `maxBytes`, the rest never read; the client gone; the body cut short).
 */
export async function streamUpload(
  upload: UploadValue | UploadedFile,
  limit: UploadLimit,
  signal?: AbortSignal,
): Promise<{ filename: string; stream: Readable }> {
  let file: UploadedFile;
  let source: Readable;
  try {
    file = await untilAborted(Promise.resolve(upload), signal);
    source = file.createReadStream();
  } catch (error) {
    throw signal?.aborted ? signal.reason : uploadError(error, limit);
  }
  if (signal) addAbortSignal(signal, source);
  async function* counted(): AsyncGenerator<Buffer> {
    let received = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        received += chunk.byteLength;
        if (received > limit.maxBytes) throw tooLarge(limit);
        yield chunk;
      }
    } catch (error) {
      throw signal?.aborted ? signal.reason : uploadError(error, limit);
    } finally {
      source.destroy();
    }
  }
  return { filename: file.filename, stream: Readable.from(counted(), { objectMode: false }) };
}
