// Everything the report is made of, filled in as the soak goes, and where it ran.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';

import { ROOT } from '../lib';
import type { FaultPhaseReport } from './faults/types';
import type { LogSummary } from './log';
import type { Sample } from './sampler';
import type { Settings } from './settings';
import type { Tally } from './stats';

export interface JobRecord {
  key: string;
  id?: string;
  startedAtS: number;
  /** How the start went when it did not give a job (refused, timed out, ...). */
  startProblem?: string;
  status?: string;
  total?: number;
  processed?: number;
  failed?: number;
  errors?: { field?: string[] | null; message: string; code: string }[];
  finishedAtS?: number;
  polls: number;
}

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export interface CheckResult {
  name: string;
  measured: string;
  bound: string;
  passed: boolean;
  /** Informational: shown, never fails the run. */
  info?: boolean;
}

/** Everything the report is made of. */
export interface Run {
  settings: Settings;
  command: string;
  startedAt: string;
  machine: Record<string, unknown>;
  git?: { commit: string; dirtyFiles: number };
  gateway: {
    origin?: string;
    pid?: number;
    env: Record<string, string>;
    inheritedEnv: Record<string, string>;
    model?: Record<string, unknown>;
  };
  seeding?: { products: number; urlProducts: number; seconds: number };
  /** N single-image requests at once on the idle gateway (burst.ts). */
  burst?: { requests: number; seconds: number; served: number; refused: number; failed: number; sameAsAlone: number; aloneServed: number };
  capacity?: {
    seconds: number;
    concurrency: number;
    okPerSecond: number;
    perKindOkPerSecond: Record<string, number>;
    tally: ReturnType<Tally['summary']>;
  };
  soak?: {
    targetRate: number;
    seconds: number;
    scheduled: number;
    sent: number;
    skippedAtCap: number;
    achievedRate: number;
    scheduleLagMs: { p99: number; max: number };
    tally: ReturnType<Tally['summary']>;
    gatewayCpuMs: number;
    /** Increase of the kernel's TCP counters (machine-wide) over the load. */
    kernel: Record<string, number>;
    loadGeneratorCpuMs: number;
  };
  jobs: JobRecord[];
  samples: Sample[];
  idleBefore?: { fds: number; sockets: number; rssMb: number };
  idleAfter?: { fds: number; sockets: number; rssMb: number };
  idleSocketStates?: { before: Record<string, number>; after: Record<string, number> };
  afterLoad?: { drainSeconds: number; idle: boolean; idleSeconds: number; jobsFinished: boolean };
  readBack?: {
    written: number;
    read: number;
    found: number;
    missing: string[];
    wrongTags: string[];
    unreadable: string[];
    unconfirmed: { total: number; checked: number; present: number };
    seconds: number;
  };
  log: LogSummary;
  /** The fault phase (absent with --no-faults, or when the soak itself could not run). */
  faults?: FaultPhaseReport;
  checks: CheckResult[];
  error?: string;
}

export function describeMachine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model.trim(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

export function describeGit(): Run['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return { commit, dirtyFiles: dirty ? dirty.split('\n').length : 0 };
  } catch {
    return undefined;
  }
}
