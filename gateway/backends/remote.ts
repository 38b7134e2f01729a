import {
  failure,
  withItems,
  type EmbedRequest,
  type EmbedRequestItem,
  type EmbedResult,
  type ModelDescription,
} from '../../functions/clip';
import { check, integer, nonNegativeNumber, positiveInt, timeoutMs } from '../../functions/options';
import {
  decodeDescription,
  decodeResults,
  encodeRequest,
  LAMBDA_PAYLOAD_LIMIT_BYTES,
  ProtocolError,
  WIRE_REQUEST_OVERHEAD_BYTES,
  wireSizeOf,
} from '../../functions/protocol';
import { sleep, systemClock, type Clock } from '../common/clock';
import { ErrorCode } from '../common/errors';
import type { Logger } from '../common/log';
import type { BackendKind, InferenceBackend } from './backend';
import { backoffMs, CircuitBreaker, Semaphore, type CircuitBreakerOptions } from './resilience';

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
}

export class CallError extends Error {
  constructor(readonly failure: CallFailure) {
    super(failure.message);
  }
}

/** One way of sending a JSON request to a CLIP function and getting its JSON answer. */
export interface Transport {
  readonly kind: Exclude<BackendKind, 'local'>;
  /** Where calls go, for logs. */
  readonly target: string;
  /** One call; rejects with CallError. The signal carries the deadline; `timeoutMs` is for messages. */
  call(payload: string, signal: AbortSignal, timeoutMs: number): Promise<unknown>;
  close(): void;
}

export interface RemoteBackendOptions {
  /** Deadline of one call, in ms; a call past it is abandoned and not retried. Default 30000. */
  timeoutMs: number;
  /** Attempts per call for retryable failures (throttling, 5xx, connection errors). Default 3. */
  maxAttempts: number;
  /** Base of the jittered exponential backoff between attempts, in ms. Default 100. */
  retryBaseMs: number;
  /** Longest wait between attempts, in ms. Default 2000. */
  retryMaxMs: number;
  /** Calls in flight at once (the bulkhead); also how many batches the gateway sends at once. Default 8. */
  maxInFlight: number;
  /** Largest request payload, in bytes; batches are split to fit. Default 6,000,000 (Lambda's limit is 6 MiB). */
  maxRequestBytes: number;
  /** Most inputs per call, which also bounds the response size. Default 256. */
  maxItemsPerCall: number;
  circuit: CircuitBreakerOptions;
  log: Logger;
  /** Deadlines, backoff waits and the circuit's cooldown run on this clock. Default: the system's. */
  clock: Clock;
}

/** What configuration sets; the rest (log, clock) is the host's. */
export type RemoteCallOptions = Omit<RemoteBackendOptions, 'log' | 'clock'>;

export const DEFAULT_REMOTE_CALL_OPTIONS: RemoteCallOptions = {
  timeoutMs: 30_000,
  maxAttempts: 3,
  retryBaseMs: 100,
  retryMaxMs: 2_000,
  maxInFlight: 8,
  maxRequestBytes: 6_000_000,
  maxItemsPerCall: 256,
  circuit: { failureThreshold: 5, cooldownMs: 10_000 },
};

function checkOptions(o: RemoteBackendOptions): void {
  check('timeoutMs', o.timeoutMs, timeoutMs);
  check('maxAttempts', o.maxAttempts, positiveInt);
  check('maxInFlight', o.maxInFlight, positiveInt);
  check('maxItemsPerCall', o.maxItemsPerCall, positiveInt);
  check('maxRequestBytes', o.maxRequestBytes, integer(WIRE_REQUEST_OVERHEAD_BYTES + 1, LAMBDA_PAYLOAD_LIMIT_BYTES));
  check('retryBaseMs', o.retryBaseMs, nonNegativeNumber);
  check('retryMaxMs', o.retryMaxMs, nonNegativeNumber);
}

/**
 * CLIP in a function elsewhere (AWS Lambda, an HTTP service), called through a Transport.
 *
 * Every call is an idempotent read (embeddings of the inputs it carries), so repeating one is
 * safe; it is repeated only when the failure says nothing ran or the service asked us to back
 * off (throttling, 5xx, connection errors). A call that timed out is never repeated: the
 * function may still be working on it, and retrying would multiply the load on a struggling
 * function (a retry storm). Failures become per-input errors; embed() itself never rejects.
 */
export class RemoteBackend implements InferenceBackend {
  readonly concurrency: number;
  readonly breaker: CircuitBreaker;
  private readonly bulkhead: Semaphore;
  private readonly options: RemoteBackendOptions;
  private readonly closing = new AbortController();
  private description?: ModelDescription;

  constructor(
    private readonly transport: Transport,
    options: Partial<RemoteBackendOptions> = {},
  ) {
    this.options = { ...DEFAULT_REMOTE_CALL_OPTIONS, log: () => {}, clock: systemClock, ...options };
    checkOptions(this.options);
    const { clock } = this.options;
    this.breaker = new CircuitBreaker(this.options.circuit, () => clock.now());
    this.bulkhead = new Semaphore(this.options.maxInFlight);
    this.concurrency = this.options.maxInFlight;
  }

  get kind(): Exclude<BackendKind, 'local'> {
    return this.transport.kind;
  }

  async start(): Promise<ModelDescription> {
    try {
      this.description = await this.call(JSON.stringify(encodeRequest({ kind: 'describe' })), decodeDescription);
    } catch (error) {
      const reason =
        error instanceof CallError ? `${error.failure.message}${error.failure.detail ? ` (${error.failure.detail})` : ''}` : String(error);
      throw new Error(`The ${this.kind} backend at ${this.transport.target} did not describe its model: ${reason}`, { cause: error });
    }
    return this.description;
  }

  async embed(request: EmbedRequest): Promise<EmbedResult[]> {
    const dim = this.description?.info.dim;
    if (dim === undefined) throw new Error('embed() before start()');
    const answers = await Promise.all(this.split(request).map((call) => (call.ok ? this.embedCall(call.request, dim) : [call.result])));
    return answers.flat();
  }

  async ready(): Promise<boolean> {
    return this.description !== undefined && this.breaker.state !== 'open';
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.transport.close();
  }

  /** One call's results: its items' vectors and errors, or the call's failure for each of its items. */
  private async embedCall(request: EmbedRequest, dim: number): Promise<EmbedResult[]> {
    const count = request.items.length;
    try {
      return await this.call(JSON.stringify(encodeRequest(request)), (answer) => decodeResults(answer, count, dim));
    } catch (error) {
      const { code, message } =
        error instanceof CallError
          ? error.failure
          : { code: ErrorCode.BACKEND_UNAVAILABLE, message: 'The CLIP function could not be called.' };
      return Array.from({ length: count }, () => failure(code, message));
    }
  }

  /**
   * Cuts a request into calls that fit the payload budget and the item cap, keeping the order:
   * the one place where the budget is enforced. An input that cannot fit any call fails alone.
   */
  private split(request: EmbedRequest): ({ ok: true; request: EmbedRequest } | { ok: false; result: EmbedResult })[] {
    const budget = this.options.maxRequestBytes - WIRE_REQUEST_OVERHEAD_BYTES;
    const calls: ({ ok: true; request: EmbedRequest } | { ok: false; result: EmbedResult })[] = [];
    let current: EmbedRequestItem[] = [];
    let bytes = 0;
    const flush = () => {
      if (current.length > 0) calls.push({ ok: true, request: withItems(request, current) });
      current = [];
      bytes = 0;
    };
    for (const item of request.items) {
      const size = wireSizeOf(request.kind, item);
      if (size > budget) {
        flush();
        calls.push({
          ok: false,
          result: failure(
            ErrorCode.INPUT_TOO_LARGE,
            `The input is too large for one call to the CLIP function (${this.options.maxRequestBytes} bytes).`,
          ),
        });
        continue;
      }
      if (current.length === this.options.maxItemsPerCall || bytes + size > budget) flush();
      current.push(item);
      bytes += size;
    }
    flush();
    return calls;
  }

  /**
   * One logical call: circuit check, bulkhead, deadline, and retries for what may be retried. The
   * answer is decoded before the attempt counts as a success, so that an answer outside the
   * protocol counts against the function's health like any other failure (and fails a probe).
   */
  private async call<T>(payload: string, decode: (answer: unknown) => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (!this.breaker.tryAcquire()) {
        throw new CallError({
          code: ErrorCode.BACKEND_UNAVAILABLE,
          message:
            this.breaker.state === 'open'
              ? `The CLIP function is failing; calls are paused for ${Math.ceil(this.breaker.retryInMs / 1000)} s while it recovers.`
              : 'The CLIP function is failing; one call is testing whether it has recovered, and the others wait for its answer.',
          retry: false,
          unhealthy: false,
        });
      }
      try {
        const answer = decodeAnswer(await this.bulkhead.run(() => this.callWithDeadline(payload)), decode);
        this.breaker.success();
        return answer;
      } catch (error) {
        const failure: CallFailure =
          error instanceof CallError
            ? error.failure
            : {
                code: ErrorCode.BACKEND_UNAVAILABLE,
                message: 'The CLIP function could not be called.',
                retry: false,
                unhealthy: true,
                detail: String(error),
              };
        if (failure.unhealthy) this.breaker.failure();
        else this.breaker.neutral();
        const last = !failure.retry || attempt + 1 >= this.options.maxAttempts || this.closing.signal.aborted;
        this.options.log(
          `${this.kind} call to ${this.transport.target} failed (attempt ${attempt + 1}/${this.options.maxAttempts}, ${last ? 'giving up' : 'retrying'}): ${failure.code}: ${failure.detail ?? failure.message}`,
        );
        if (last) throw new CallError(failure);
        await sleep(this.options.clock, backoffMs(attempt, this.options.retryBaseMs, this.options.retryMaxMs));
      }
    }
  }

  /** One attempt, abandoned at the deadline or when the backend closes. */
  private async callWithDeadline(payload: string): Promise<unknown> {
    const { clock, timeoutMs } = this.options;
    const deadline = new AbortController();
    const timer = clock.setTimeout(() => deadline.abort(new Error(`deadline of ${timeoutMs} ms passed`)), timeoutMs);
    try {
      return await this.transport.call(payload, AbortSignal.any([deadline.signal, this.closing.signal]), timeoutMs);
    } finally {
      clock.clearTimeout(timer);
    }
  }
}

/** A function's answer decoded; one outside the protocol is a malformed answer (not retried: it would repeat). */
function decodeAnswer<T>(answer: unknown, decode: (answer: unknown) => T): T {
  try {
    return decode(answer);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new CallError({
      code: ErrorCode.INFERENCE_FAILED,
      message: 'The CLIP function returned a malformed answer.',
      retry: false,
      unhealthy: true,
      detail: String(error),
    });
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
