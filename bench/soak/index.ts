// `npm run soak`: the gateway as a real process (dist/gateway/index.js) under open-loop load at
// about twice what it can serve, for minutes, with the catalogue written to and a tagging job
// running all along; then checks that it stayed healthy: no 5xx but explicit OVERLOADED refusals,
// resident memory and open descriptors flat, every product it said it wrote readable afterwards,
// admitted latency within a bound when one is given. Loopback only, bounded in time, and not part
// of `npm test` (it takes minutes and both cores). Writes test-artifacts/soak/report.md and
// report.json; exits 1 when a check fails, 2 when the soak could not run.
//
// Then, unless --no-faults, a fault phase of its own (4–5 minutes): a second gateway on its Lambda
// backend in front of the local stand-in for the Lambda Invoke API, under a moderate open-loop load
// while the function hangs, is throttled, answers garbage and fails with 5xx, and then recovers;
// each sort of failure must reach clients as its documented error code, in bounded time, with
// /readyz saying so while the circuit is open, and every request must succeed again soon after the
// faults stop (see faults/phase.ts).
//
// Open loop is the point: a closed-loop client (N in flight, the next sent when one returns) slows
// down with the gateway and can never send more than it serves, so it cannot overload it. Here
// requests leave at a fixed arrival rate whatever happens to the earlier ones, as from many
// independent users; each has a client timeout, so nothing can hang the script.
//
// Only Node built-ins and ../lib are imported, never gateway/: this script is built on its own
// (tsc on bench/soak/index.ts) without rebuilding the gateway another change may be editing, and it
// talks to the gateway only over HTTP, as a client would, so it works before and after the
// gateway learns admission control, deadlines and rate limits.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';

import { ROOT } from '../lib';
import { checks } from './checks';
import { faultChecks } from './faults/checks';
import { faultPhase } from './faults/phase';
import { cleanUp, killEverythingLeft, stopSoakGateway } from './processes';
import { progress } from './progress';
import { writeReport } from './report/write';
import { describeGit, describeMachine, type Run } from './run';
import { parseSettings, USAGE, type Settings } from './settings';
import { soakPhase } from './soak-phase';

async function entry(): Promise<number> {
  let settings: Settings | 'help';
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (settings === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!existsSync(settings.gatewayScript)) {
    process.stderr.write(`soak: ${settings.gatewayScript} is missing: build first (npm run soak does).\n`);
    return 2;
  }
  // Every request in flight holds a socket here and, once accepted, one in the gateway: the cap
  // stays under the open-file limit (the gateway inherits this process's), with room for the rest.
  const openFileLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  if (Number.isFinite(openFileLimit) && settings.maxInFlight > openFileLimit - 256) {
    settings.maxInFlight = Math.max(1, openFileLimit - 256);
    progress(`--max-in-flight lowered to ${settings.maxInFlight}: the open-file limit (ulimit -n) is ${openFileLimit}`);
  }
  const run: Run = {
    settings,
    // As typed when run through npm (npm_lifecycle_event is set), else this process's own arguments.
    command:
      process.env.npm_lifecycle_event === 'soak'
        ? `npm run soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
        : `node ${relative(ROOT, process.argv[1])} ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date().toISOString(),
    machine: describeMachine(),
    git: describeGit(),
    gateway: { env: {}, inheritedEnv: {} },
    jobs: [],
    samples: [],
    log: { lines: 0, notable: [], tail: [] },
    checks: [],
  };
  // Ctrl-C (the gateway, in this process group, gets it too) or a kill: stop everything, write
  // what there is, exit 130. A second signal exits at once; the exit hook below still kills.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress(`${signal}: stopping the gateway and cleaning up`);
    run.error = `interrupted (${signal})`;
    void cleanUp().finally(() => {
      try {
        writeReport(run);
      } finally {
        process.exit(130);
      }
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await soakPhase(run);
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  if (interrupted) return 130;
  if (run.checks.length === 0 && run.soak) run.checks = checks(run);
  if (settings.faults && !run.error) {
    // The soak's gateway has done its part: stopped, it takes neither memory nor CPU from the fault phase.
    await stopSoakGateway();
    try {
      await faultPhase(run);
    } catch (error) {
      if (run.faults) run.faults.error = error instanceof Error ? error.message : String(error);
      progress(`fault phase failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    if (interrupted) return 130;
    if (run.faults) run.checks.push(...faultChecks(run.faults));
  }
  await cleanUp();
  writeReport(run);
  if (run.error) return 2;
  return run.checks.some((c) => !c.passed && !c.info) ? 1 : 0;
}

// Whatever happens (an exception past every handler included), the gateway does not outlive this
// process and the temporary catalogue does not stay behind.
process.on('exit', killEverythingLeft);

void entry().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
