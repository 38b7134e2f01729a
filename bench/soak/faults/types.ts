// The fault phase's shapes: the faults, the sub-phases and their bounds, what is recorded, and the
// report.
import type { Outcome } from '../outcome';
import type { LogSummary } from '../log';
import type { Sample } from '../sampler';

/** A fault for one invocation, as functions/lambda-local/server.ts takes it (not imported: see the top of bench/soak/index.ts). */
export type LambdaFault =
  { kind: 'delay'; ms: number } | { kind: 'throttle' } | { kind: 'status'; status: number; errorType?: string } | { kind: 'malformed' };

export interface SubPhaseSpec {
  name: string;
  /** What is done to every invocation, cycling through the list; none: the function behaves. */
  faults?: LambdaFault[];
  /** For the reader. */
  what: string;
  /** The codes a failed answer may carry here (the documented ones for the fault). */
  allowed: string[];
  /** At least one answer must carry one of these: the fault reached clients as it should. */
  expectAny?: string[];
  /** What /readyz must do: answer 200 every time; 503 at least once (the circuit opened); be 200 again by the end. */
  readyz: 'always 200' | 'sees 503' | 'back to 200' | 'not judged';
  /**
   * The faults were cleared as it began: every request must succeed again within the recovery
   * bound, and every later one too. `settle` ends as soon as it has (5 successes in a row and
   * /readyz 200, or the bound and 5 s more), so that the next fault starts from a closed circuit;
   * `full` runs the sub-phase's length.
   */
  recovery?: 'settle' | 'full';
  /** The circuit opens here: its refusals (BACKEND_UNAVAILABLE) must come at once, not after a timeout. */
  failFast?: boolean;
}

/** The remote-call settings the fault phase's gateway runs with (as its environment sets them). */
export interface RemoteSettings {
  timeoutMs: number;
  maxAttempts: number;
  failureThreshold: number;
  cooldownMs: number;
}

export interface FaultBounds {
  /** Longest an answer may take: REMOTE_TIMEOUT_MS × REMOTE_MAX_ATTEMPTS + the margin. */
  answerMs: number;
  /** After the faults are cleared, every request succeeds from this long on: 2 × CIRCUIT_COOLDOWN_MS + REMOTE_TIMEOUT_MS + 2 s. */
  recoveryMs: number;
  /** Median latency of BACKEND_UNAVAILABLE answers where the circuit opens. */
  fastFailP50Ms: number;
}

/** The stand-in's counters (GET /_local/stats). */
export interface LambdaStats {
  invocations: number;
  handled: number;
  throttled: number;
  functionErrors: number;
  peakConcurrency: number;
}

/** Where a sub-phase stands while the phase runs. */
export interface SubPhaseState {
  /** Since the fault phase began. */
  startMs: number;
  endMs: number;
  /** Answers in a row that succeeded, to the latest. */
  streak: number;
  /** Requests sent in the sub-phase and not answered yet. */
  pending: number;
  /** The stand-in's counters as the sub-phase began. */
  lambdaBefore: LambdaStats | undefined;
}

/** One request of the fault phase: the sub-phase it was sent in, when (ms since the fault phase began), how long its answer took. */
export interface FaultRecord {
  sub: number;
  sentMs: number;
  latencyMs: number;
  o: Outcome;
}

export interface ReadyzPoll {
  sub: number;
  tMs: number;
  /** HTTP status, or timeout / connection. */
  status: string;
  latencyMs: number;
}

/** One check of one sub-phase; the Checks table shows one row per criterion over all sub-phases. */
export interface FaultCheck {
  subPhase: string;
  criterion: FaultCriterion;
  measured: string;
  bound: string;
  passed: boolean;
}

export const FAULT_CRITERIA = {
  '5xx': 'no 5xx other than 503 OVERLOADED',
  codes: 'failures carry the documented error codes, and each fault shows as its code',
  time: 'every answer in time: no client timeout or connection error, none slower than the bound',
  readyz: '/readyz: 200 in the baseline, 503 while the circuit is open (hang, malformed, 5xx), 200 again after each fault',
  recovery: 'after the faults are cleared, every request succeeds from within the bound on',
  fastFail: 'an open circuit refuses at once: BACKEND_UNAVAILABLE median latency',
} as const;
export type FaultCriterion = keyof typeof FAULT_CRITERIA;

export interface FaultSubPhaseReport {
  name: string;
  what: string;
  /** Since the fault phase began (its processes' start included). */
  startS: number;
  seconds: number;
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  /** Answers having each code at least once. */
  codes: Record<string, number>;
  /** Answers refused by the open (or half-open) circuit, by their message. */
  circuitRefusals: number;
  /** 5xx answers other than 503 OVERLOADED. */
  bad5xx: number;
  /** Failed answers (timeouts and connection errors aside) with no code, or a code not allowed here. */
  unexpected: number;
  /** Every answer, failed ones included. */
  latencyMs: { p50: number; p99: number; max: number } | null;
  okLatencyMs: { p50: number; p99: number } | null;
  /** BACKEND_UNAVAILABLE-only answers: median and count. */
  unavailableP50Ms: number | null;
  unavailable: number;
  readyz: Record<string, number>;
  /** First /readyz 503, since the sub-phase began. */
  readyzFirst503S: number | null;
  /** /readyz 200 for good (every later poll in the sub-phase 200), since the sub-phase began. */
  readyzBackS: number | null;
  /** Sent-time of the first request from which every one succeeded, since the sub-phase began (null: never). */
  recoveredAfterS: number | null;
  /** The stand-in's counters over the sub-phase. */
  lambda: Partial<LambdaStats>;
  /** The gateway at the end of the sub-phase. */
  rssMb?: number;
  fds?: number;
  sockets?: number;
  /** The first few unexpected answers. */
  examples: string[];
}

export interface FaultPhaseReport {
  rate: number;
  subPhaseSeconds: number;
  /** Times the faults were played (--fault-rounds). */
  rounds: number;
  remote?: RemoteSettings;
  bounds?: FaultBounds;
  env: Record<string, string>;
  gatewayOrigin?: string;
  lambdaOrigin?: string;
  model?: Record<string, unknown>;
  seconds?: number;
  subPhases: FaultSubPhaseReport[];
  /** /readyz answers where they changed. */
  readyzChanges: { t: number; subPhase: string; status: string }[];
  samples: Pick<Sample, 't' | 'phase' | 'rssMb' | 'anonMb' | 'peakRssMb' | 'fds' | 'sockets' | 'threads' | 'gatewayCpuPct'>[];
  /**
   * The gateway at the end of the first round's recovery and at the end of the last round's, both
   * under the same load: what the later rounds' faults left behind, once the process had grown
   * into its working size in the first. Allocated memory is judged by each round's median sample
   * (V8 returns memory to the system in steps: one sample may fall just after a step, or before).
   */
  memory?: {
    baseline: { rssMb: number; anonMb: number; fds: number; sockets: number };
    end: { rssMb: number; anonMb: number; fds: number; sockets: number };
    rounds: number;
    /** Median allocated memory over the first round's samples and over the last round's. */
    medianAnonMb: { first: number; last: number };
  };
  lambdaStats?: LambdaStats;
  /** Fault injections the stand-in did not take. */
  injectionErrors: number;
  /** A process that exited during the phase (before being stopped). */
  exits: { process: string; code: number | null; signal: string | null; atS: number }[];
  log: { gateway?: LogSummary; lambda?: LogSummary };
  checks: FaultCheck[];
  error?: string;
}
