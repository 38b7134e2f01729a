// What each sub-phase of the fault phase saw, from its requests, its /readyz polls and the
// stand-in's counters, and its checks.
import { bad5xx, has, type Outcome } from '../outcome';
import type { Sample } from '../sampler';
import { increment, percentile } from '../stats';
import { subPhaseChecks } from './checks';
import { allowedCodes } from './specs';
import type {
  FaultBounds,
  FaultPhaseReport,
  FaultRecord,
  FaultSubPhaseReport,
  LambdaStats,
  ReadyzPoll,
  SubPhaseSpec,
  SubPhaseState,
} from './types';

/** An open or half-open circuit's refusal, by the gateway's message (gateway/backends/remote.ts). */
export const circuitRefusal = (o: Outcome) =>
  has(o, 'BACKEND_UNAVAILABLE') && /calls are paused|one call is testing/i.test(o.problem ?? '');

export function summariseSubPhase(
  spec: SubPhaseSpec,
  state: { startMs: number; endMs: number },
  records: FaultRecord[],
  polls: ReadyzPoll[],
): FaultSubPhaseReport {
  const statuses: Record<string, number> = {};
  const codes: Record<string, number> = {};
  const examples: string[] = [];
  const allowed = allowedCodes(spec);
  let bad = 0;
  let unexpected = 0;
  for (const r of records) {
    increment(statuses, r.o.status);
    for (const code of new Set(r.o.codes)) increment(codes, code);
    if (bad5xx(r.o)) bad++;
    const lost = r.o.status === 'timeout' || r.o.status === 'connection';
    const odd = !r.o.ok && !lost && (r.o.codes.length === 0 || r.o.codes.some((c) => !allowed.has(c.replace(/^userErrors:/, ''))));
    if (odd) unexpected++;
    if ((odd || lost || bad5xx(r.o)) && examples.length < 3) {
      examples.push(`${r.o.status} ${r.o.codes.join(',') || '-'}: ${(r.o.problem ?? '').slice(0, 200)}`);
    }
  }
  const latencies = records.map((r) => r.latencyMs);
  const okLatencies = records.filter((r) => r.o.ok).map((r) => r.latencyMs);
  const unavailable = records.filter((r) => !r.o.ok && r.o.codes.length > 0 && r.o.codes.every((c) => c === 'BACKEND_UNAVAILABLE'));
  const readyz: Record<string, number> = {};
  for (const p of polls) increment(readyz, p.status);
  const first503 = polls.find((p) => p.status === '503');
  const lastNot200 = polls.map((p) => p.status !== '200').lastIndexOf(true);
  const back = lastNot200 < polls.length - 1 ? polls[lastNot200 + 1] : undefined;
  // The first request from which every later one (by sent time) succeeded.
  const sorted = [...records].sort((a, b) => a.sentMs - b.sentMs);
  const lastFailure = sorted.map((r) => !r.o.ok).lastIndexOf(true);
  const recoveredFrom = sorted[lastFailure + 1];
  const sinceStart = (ms: number) => Math.max(0, ms - state.startMs) / 1000;
  return {
    name: spec.name,
    what: spec.what,
    startS: state.startMs / 1000,
    seconds: (state.endMs - state.startMs) / 1000,
    sent: records.length,
    ok: okLatencies.length,
    statuses,
    codes,
    circuitRefusals: records.filter((r) => circuitRefusal(r.o)).length,
    bad5xx: bad,
    unexpected,
    latencyMs: latencies.length ? { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: Math.max(...latencies) } : null,
    okLatencyMs: okLatencies.length ? { p50: percentile(okLatencies, 0.5), p99: percentile(okLatencies, 0.99) } : null,
    unavailableP50Ms: unavailable.length
      ? percentile(
          unavailable.map((r) => r.latencyMs),
          0.5,
        )
      : null,
    unavailable: unavailable.length,
    readyz,
    readyzFirst503S: first503 ? sinceStart(first503.tMs) : null,
    readyzBackS: back ? sinceStart(lastNot200 < 0 ? state.startMs : back.tMs) : null,
    recoveredAfterS: recoveredFrom ? sinceStart(lastFailure < 0 ? state.startMs : recoveredFrom.sentMs) : null,
    lambda: {},
    examples,
  };
}

/** The report's /readyz changes, sub-phases and checks, from what the phase recorded. */
export function summarise(
  report: FaultPhaseReport,
  seen: {
    specs: SubPhaseSpec[];
    states: SubPhaseState[];
    records: FaultRecord[];
    polls: ReadyzPoll[];
    samples: Sample[];
    endStats: LambdaStats | undefined;
    bounds: FaultBounds;
  },
): void {
  const { specs, states, records, polls, samples, endStats, bounds } = seen;
  let previousPoll = '';
  for (const p of polls) {
    if (p.status !== previousPoll) report.readyzChanges.push({ t: p.tMs / 1000, subPhase: specs[p.sub].name, status: p.status });
    previousPoll = p.status;
  }
  specs.forEach((spec, i) => {
    const state = states[i];
    const next = states[i + 1]?.lambdaBefore ?? endStats;
    const sub = summariseSubPhase(
      spec,
      state,
      records.filter((r) => r.sub === i),
      polls.filter((p) => p.sub === i),
    );
    if (state.lambdaBefore && next) {
      sub.lambda = Object.fromEntries(
        (['invocations', 'handled', 'throttled', 'functionErrors'] as const).map((k) => [k, next[k] - state.lambdaBefore![k]]),
      );
    }
    const end = [...samples].reverse().find((s) => s.t * 1000 <= state.endMs + 1000 && s.t * 1000 >= state.startMs);
    if (end) Object.assign(sub, { rssMb: end.rssMb, fds: end.fds, sockets: end.sockets });
    report.subPhases.push(sub);
    report.checks.push(...subPhaseChecks(spec, sub, bounds));
  });
}
