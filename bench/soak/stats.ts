// Counting: outcomes and latencies per kind of request, and per sampling period.
import { bad5xx, explicitOverload, has, overloaded, rateLimited, type Outcome } from './outcome';
import type { Kind } from './settings';

/** Nearest-rank percentile of an unsorted list. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export const increment = (map: Record<string, number>, key: string, by = 1) => {
  map[key] = (map[key] ?? 0) + by;
};

export class KindStats {
  sent = 0;
  ok = 0;
  /** Answered 2xx without errors, but not what was asked for. */
  wrong = 0;
  statuses: Record<string, number> = {};
  /** Requests having each code at least once. */
  codes: Record<string, number> = {};
  overloadedWhole = 0;
  overloadedPartial = 0;
  deadlineExceeded = 0;
  rateLimited = 0;
  bad5xx = 0;
  timeouts = 0;
  connectionErrors = 0;
  /** What the connection errors were (ECONNRESET, ECONNREFUSED, response cut off, ...). */
  connectionMessages: Record<string, number> = {};
  /** Answers with errors other than OVERLOADED, DEADLINE_EXCEEDED, RATE_LIMITED. */
  otherErrors = 0;
  /** Whole-request refusals (503 OVERLOADED, 429) without a Retry-After header. */
  refusalsWithoutRetryAfter = 0;
  retryAfterSeconds: number[] = [];
  okLatencies: number[] = [];
  /** Latency of whole-request refusals: how fast the gateway says no. */
  refusedLatencies: number[] = [];
  /** The first few answers of each unexpected sort, for the report. */
  examples: string[] = [];

  add(o: Outcome, latencyMs: number): void {
    increment(this.statuses, o.status);
    for (const code of new Set(o.codes)) increment(this.codes, code);
    if (o.ok) {
      this.ok++;
      this.okLatencies.push(latencyMs);
      return;
    }
    const refusedWhole = explicitOverload(o) || o.status === '429';
    if (explicitOverload(o)) this.overloadedWhole++;
    else if (overloaded(o)) this.overloadedPartial++;
    if (has(o, 'DEADLINE_EXCEEDED')) this.deadlineExceeded++;
    if (rateLimited(o)) this.rateLimited++;
    if (o.status === 'timeout') this.timeouts++;
    if (o.status === 'connection') {
      this.connectionErrors++;
      increment(this.connectionMessages, o.problem ?? 'unknown');
    }
    if (o.codes.includes('WRONG_ANSWER')) this.wrong++;
    const other = o.codes.filter((c) => !/(^|:)(OVERLOADED|DEADLINE_EXCEEDED|RATE_LIMITED|WRONG_ANSWER)$/.test(c));
    if (other.length > 0) this.otherErrors++;
    if (refusedWhole) {
      this.refusedLatencies.push(latencyMs);
      if (o.retryAfter === undefined) this.refusalsWithoutRetryAfter++;
      else this.retryAfterSeconds.push(Number(o.retryAfter));
    }
    const unexpected = bad5xx(o) || other.length > 0 || o.codes.includes('WRONG_ANSWER');
    if (bad5xx(o)) this.bad5xx++;
    if (unexpected && this.examples.length < 5) {
      this.examples.push(`${o.status} ${o.codes.join(',') || '-'}: ${(o.problem ?? '').slice(0, 240)}`);
    }
  }

  summary() {
    return {
      sent: this.sent,
      ok: this.ok,
      wrong: this.wrong,
      statuses: this.statuses,
      codes: this.codes,
      overloadedWhole: this.overloadedWhole,
      overloadedPartial: this.overloadedPartial,
      deadlineExceeded: this.deadlineExceeded,
      rateLimited: this.rateLimited,
      bad5xx: this.bad5xx,
      timeouts: this.timeouts,
      connectionErrors: this.connectionErrors,
      connectionMessages: this.connectionMessages,
      otherErrors: this.otherErrors,
      refusalsWithoutRetryAfter: this.refusalsWithoutRetryAfter,
      retryAfterSeconds: this.retryAfterSeconds.length
        ? {
            min: Math.min(...this.retryAfterSeconds),
            max: Math.max(...this.retryAfterSeconds),
            p50: percentile(this.retryAfterSeconds, 0.5),
          }
        : null,
      okLatencyMs: latencySummary(this.okLatencies),
      refusedLatencyMs: latencySummary(this.refusedLatencies),
      examples: this.examples,
    };
  }
}

export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000, 20000, 25000, 30000, Infinity];
export function latencySummary(values: number[]) {
  if (values.length === 0) return null;
  const histogram: Record<string, number> = {};
  for (const v of values) increment(histogram, `<=${LATENCY_BUCKETS_MS.find((b) => v <= b)}`);
  return {
    count: values.length,
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    max: Math.max(...values),
    histogram,
  };
}

export class Tally {
  readonly kinds = new Map<Kind, KindStats>();
  of(kind: Kind): KindStats {
    let stats = this.kinds.get(kind);
    if (!stats) this.kinds.set(kind, (stats = new KindStats()));
    return stats;
  }
  summary() {
    return Object.fromEntries([...this.kinds].map(([k, s]) => [k, s.summary()]));
  }
}

/** What happened in one sampling period, for the time series. */
export class Window {
  sent = 0;
  ok = 0;
  refused = 0;
  deadline = 0;
  failed = 0;
  timeouts = 0;
  skipped = 0;
  okLatencies: number[] = [];
  add(o: Outcome, latencyMs: number): void {
    if (o.ok) {
      this.ok++;
      this.okLatencies.push(latencyMs);
    } else if (overloaded(o) || rateLimited(o)) this.refused++;
    else if (has(o, 'DEADLINE_EXCEEDED')) this.deadline++;
    else if (o.status === 'timeout') this.timeouts++;
    else this.failed++;
  }
}
