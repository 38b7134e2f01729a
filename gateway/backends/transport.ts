import type { BackendKind } from './backend';
import type { WireMessage } from './wire-codec';

/** One way of sending a request to a CLIP function and getting its answer: Lambda's Invoke, HTTP, SageMaker's InvokeEndpoint. */
export interface Transport {
  readonly kind: Exclude<BackendKind, 'local'>;
  /** Where calls go, for logs. */
  readonly target: string;
  /**
   * Whether readiness may be asked of the function with a `describe` call. Default true. False
   * where every call counts as the function's traffic and keeps it from scaling to zero (a
   * SageMaker inference component scales in only after a quiet spell): ready() then goes by the
   * circuit, which the calls that do happen keep up to date.
   */
  readonly probes?: boolean;
  /** Whether it carries bodies other than JSON: then the binary protocol is used with functions that speak it. */
  readonly binary: boolean;
  /** One call; rejects with CallError. The signal carries the deadline; `timeoutMs` is for messages. */
  call(request: WireMessage, signal: AbortSignal, timeoutMs: number): Promise<WireMessage>;
  close(): void;
}
