/**
 * How a failed call to a remote CLIP function is described and treated: its public code and
 * sentence, whether to retry it and whether it counts against the function's health; shared by
 * every transport (Lambda, HTTP, SageMaker) and the backend that retries them.
 */
import { ErrorCode } from '../common/errors';

/** How one failed call is treated: whether to retry it, and whether it says the function is unwell. */
export interface CallFailure {
  code: ErrorCode;
  /** For clients: a full sentence, no internals. */
  message: string;
  /** Worth another attempt (throttling, 5xx, connection trouble), never for a timeout or bad input. */
  retry: boolean;
  /** Counts towards opening the circuit (the function or the service is failing). */
  unhealthy: boolean;
  /** For the log only. */
  detail?: string;
  /**
   * The function has no capacity at the moment (a GPU pool scaled to zero, copies still
   * starting): a state, not a failure. Never retried against it, never held against its health;
   * a tiered backend sends the work elsewhere meanwhile.
   */
  cold?: boolean;
}

export class CallError extends Error {
  constructor(readonly failure: CallFailure) {
    super(failure.message);
  }
}

/** Classifies a failed call by HTTP status, the same way for Lambda's API and the HTTP adapter. */
export function failureForStatus(status: number | undefined, what: string, detail?: string): CallFailure {
  const failure = (code: ErrorCode, message: string, retry: boolean, unhealthy: boolean): CallFailure => ({
    code,
    message,
    retry,
    unhealthy,
    detail,
  });
  if (status === 429) {
    return failure(ErrorCode.BACKEND_UNAVAILABLE, 'The CLIP function is throttled (too many requests); try again shortly.', true, false);
  }
  if (status === 413) return failure(ErrorCode.INPUT_TOO_LARGE, "The batch exceeds the CLIP function's payload limit.", false, false);
  if (status !== undefined && status >= 500) {
    return failure(ErrorCode.BACKEND_UNAVAILABLE, 'The CLIP function is unavailable; try again later.', true, true);
  }
  if (status !== undefined && status >= 400) {
    // The gateway's own configuration or protocol is wrong (no such function, no permission): retrying cannot help.
    return failure(ErrorCode.BACKEND_UNAVAILABLE, 'The CLIP function cannot be called; the gateway is misconfigured.', false, true);
  }
  return failure(ErrorCode.BACKEND_UNAVAILABLE, `The CLIP function could not be reached${what ? ` (${what})` : ''}.`, true, true);
}

/**
 * What went wrong with a connection, in words a user can act on ("connection refused"), from the
 * error a transport got: the AWS SDK's node HTTP handler rejects with Node's own socket error
 * (`code` ECONNREFUSED, ENOTFOUND, ...; ECONNRESET renamed TimeoutError), fetch (undici) with a
 * TypeError whose `cause` has the code, and a failed happy-eyeballs connect with an AggregateError
 * of one error per address. Undefined when no known code is found.
 */
export function connectionProblem(error: unknown): string | undefined {
  for (const code of errorCodes(error)) {
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA'].includes(code)) return 'host not found';
    if (['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code)) return 'connection reset';
    if (/^(ERR_SSL_|ERR_TLS_|EPROTO$)|CERT|UNABLE_TO_(GET|VERIFY)/.test(code)) return 'TLS failure';
    if (['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(code))
      return 'connection timed out';
    if (['EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN'].includes(code)) return 'network unreachable';
  }
  return undefined;
}

/**
 * The codes on an error, its causes and its aggregated errors, outermost first; then those in
 * their messages, as Node writes them ("connect ECONNREFUSED 127.0.0.1:9"), for wrappers that keep
 * only the text (the SDK's retry middleware wraps a thrown value that is not `instanceof Error`
 * in "AWS SDK error wrapper for Error: connect ECONNREFUSED ...", as happens across V8 realms).
 */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const texts: string[] = [];
  const visit = (e: unknown, depth: number) => {
    if (typeof e !== 'object' || e === null || depth > 4) return;
    const { code, message, cause, errors } = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') codes.push(code);
    if (typeof message === 'string') texts.push(message);
    visit(cause, depth + 1);
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return [...codes, ...texts.flatMap((text) => text.match(/\b(E[A-Z]{3,}|EAI_[A-Z]+|(UND_)?ERR_[A-Z_]+)\b/g) ?? [])];
}

/** An error in one line for the log, with its code and its causes ("TypeError: fetch failed; cause: Error: connect ..."). */
export function describeError(error: unknown, depth = 0): string {
  // Duck-typed, not instanceof Error: errors from another V8 realm are errors too.
  if (typeof error !== 'object' || error === null || typeof (error as Error).message !== 'string') return String(error);
  const { name, message, code, cause, errors } = error as {
    name?: unknown;
    message: string;
    code?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  let line = `${typeof name === 'string' ? name : 'Error'}${typeof code === 'string' && !message.includes(code) ? ` [${code}]` : ''}: ${message}`;
  if (depth < 4 && Array.isArray(errors) && errors.length > 0)
    line += ` (${errors.map((e: unknown) => describeError(e, depth + 1)).join('; ')})`;
  if (depth < 4 && cause !== undefined) line += `; cause: ${describeError(cause, depth + 1)}`;
  return line;
}

/** The requests' deadline passed before (or while) the call ran: neither retried nor held against the function. */
export function deadlineFailure(attempts: number): CallFailure {
  return {
    code: ErrorCode.DEADLINE_EXCEEDED,
    message: `The request's deadline passed before the CLIP function answered${attempts > 0 ? ` (after ${attempts} attempt${attempts > 1 ? 's' : ''})` : ''}.`,
    retry: false,
    unhealthy: false,
  };
}

export function timeoutFailure(timeoutMs: number): CallFailure {
  return {
    code: ErrorCode.BACKEND_TIMEOUT,
    message: `The CLIP function did not answer within ${timeoutMs} ms.`,
    retry: false,
    unhealthy: true,
  };
}

/** A function's answer as JSON; anything else is a malformed answer (not retried: it would repeat). */
export function parseAnswer(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new CallError({
      code: ErrorCode.INFERENCE_FAILED,
      message: 'The CLIP function returned a malformed answer.',
      retry: false,
      unhealthy: true,
      detail: body.slice(0, 200),
    });
  }
}

/** No capacity behind the function now (see CallFailure.cold); `detail` is the service's own words, for the log. */
export function coldFailure(detail: string): CallFailure {
  return {
    code: ErrorCode.BACKEND_UNAVAILABLE,
    message: 'The CLIP function has no capacity now: it has scaled to zero and is starting, which takes minutes; try again later.',
    retry: false,
    unhealthy: false,
    cold: true,
    detail,
  };
}

/** The caller withdrew the call (another tier answered first): nothing to report, nothing held against the function. */
export function withdrawnFailure(): CallFailure {
  return {
    code: ErrorCode.BACKEND_UNAVAILABLE,
    message: 'The call to the CLIP function was withdrawn.',
    retry: false,
    unhealthy: false,
  };
}

/** Whether an error (or its cause, as RemoteBackend.start wraps it) is a CallError saying the function is cold. */
export function isColdError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    if (e instanceof CallError) return e.failure.cold === true;
  }
  return false;
}
