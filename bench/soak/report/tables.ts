// Tables and lists the report's sections share.
import { fmt } from '../../lib';
import type { Tally } from '../stats';

export const states = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

export function kindTable(
  say: (line?: string) => void,
  tally: ReturnType<Tally['summary']>,
  ms: (v: number | undefined | null) => string,
): void {
  say(
    `| kind | sent | ok | ok % | OVERLOADED whole / partial | DEADLINE_EXCEEDED | RATE_LIMITED | other errors | wrong answers | 5xx not OVERLOADED | client timeouts | connection errors | ok p50 ms | ok p95 ms | ok p99 ms | refused p50 / p99 ms |`,
  );
  say(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const [kind, s] of Object.entries(tally)) {
    const l = s.okLatencyMs;
    const r = s.refusedLatencyMs;
    say(
      `| ${kind} | ${s.sent} | ${s.ok} | ${s.sent ? fmt((s.ok / s.sent) * 100) : '—'} | ${s.overloadedWhole} / ${s.overloadedPartial} | ${s.deadlineExceeded} | ${s.rateLimited} | ${s.otherErrors} | ${s.wrong} | ${s.bad5xx ? `**${s.bad5xx}**` : 0} | ${s.timeouts} | ${s.connectionErrors} | ${ms(l?.p50)} | ${ms(l?.p95)} | ${ms(l?.p99)} | ${r ? `${ms(r.p50)} / ${ms(r.p99)}` : '—'} |`,
    );
  }
  say();
  say(`| kind | HTTP statuses | error codes (requests with each) | connection errors | first unexpected answers |`);
  say(`| --- | --- | --- | --- | --- |`);
  for (const [kind, s] of Object.entries(tally)) {
    const statuses = Object.entries(s.statuses)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    const codes =
      Object.entries(s.codes)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || '—';
    say(
      `| ${kind} | ${statuses} | ${codes} | ${
        Object.entries(s.connectionMessages)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || '—'
      } | ${
        s.examples
          .slice(0, 2)
          .map((e) => e.replace(/\|/g, '/').replace(/\n/g, ' '))
          .join('<br>') || '—'
      } |`,
    );
  }
  say();
}
