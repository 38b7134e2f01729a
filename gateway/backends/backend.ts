import type { EmbedRequest, EmbedResult, ModelDescription } from '../../functions/clip';

export type BackendKind = 'local' | 'lambda' | 'http';

export interface EmbedOptions {
  /**
   * When the answer is no longer wanted (ms since the epoch): the latest deadline of the requests
   * waiting for the batch's inputs. Remote backends give their calls no more than the time left.
   */
  deadline?: number;
}

/**
 * Where the gateway's batches run. One result per input, in order; an input that fails gets a
 * failed result. A rejected promise means the whole batch failed (the backend is down, timed out).
 */
export interface InferenceBackend {
  readonly kind: BackendKind;
  /** Brings the backend up and says which model it serves. Called once, before anything else. */
  start(): Promise<ModelDescription>;
  embed(request: EmbedRequest, options?: EmbedOptions): Promise<EmbedResult[]>;
  /** Whether a request sent now is expected to succeed (for /readyz). */
  ready(): Promise<boolean>;
  /** Most batches worth sending at once: more would only queue inside the backend. */
  readonly concurrency: number;
  /** Stops after in-flight work ends. */
  close(): Promise<void>;
}
