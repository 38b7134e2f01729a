import type { EmbedRequest, EmbedResult, ExecutionDevice, ModelDescription } from '../../functions/clip';

export type BackendKind = 'local' | 'lambda' | 'http' | 'sagemaker';

export interface EmbedOptions {
  /**
   * When the answer is no longer wanted (ms since the epoch): the latest deadline of the requests
   * waiting for the batch's inputs. Remote backends give their calls no more than the time left.
   */
  deadline?: number;
  /**
   * Aborted when the caller no longer wants the answer (another tier answered first). Remote
   * backends abandon the call; a withdrawn call says nothing about the function's health.
   */
  signal?: AbortSignal;
}

/**
 * What a tier's function is doing, as the gateway last saw it: `warm` answered the last call,
 * `cold` has no capacity (scaled to zero, starting), `unknown` has not answered yet or failed
 * since, `failing` refuses calls (its circuit is open, or it serves another model).
 */
export const TIER_STATES = ['warm', 'cold', 'unknown', 'failing'] as const;
export type TierState = (typeof TIER_STATES)[number];

/** `primary` gets batches first; `spillover` serves while the primary is cold or failing. */
export const TIER_ROLES = ['primary', 'spillover'] as const;
export type TierRole = (typeof TIER_ROLES)[number];

export interface TierStatus {
  role: TierRole;
  kind: BackendKind;
  state: TierState;
  /** The execution provider the tier's function reported, once it has described its model. */
  device?: ExecutionDevice;
}

/**
 * Why inputs went to the spillover: the primary was `cold` (no capacity), `unavailable` (not
 * described, another model, circuit open), its call failed (`failover`), or it was slow to
 * answer while its state was unknown (`hedge`: sent to both).
 */
export type SpillReason = 'cold' | 'unavailable' | 'failover' | 'hedge';
export type WakeOutcome = 'ok' | 'cold' | 'failed';

/** Totals since start, for /metrics. */
export interface TierCountersSnapshot {
  batches: { primary: number; spillover: number };
  inputs: { primary: number; spillover: number };
  spilledInputs: Record<SpillReason, number>;
  /** Hedged batches the spillover answered first. */
  hedgesWon: number;
  wakeCalls: Record<WakeOutcome, number>;
  /** Seconds the primary has spent cold, the current spell included. */
  coldSeconds: number;
}

/** Which tier serves now, and each tier's state: for /readyz, /metrics and the `model` query. */
export interface BackendStatus {
  /** The tier new batches go to now. */
  serving: TierStatus['role'];
  /** One entry per tier, primary first; a single backend has one. */
  tiers: TierStatus[];
  /** A tiered backend's totals since start. */
  counters?: TierCountersSnapshot;
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
  /** Which tier serves; backends of one tier may leave it out (the gateway then reports their kind alone). */
  status?(): BackendStatus;
  /** Stops after in-flight work ends. */
  close(): Promise<void>;
}
