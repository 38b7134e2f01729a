import type { HttpError } from '@zilliz/milvus2-sdk-node/dist/milvus/HttpClient';

/** How Milvus says a call failed: its answer's envelope, and the error this client throws for it. */

export type Envelope = { code?: number; message?: string; data?: unknown; topks?: number[] };

/** A failed Milvus call: the operation, and Milvus's code and message (or why it could not be reached). */
export class MilvusError extends Error {
  override readonly name = 'MilvusError';
  constructor(
    readonly operation: string,
    /** Milvus's code (merr: 100 collection not found, 1100 invalid parameter, 1800 not authenticated, ...); undefined when Milvus did not answer. */
    readonly milvusCode: number | undefined,
    readonly milvusMessage: string,
    /** The HTTP status when it was not 200. */
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(
      milvusCode === undefined
        ? `Milvus ${operation} failed: ${milvusMessage}`
        : `Milvus ${operation} failed: code ${milvusCode}: ${milvusMessage}${httpStatus !== undefined && httpStatus !== 200 ? ` (HTTP ${httpStatus})` : ''}`,
      options,
    );
  }
}

/** The envelope an HttpError's message ends with (`HTTP 401 Unauthorized: <url> - <body>`), if any. */
export function envelopeOf(error: HttpError): Envelope | undefined {
  const head = `HTTP ${error.status} ${error.statusText}: ${error.url} - `;
  if (!error.message.startsWith(head)) return undefined;
  try {
    const body = JSON.parse(error.message.slice(head.length)) as Envelope;
    return typeof body === 'object' && body !== null && typeof body.code === 'number' ? body : undefined;
  } catch {
    return undefined;
  }
}
