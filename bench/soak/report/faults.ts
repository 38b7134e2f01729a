// The report's section on the fault phase.
import { fmt } from '../../lib';
import type { Run } from '../run';

export function faultMarkdown(say: (line?: string) => void, run: Run): void {
  const f = run.faults;
  if (!f) {
    if (!run.settings.faults) {
      say(`## The remote function under faults`);
      say();
      say(`Skipped (\`--no-faults\`).`);
      say();
    }
    return;
  }
  const ms = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '—' : fmt(v, 0));
  const list = (map: Record<string, number>) =>
    Object.entries(map)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || '—';
  say(`## The remote function under faults`);
  say();
  if (f.error) {
    say(`**Did not complete: ${f.error.split('\n')[0]}**`);
    say();
  }
  const r = f.remote;
  const b = f.bounds;
  say(
    `A second gateway (\`INFERENCE_BACKEND=lambda\`, the real AWS SDK) in front of the local Lambda endpoint (\`dist/functions/lambda-local/main.js\`${f.lambdaOrigin ? ` on ${f.lambdaOrigin}` : ''}) serving ${f.model ? `\`${String(f.model.name)}\` (${String(f.model.dim)} dims)` : 'the bundled tiny CLIP'}, on a fresh \`DATA_DIR\`${r ? `; \`REMOTE_TIMEOUT_MS=${r.timeoutMs}\`, \`REMOTE_MAX_ATTEMPTS=${r.maxAttempts}\`, \`CIRCUIT_FAILURE_THRESHOLD=${r.failureThreshold}\`, \`CIRCUIT_COOLDOWN_MS=${r.cooldownMs}\`` : ''}. Open loop at ${fmt(f.rate)} requests/s, embedText (4 texts), embedImage and classify in equal shares, every input distinct, no deadline header. The faults are played ${f.rounds === 1 ? 'once' : `${f.rounds} times over`} after a baseline; each fault sub-phase lasts ${f.subPhaseSeconds} s, with every invocation (retries and the gateway's readiness probes included) meeting the fault: the stand-in's fault queue is topped up 5 times a second. At its end the faults are cleared (\`DELETE /_local/faults\`) and an "after" sub-phase runs until 5 answers in a row succeed and /readyz answers 200 (at most the recovery bound + 5 s), so that the next fault starts from a closed circuit; requests are counted in the sub-phase they were sent in, and new faults go in only once the previous sub-phase's requests are answered. /readyz is polled twice a second.${b ? ` Bounds: every answer within ${b.answerMs} ms (REMOTE_TIMEOUT_MS × REMOTE_MAX_ATTEMPTS + 5 s); after a clear, every request succeeds from ${fmt(b.recoveryMs / 1000)} s on (2 × CIRCUIT_COOLDOWN_MS + REMOTE_TIMEOUT_MS + 2 s: the circuit may have opened just before the clear, and its probe may meet a fault taken just before it); BACKEND_UNAVAILABLE answers where the circuit opens: median ≤ ${b.fastFailP50Ms} ms.` : ''}${f.seconds !== undefined ? ` ${fmt(f.seconds, 0)} s in all, ${f.injectionErrors} fault injections refused.` : ''}`,
  );
  say();
  if (f.subPhases.length) {
    say(
      `| sub-phase | fault | s | sent | ok | HTTP statuses | error codes (answers with each) | all answers p50 / p99 / max ms | BACKEND_UNAVAILABLE p50 ms (circuit refusals) | /readyz | recovered after s | Lambda invocations (handled, throttled) | RSS MB / fds | checks |`,
    );
    say(`| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |`);
    for (const s of f.subPhases) {
      const failed = f.checks.filter((c) => c.subPhase === s.name && !c.passed).map((c) => c.criterion);
      const l = s.latencyMs;
      say(
        `| ${s.name} | ${s.what} | ${fmt(s.seconds)} | ${s.sent} | ${s.ok} | ${list(s.statuses)} | ${list(s.codes)} | ${l ? `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.max)}` : '—'} | ${s.unavailable ? `${ms(s.unavailableP50Ms)} (${s.circuitRefusals})` : '—'} | ${list(s.readyz)} | ${s.recoveredAfterS === null ? (s.name.startsWith('after') || s.name.startsWith('recovery') ? '**never**' : '—') : fmt(s.recoveredAfterS)} | ${s.lambda.invocations ?? '—'} (${s.lambda.handled ?? '—'}, ${s.lambda.throttled ?? '—'}) | ${s.rssMb === undefined ? '—' : `${fmt(s.rssMb, 0)} / ${s.fds}`} | ${failed.length ? `**FAIL: ${failed.join(', ')}**` : 'pass'} |`,
      );
    }
    say();
    say(
      `"recovered after": the sent time (since the sub-phase began) of the first request from which every later one succeeded; "circuit refusals": answers whose message says the circuit is open or half-open. Lambda invocations are the stand-in's, over the sub-phase (throttled: 429s, injected or at its concurrency).`,
    );
    say();
    say(`| sub-phase | check | measured | bound | result |`);
    say(`| --- | --- | --- | --- | :---: |`);
    for (const c of f.checks)
      say(`| ${c.subPhase} | ${c.criterion} | ${c.measured.replace(/\|/g, '/')} | ${c.bound} | ${c.passed ? 'pass' : '**FAIL**'} |`);
    say();
    const examples = f.subPhases.filter((s) => s.examples.length);
    if (examples.length) {
      say(`Unexpected answers (the first few of each sub-phase):`);
      say();
      for (const s of examples) for (const e of s.examples) say(`- ${s.name}: \`${e.replace(/`/g, "'").replace(/\n/g, ' ')}\``);
      say();
    }
  }
  if (f.readyzChanges.length) {
    say(
      `/readyz where it changed (s since the fault phase began): ${f.readyzChanges.map((c) => `${fmt(c.t)} (${c.subPhase}) ${c.status}`).join('; ')}.`,
    );
    say();
  }
  if (f.memory) {
    say(
      `The gateway at the end of round 1's recovery: ${fmt(f.memory.baseline.rssMb, 0)} MB resident, ${f.memory.baseline.fds} fds, ${f.memory.baseline.sockets} sockets; at the end of round ${f.memory.rounds}'s (the same load, after the same faults again): ${fmt(f.memory.end.rssMb, 0)} MB, ${f.memory.end.fds} fds, ${f.memory.end.sockets} sockets. Over the phase (every 5 s):`,
    );
    say();
    say(`| t s | phase | RSS MB | anon MB | fds | sockets | threads | gateway CPU % |`);
    say(`| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
    for (const s of f.samples) {
      say(
        `| ${fmt(s.t, 0)} | ${s.phase.replace(/^fault: /, '')} | ${fmt(s.rssMb, 0)} | ${fmt(s.anonMb, 0)} | ${s.fds} | ${s.sockets} | ${s.threads} | ${fmt(s.gatewayCpuPct, 0)} |`,
      );
    }
    say();
  }
  if (f.lambdaStats) say(`The local Lambda endpoint over the phase: ${list(f.lambdaStats as unknown as Record<string, number>)}.`);
  say();
  for (const [name, log] of [
    ["The fault phase's gateway", f.log.gateway],
    ['The local Lambda endpoint', f.log.lambda],
  ] as const) {
    if (!log) continue;
    say(
      `${name}: ${log.lines} lines on stderr after the start.${log.notable.length ? ' Lines mentioning errors, failures, timeouts (numbers replaced by #), by count:' : ''}`,
    );
    say();
    if (log.notable.length) {
      say('```');
      for (const [line, count] of log.notable.slice(0, 12)) say(`${String(count).padStart(6)}  ${line}`);
      say('```');
      say();
    }
  }
}
