import { GraphQLError, type GraphQLFormattedError } from 'graphql';

import { ClipErrorCode, ClipInputError } from '../../functions/clip';

/**
 * Codes in `extensions.code`: the CLIP core's, plus what only the gateway meets. Part of the public
 * contract: add, never rename.
 */
export const ErrorCode = {
  ...ClipErrorCode,
  IMAGE_FETCH_FAILED: 'IMAGE_FETCH_FAILED',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  BACKEND_TIMEOUT: 'BACKEND_TIMEOUT',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** The catalogue holds nothing by that id. */
  NOT_FOUND: 'NOT_FOUND',
  /** The catalogue's database could not be reached or was busy. */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** The catalogue's vectors are of another model than this gateway's, so they cannot be compared with its embeddings. */
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  /** No API key was sent, or one the gateway does not know (HTTP 401). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The key's scope (or, without keys, the client's address) does not allow the operation (HTTP 403). */
  FORBIDDEN: 'FORBIDDEN',
  /** The gateway has more work queued than it can finish in time: refused at once, to be retried after `Retry-After` (HTTP 503). */
  OVERLOADED: 'OVERLOADED',
  /** The client's key (or address) has used its share of inputs or writes for now: retry after `Retry-After` (HTTP 429). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The request's deadline (REQUEST_TIMEOUT_MS, or the client's x-request-timeout-ms) passed before this part was done. */
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  /** The client closed the connection before its answer: nobody sees it, but metrics and logs count it apart from failures. */
  CLIENT_CLOSED_REQUEST: 'CLIENT_CLOSED_REQUEST',
  /** The operation is deeper, wider or costlier than the gateway's query limits allow; refused before anything ran (HTTP 400). */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** The gateway runs only the operations of its persisted query list, and this is not one (HTTP 400). */
  QUERY_NOT_IN_SAFELIST: 'QUERY_NOT_IN_SAFELIST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error for a client: a code and a full sentence. Internals go in `cause`, for the log only. */
export class GatewayError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; extensions?: Record<string, unknown> } = {},
  ) {
    super(message, { extensions: { ...options.extensions, code } });
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** An error whose code came from elsewhere (a function's per-item failure, on the wire as a string). */
export function errorFromCode(code: string, message: string): GatewayError {
  const known = (Object.values(ErrorCode) as string[]).includes(code);
  return new GatewayError(known ? (code as ErrorCode) : ErrorCode.INTERNAL_SERVER_ERROR, message);
}

/** Something wrong with one input, named as the client wrote it (`images[2]`, `inputs[0].imageUrl`). */
export class InputError extends GatewayError {
  constructor(
    readonly input: string,
    code: ErrorCode,
    /** The sentence after the input's name: why it failed. */
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, `${input}: ${reason}`, options);
  }
}

/** Makes any failure of one input into that input's GraphQL error, keeping known codes and messages. */
export function toInputError(input: string, error: unknown): GatewayError {
  // Loaders share one result among all positions holding the same input, so the name is applied here.
  if (error instanceof InputError)
    return error.input === input ? error : new InputError(input, error.code, error.reason, { cause: error.cause });
  if (error instanceof GatewayError) return new InputError(input, error.code, error.message, { cause: error.cause });
  if (error instanceof ClipInputError) return new InputError(input, error.code, error.message, { cause: error });
  return new InputError(input, ErrorCode.INTERNAL_SERVER_ERROR, 'This input could not be processed because of an internal error.', {
    cause: error,
  });
}

/**
 * Apollo drops stack traces only when NODE_ENV is production or test, and never masks messages.
 * This keeps what a client can act on (code, message, path, locations) and nothing else,
 * whatever the environment: no stacks, no file paths, no dumps of the input.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, log: (error: unknown) => void): GraphQLFormattedError {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  let message: string;
  let code: string;
  let extra: Record<string, unknown> = {};
  if (original instanceof GatewayError) {
    ({ code, message } = original);
    // Our own extensions are written for clients; anything else attached to an error is not.
    // (`http` is for Apollo: the response's status and headers, not the client's to read.)
    const { http: _http, ...forClients } = original.extensions;
    extra = forClients;
    // The client's sentence is generic for these; the operator needs the cause (a full disk, a lock, a refused connection).
    if (code === ErrorCode.INTERNAL_SERVER_ERROR || code === ErrorCode.STORE_UNAVAILABLE) log(original.cause ?? original);
  } else if (original instanceof GraphQLError) {
    // Made by graphql-js or Apollo about the request itself (syntax, validation, variables).
    code = String(formatted.extensions?.code ?? ErrorCode.BAD_USER_INPUT);
    message = formatted.message;
  } else {
    log(original);
    code = ErrorCode.INTERNAL_SERVER_ERROR;
    message = 'Internal server error.';
  }
  return {
    message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { ...extra, code },
  };
}
