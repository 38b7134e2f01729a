// The fault phase's checks: per sub-phase, then one row per criterion over all of them for the
// Checks table, and the process's own (memory between rounds, exits).
import { fmt } from '../../lib';
import { loadAllowance } from '../checks';
import type { CheckResult } from '../run';
import { allowedCodes } from './specs';
import {
  FAULT_CRITERIA,
  type FaultBounds,
  type FaultCheck,
  type FaultCriterion,
  type FaultPhaseReport,
  type FaultSubPhaseReport,
  type SubPhaseSpec,
} from './types';

export function subPhaseChecks(spec: SubPhaseSpec, s: FaultSubPhaseReport, bounds: FaultBounds): FaultCheck[] {
  const out: FaultCheck[] = [];
  const add = (criterion: FaultCriterion, measured: string, bound: string, passed: boolean) =>
    out.push({ subPhase: s.name, criterion, measured, bound, passed });
  const list = (map: Record<string, number>) =>
    Object.entries(map)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';

  add('5xx', `${s.bad5xx} (statuses: ${list(s.statuses)})`, '0', s.bad5xx === 0);

  // Codes: every failed answer's codes among those allowed, and the fault seen as its code.
  // Timeouts and connection errors are the `time` criterion's.
  const allowed = allowedCodes(spec);
  const others = Object.fromEntries(Object.entries(s.codes).filter(([k]) => !allowed.has(k.replace(/^userErrors:/, ''))));
  const seen = spec.expectAny ? spec.expectAny.some((c) => (s.codes[c] ?? 0) > 0) : true;
  add(
    'codes',
    `${s.sent - s.ok} of ${s.sent} failed: ${list(s.codes)}${s.unexpected ? `; ${s.unexpected} unexpected (${list(others)})` : ''}${seen ? '' : `; none of ${spec.expectAny!.join(' / ')}`}`,
    `${spec.allowed.length ? `only ${spec.allowed.join(', ')}` : 'none fail'}${spec.expectAny ? `; ${spec.expectAny.join(' or ')} seen` : ''}`,
    s.unexpected === 0 && seen,
  );

  const timeouts = s.statuses.timeout ?? 0;
  const connection = s.statuses.connection ?? 0;
  add(
    'time',
    `${timeouts} client timeouts, ${connection} connection errors; slowest ${s.latencyMs ? fmt(s.latencyMs.max, 0) : '—'} ms`,
    `0, 0; ≤ ${bounds.answerMs} ms`,
    timeouts === 0 && connection === 0 && (s.latencyMs?.max ?? 0) <= bounds.answerMs,
  );

  const polls = Object.values(s.readyz).reduce((a, b) => a + b, 0);
  const unanswered = polls - (s.readyz['200'] ?? 0) - (s.readyz['503'] ?? 0);
  const readyzText = `${list(s.readyz)}${s.readyzFirst503S !== null ? `; first 503 after ${fmt(s.readyzFirst503S)} s` : ''}${spec.readyz === 'back to 200' ? `; 200 for good after ${s.readyzBackS === null ? 'never' : `${fmt(s.readyzBackS)} s`}` : ''}`;
  if (spec.readyz === 'always 200') add('readyz', readyzText, 'every poll 200', polls > 0 && s.readyz['200'] === polls);
  if (spec.readyz === 'sees 503')
    add('readyz', readyzText, 'a 503 (circuit open); every poll 200 or 503', (s.readyz['503'] ?? 0) > 0 && unanswered === 0);
  if (spec.readyz === 'back to 200') {
    add(
      'readyz',
      readyzText,
      `200 for good within ${fmt(bounds.recoveryMs / 1000)} s; every poll 200 or 503`,
      s.readyzBackS !== null && s.readyzBackS * 1000 <= bounds.recoveryMs && unanswered === 0,
    );
  }

  if (spec.recovery) {
    add(
      'recovery',
      s.recoveredAfterS === null
        ? `never (${s.sent - s.ok} of ${s.sent} failed, the last one too)`
        : `after ${fmt(s.recoveredAfterS)} s (${s.sent - s.ok} of ${s.sent} failed before)`,
      `≤ ${fmt(bounds.recoveryMs / 1000)} s (2 × CIRCUIT_COOLDOWN_MS + REMOTE_TIMEOUT_MS + 2 s)`,
      s.recoveredAfterS !== null && s.recoveredAfterS * 1000 <= bounds.recoveryMs,
    );
  }

  if (spec.failFast) {
    add(
      'fastFail',
      s.unavailableP50Ms === null
        ? 'no BACKEND_UNAVAILABLE answer'
        : `${fmt(s.unavailableP50Ms, 0)} ms over ${s.unavailable} answers (${s.circuitRefusals} said the circuit was open)`,
      `≤ ${bounds.fastFailP50Ms} ms`,
      s.unavailableP50Ms !== null && s.unavailableP50Ms <= bounds.fastFailP50Ms,
    );
  }
  return out;
}

/** The Checks table's rows for the fault phase: one per criterion over every sub-phase, and the process's own. */
export function faultChecks(report: FaultPhaseReport): CheckResult[] {
  const results: CheckResult[] = [];
  if (report.error) {
    results.push({ name: 'fault phase ran to the end', measured: report.error.slice(0, 300), bound: 'it did', passed: false });
  }
  for (const [criterion, title] of Object.entries(FAULT_CRITERIA) as [FaultCriterion, string][]) {
    const rows = report.checks.filter((c) => c.criterion === criterion);
    if (rows.length === 0) continue;
    const failed = rows.filter((c) => !c.passed);
    results.push({
      name: `fault phase: ${title}`,
      measured: failed.length
        ? failed.map((c) => `${c.subPhase}: ${c.measured}`).join('; ')
        : `held in ${rows.length === 1 ? rows[0].subPhase : `all ${rows.length} sub-phases`}`,
      bound: rows.length === 1 || new Set(rows.map((c) => c.bound)).size === 1 ? rows[0].bound : 'per sub-phase (see the fault phase)',
      passed: failed.length === 0,
    });
  }
  if (report.memory) {
    const { baseline: b, end: e, medianAnonMb: m } = report.memory;
    const tolerance = 0.1;
    const anonBound = m.first * (1 + tolerance);
    const last = `round ${report.memory.rounds}`;
    results.push({
      name: `fault phase: gateway allocated memory (RssAnon), median over ${last} vs over round 1 (the same faults, the same load)`,
      measured: `${fmt(m.last, 0)} MB (round 1 ${fmt(m.first, 0)} MB; at the end of each round's recovery ${fmt(e.anonMb, 0)} and ${fmt(b.anonMb, 0)} MB, VmRSS ${fmt(e.rssMb, 0)} and ${fmt(b.rssMb, 0)} MB)`,
      bound: `≤ ${fmt(anonBound, 0)} MB (+${tolerance * 100}%)`,
      passed: m.last <= anonBound,
    });
    for (const key of ['fds', 'sockets'] as const) {
      const limit = b[key] + loadAllowance(b[key]);
      results.push({
        name: `fault phase: gateway ${key === 'fds' ? 'open file descriptors' : 'open sockets'}, end of ${last}'s recovery vs end of round 1's`,
        measured: `${e[key]} (round 1 ${b[key]})`,
        bound: `≤ ${limit}`,
        passed: e[key] <= limit,
      });
    }
  } else if (!report.error) {
    const one = report.rounds === 1;
    results.push({
      name: 'fault phase: gateway memory and descriptors compared between rounds',
      measured: one ? 'one round (--fault-rounds 1)' : 'fewer than two rounds ended',
      bound: 'two rounds',
      passed: false,
      info: one,
    });
  }
  results.push({
    name: 'fault phase: neither the gateway nor the local Lambda endpoint exited',
    measured: report.exits.length
      ? report.exits.map((x) => `${x.process} at ${fmt(x.atS, 0)} s (${x.code ?? x.signal})`).join(', ')
      : 'none exited',
    bound: 'none',
    passed: report.exits.length === 0,
  });
  return results;
}
