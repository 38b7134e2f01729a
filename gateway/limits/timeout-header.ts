import { withDeadline, type RequestDeadline } from '../common/deadline';
import { ErrorCode, GatewayError } from '../common/errors';

/** The header in which a client asks for a shorter deadline than the gateway's, in whole milliseconds. */
export const TIMEOUT_HEADER = 'x-request-timeout-ms';

/** The error a request's inputs fail with once its deadline has passed. */
export function deadlineExceeded(timeoutMs: number): GatewayError {
  return new GatewayError(
    ErrorCode.DEADLINE_EXCEEDED,
    `The request's deadline of ${timeoutMs} ms passed before this was done; send it again, or allow more time with the ${TIMEOUT_HEADER} header (up to the gateway's REQUEST_TIMEOUT_MS).`,
  );
}

/** A request's deadline `timeoutMs` from now (see common/deadline.ts), expiring with DEADLINE_EXCEEDED. */
export function requestDeadline(parent: AbortSignal | undefined, timeoutMs: number): RequestDeadline {
  return withDeadline(parent, timeoutMs, () => deadlineExceeded(timeoutMs));
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
