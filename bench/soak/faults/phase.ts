// The fault phase: the gateway on its Lambda backend while the function misbehaves.
//
// A second gateway (INFERENCE_BACKEND=lambda: the real AWS SDK, retries, circuit breaker) in front
// of the local stand-in for the Lambda Invoke API (dist/functions/lambda-local/main.js, the bundled
// tiny CLIP: what is tested is how failures are handled, not the model's speed), on a fresh
// DATA_DIR, with short REMOTE_TIMEOUT_MS and CIRCUIT_COOLDOWN_MS so that each sort of failure
// shows within seconds. A moderate open-loop load (embed texts, embed an image, classify) runs
// through sub-phases; in each fault sub-phase every invocation meets the fault (the stand-in's
// queue is kept topped up: retries and readiness probes included), and after each the faults are
// cleared and the gateway must serve again within a bound. The expectations are the README's
// "The Lambda backend under failure" table.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { fmt, makeJpegs, spread, startGatewayProcess, startLambdaLocalProcess } from '../../lib';
import type { Client } from '../client';
import { logCollector } from '../log';
import { judge } from '../outcome';
import { closeClient, held, newClient, stopFaultProcesses, timers } from '../processes';
import { progress, sleep } from '../progress';
import type { Run } from '../run';
import { Sampler, type Sample } from '../sampler';
import { KINDS, type MixKind } from '../settings';
import { Workload } from '../workload';
import { FaultInjector } from './injector';
import { faultBounds, faultGatewayEnv, remoteSettings } from './setup';
import { subPhaseSpecs } from './specs';
import { summarise } from './summary';
import type { FaultPhaseReport, FaultRecord, LambdaStats, ReadyzPoll, SubPhaseState } from './types';

export async function faultPhase(run: Run): Promise<void> {
  const { settings } = run;
  const report: FaultPhaseReport = {
    rate: settings.faultRate,
    subPhaseSeconds: settings.faultSeconds,
    rounds: settings.faultRounds,
    env: {},
    subPhases: [],
    readyzChanges: [],
    samples: [],
    injectionErrors: 0,
    exits: [],
    log: {},
    checks: [],
  };
  run.faults = report;
  const phaseStart = performance.now();
  const nowMs = () => performance.now() - phaseStart;
  // A process gone before it is stopped is a failure of its own; `stopping` tells the two apart.
  let stopping = false;
  const watchExit = (name: string, child: ChildProcess) =>
    child.once('exit', (code, signal) => {
      if (!stopping) {
        report.exits.push({ process: name, code, signal, atS: nowMs() / 1000 });
        progress(`fault phase: the ${name} exited (${code ?? signal})`);
      }
    });
  const lambdaLog = logCollector();
  const gatewayLog = logCollector();
  const opened: Client[] = [];
  const open = (origin: string, timeoutMs: number, keepAlive = true) => {
    const client = newClient(origin, timeoutMs, keepAlive);
    opened.push(client);
    return client;
  };
  let injector: FaultInjector | undefined;
  // The load and the /readyz polls run while this is set; false in `finally` whatever happened.
  let running = false;
  try {
    // 1. The function: the local Lambda endpoint, bundled tiny CLIP (blank CLIP_MODEL_DIR and CLIP_MODEL).
    progress('fault phase: starting the local Lambda endpoint (bundled tiny CLIP)');
    const lambdaLocal = await startLambdaLocalProcess(
      { CLIP_MODEL_DIR: '', CLIP_MODEL: '', LAMBDA_FUNCTION_NAME: 'clip' },
      { onLog: lambdaLog.onLog, startTimeoutMs: 120_000 },
    );
    held.lambdaLocal = lambdaLocal;
    report.lambdaOrigin = lambdaLocal.origin;
    watchExit('local Lambda endpoint', lambdaLocal.child);

    // 2. Its gateway, with short remote timeouts (see faultGatewayEnv), and the bounds they give.
    const faultDataDir = mkdtempSync(join(tmpdir(), 'clip-soak-faults-'));
    held.faultDataDir = faultDataDir;
    const env = faultGatewayEnv(settings, faultDataDir, lambdaLocal.origin);
    report.env = env;
    const remote = remoteSettings(env);
    const bounds = faultBounds(remote);
    report.remote = remote;
    report.bounds = bounds;
    progress(`fault phase: starting a gateway on the Lambda backend at ${lambdaLocal.origin}`);
    const faultGateway = await startGatewayProcess(env, {
      onLog: gatewayLog.onLog,
      startTimeoutMs: 120_000,
      script: settings.gatewayScript,
    });
    held.faultGateway = faultGateway;
    report.gatewayOrigin = faultGateway.origin;
    watchExit('gateway', faultGateway.child);
    const pid = faultGateway.child.pid!;

    // Every client here has a timeout past the answer bound: an answer slower than the bound is
    // measured (and fails the check) rather than cut off, and nothing can hang the script.
    const load = open(faultGateway.origin, bounds.answerMs + 10_000);
    const control = open(faultGateway.origin, 10_000, false);
    const ready = open(faultGateway.origin, 5_000, false);
    const lambdaControl = open(lambdaLocal.origin, 5_000, false);
    injector = new FaultInjector(lambdaControl);
    const sampler = new Sampler(pid, Number(new URL(faultGateway.origin).port), control);
    const modelAnswer = judge(
      await control.request('POST', '/graphql', JSON.stringify({ query: '{ model { name dim imageSize backend } }' })),
    );
    if (!modelAnswer.ok)
      throw new Error(`the fault phase's gateway did not describe its model: ${modelAnswer.status} ${modelAnswer.problem ?? ''}`);
    const model = modelAnswer.data!.model as { dim: number } & Record<string, unknown>;
    report.model = model;
    const lambdaStats = async (): Promise<LambdaStats | undefined> => {
      const answer = await lambdaControl.request('GET', '/_local/stats');
      return answer.kind === 'response' && answer.status === 200 ? (JSON.parse(answer.text) as LambdaStats) : undefined;
    };

    // 3. The load: open loop at faultRate, an equal mix of embedText (4 texts), embedImage and
    // classify (labels cached after the first): every input distinct, so every one is a call.
    const jpegs = await makeJpegs(16, 11);
    const mix = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<MixKind, number>;
    Object.assign(mix, { embedText: 1, embedImage: 1, classify: 1 });
    const workload = new Workload(jpegs, model.dim, mix);
    const specs = subPhaseSpecs(remote, settings.faultRounds);
    const records: FaultRecord[] = [];
    const states: SubPhaseState[] = specs.map(() => ({ startMs: 0, endMs: 0, streak: 0, pending: 0, lambdaBefore: undefined }));
    const polls: ReadyzPoll[] = [];
    let current = 0;
    running = true;
    const pending = new Set<Promise<void>>();
    const send = async () => {
      const sub = current;
      const state = states[sub];
      state.pending++;
      const built = workload.build(workload.pick());
      const sentMs = nowMs();
      const o = judge(await load.request('POST', '/graphql', built.body), built.check);
      records.push({ sub, sentMs, latencyMs: nowMs() - sentMs, o });
      state.streak = o.ok ? state.streak + 1 : 0;
      state.pending--;
    };
    const interval = 1000 / settings.faultRate;
    const loadStart = nowMs();
    const loadLoop = (async () => {
      for (let i = 0; running;) {
        while (running && loadStart + i * interval <= nowMs()) {
          i++;
          const promise = send();
          pending.add(promise);
          void promise.finally(() => pending.delete(promise));
        }
        await sleep(Math.max(1, Math.min(20, loadStart + i * interval - nowMs())));
      }
    })();
    // /readyz twice a second, one poll at a time (each within the client's 5 s).
    const pollLoop = (async () => {
      while (running) {
        const sub = current;
        const tMs = nowMs();
        const answer = await ready.request('GET', '/readyz');
        polls.push({ sub, tMs, status: answer.kind === 'response' ? String(answer.status) : answer.kind, latencyMs: nowMs() - tMs });
        await sleep(500);
      }
    })();
    // Samples every 5 s and at the two moments compared, one at a time (the sampler is not reentrant).
    let sampling: Promise<unknown> = Promise.resolve();
    const sample = (phase: string) => {
      const taken = sampling.then(() => sampler.take(nowMs() / 1000, phase, load));
      sampling = taken.catch(() => undefined);
      return taken;
    };
    const sampleTimer = setInterval(() => void sample(`fault: ${specs[current].name}`).catch(() => undefined), 5000);
    timers.add(sampleTimer);

    // 4. The sub-phases. At a boundary the faults are cleared first and the next sub-phase begins
    // at once (its recovery is timed from the clear); before new faults go in, the previous
    // sub-phase's requests are let finish, so that none of them is judged by a fault of the next.
    // Memory and descriptors at the end of each round's recovery (the same load as the baseline).
    const roundEnds: Sample[] = [];
    /** Where each round's samples end (an index into sampler.samples). */
    const roundSampleEnds: number[] = [];
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i];
      const state = states[i];
      current = i;
      state.startMs = nowMs();
      state.lambdaBefore = await lambdaStats();
      if (spec.faults) {
        const waitUntil = nowMs() + bounds.answerMs + 10_000;
        while (i > 0 && states[i - 1].pending > 0 && nowMs() < waitUntil) await sleep(20);
        await injector.start(spec.faults);
      }
      progress(`fault phase: ${spec.name}: ${spec.what}`);
      if (spec.recovery === 'settle') {
        const limit = state.startMs + bounds.recoveryMs + 5000;
        const lastReady = () => [...polls].reverse().find((p) => p.sub === i)?.status;
        while (nowMs() < limit && !(state.streak >= 5 && lastReady() === '200')) await sleep(100);
      } else {
        await sleep(settings.faultSeconds * 1000);
      }
      if (spec.faults) await injector.stop();
      state.endMs = nowMs();
      if (spec.recovery === 'full') {
        roundEnds.push(await sample(`fault: ${spec.name} (end)`));
        roundSampleEnds.push(sampler.samples.length);
      }
    }
    const endStats = await lambdaStats();
    running = false;
    clearInterval(sampleTimer);
    timers.delete(sampleTimer);
    await loadLoop;
    await pollLoop;
    await Promise.all(pending);
    await sampling;
    report.seconds = nowMs() / 1000;
    report.lambdaStats = endStats;
    report.injectionErrors = injector.errors;
    report.samples = sampler.samples.map(({ t, phase, rssMb, anonMb, peakRssMb, fds, sockets, threads, gatewayCpuPct }) => ({
      t,
      phase,
      rssMb,
      anonMb,
      peakRssMb,
      fds,
      sockets,
      threads,
      gatewayCpuPct,
    }));
    if (roundEnds.length >= 2) {
      const pick = (s: Sample) => ({ rssMb: s.rssMb, anonMb: s.anonMb, fds: s.fds, sockets: s.sockets });
      const anonOf = (from: number, to: number) => spread(sampler.samples.slice(from, to).map((s) => s.anonMb)).median;
      const rounds = roundSampleEnds.length;
      report.memory = {
        baseline: pick(roundEnds[0]),
        end: pick(roundEnds[roundEnds.length - 1]),
        rounds: roundEnds.length,
        medianAnonMb: { first: anonOf(0, roundSampleEnds[0]), last: anonOf(roundSampleEnds[rounds - 2], roundSampleEnds[rounds - 1]) },
      };
    }

    // 5. What each sub-phase saw, and its checks.
    summarise(report, { specs, states, records, polls, samples: sampler.samples, endStats, bounds });
    progress(`fault phase: done in ${fmt(report.seconds, 0)} s`);
  } finally {
    // Whatever happened: the processes stopped (their exits are expected from here on), the clients closed.
    stopping = true;
    running = false;
    await injector?.stop().catch(() => undefined);
    for (const client of opened) closeClient(client);
    await stopFaultProcesses();
    report.log = { gateway: gatewayLog.summary(), lambda: lambdaLog.summary() };
  }
}
