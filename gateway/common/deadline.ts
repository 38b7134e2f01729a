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

export interface RequestDeadline {
  /** Aborts when the client goes (`parent`) or the deadline passes (with the reason `expired` made). */
  signal: AbortSignal;
  /** Ms since the epoch. */
  deadline: number;
  timeoutMs: number;
  /** Stops the timer: call when the request is answered. */
  dispose(): void;
}

/**
 * A signal that aborts `timeoutMs` from now, or with `parent`, whichever comes first. `expired`
 * makes the reason it aborts with at the deadline: the error every input still waiting fails with
 * (the host's names the header a client may set).
 */
export function withDeadline(parent: AbortSignal | undefined, timeoutMs: number, expired: () => unknown): RequestDeadline {
  const expiry = new AbortController();
  const timer = setTimeout(() => expiry.abort(expired()), timeoutMs);
  // A request's timer must never keep a stopping process alive.
  timer.unref();
  const signal = parent ? AbortSignal.any([parent, expiry.signal]) : expiry.signal;
  const deadline = Date.now() + timeoutMs;
  deadlines.set(signal, deadline);
  return { signal, deadline, timeoutMs, dispose: () => clearTimeout(timer) };
}
