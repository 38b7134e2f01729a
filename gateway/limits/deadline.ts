import { ErrorCode, GatewayError } from '../common/errors';

/** The header in which a client asks for a shorter deadline than the gateway's, in whole milliseconds. */
export const TIMEOUT_HEADER = 'x-request-timeout-ms';

/**
 * Deadlines by the signal that carries them. Every function that does work for a request already
 * takes its AbortSignal (image fetches, the embedding service, the catalogue), so the deadline
 * travels with it instead of as a second argument through each of them; only the embedding
 * service reads it back, to give remote calls the time that is left.
 */
const deadlines = new WeakMap<AbortSignal, number>();

/** When work for this signal must be done (ms since the epoch), if it carries a deadline. */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  return signal ? deadlines.get(signal) : undefined;
}

/** The error a request's inputs fail with once its deadline has passed. */
export function deadlineExceeded(timeoutMs: number): GatewayError {
  return new GatewayError(
    ErrorCode.DEADLINE_EXCEEDED,
    `The request's deadline of ${timeoutMs} ms passed before this was done; send it again, or allow more time with the ${TIMEOUT_HEADER} header (up to the gateway's REQUEST_TIMEOUT_MS).`,
  );
}

export interface RequestDeadline {
  /** Aborts when the client goes (`parent`) or the deadline passes (reason: DEADLINE_EXCEEDED). */
  signal: AbortSignal;
  /** Ms since the epoch. */
  deadline: number;
  timeoutMs: number;
  /** Stops the timer: call when the request is answered. */
  dispose(): void;
}

/** A signal that aborts `timeoutMs` from now, or with `parent`, whichever comes first. */
export function withDeadline(parent: AbortSignal | undefined, timeoutMs: number): RequestDeadline {
  const expiry = new AbortController();
  const timer = setTimeout(() => expiry.abort(deadlineExceeded(timeoutMs)), timeoutMs);
  // A request's timer must never keep a stopping process alive.
  timer.unref();
  const signal = parent ? AbortSignal.any([parent, expiry.signal]) : expiry.signal;
  const deadline = Date.now() + timeoutMs;
  deadlines.set(signal, deadline);
  return { signal, deadline, timeoutMs, dispose: () => clearTimeout(timer) };
}

/**
 * The deadline a request gets: the gateway's own, or the client's when it asks for less. A value
 * that is not a whole number of milliseconds from 1 up is refused, naming the header; one above
 * the gateway's own is capped to it (a client cannot hold the gateway's resources longer).
 */
export function requestTimeoutMs(
  header: string | string[] | undefined,
  defaultMs: number,
): { ok: true; ms: number } | { ok: false; message: string } {
  if (header === undefined) return { ok: true, ms: defaultMs };
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < 1) {
    return {
      ok: false,
      message: `The ${TIMEOUT_HEADER} header is ${JSON.stringify(raw.slice(0, 40))}; it must be a whole number of milliseconds from 1 to ${defaultMs}.`,
    };
  }
  return { ok: true, ms: Math.min(Number(raw), defaultMs) };
}
