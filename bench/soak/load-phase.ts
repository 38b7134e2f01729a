// The soak itself: open loop at the target rate for --minutes, sampled every --sample-seconds,
// with tagging jobs all along; then the answers still out, the running job and the gateway's
// queues let finish, all bounded by --idle-timeout-seconds.
import { fmt, processCpuMs } from '../lib';
import { TaggingJobs } from './jobs';
import { kernelCounters } from './kernel';
import { closeClient, newClient, timers } from './processes';
import { progress, sleep } from './progress';
import type { Session } from './session';
import { KINDS } from './settings';
import { percentile, Tally, Window } from './stats';

/** Runs the load and what follows it; returns the clock of the load (seconds since it began), which the later samples keep. */
export async function loadPhase(session: Session, targetRate: number): Promise<() => number> {
  const { run, settings, sampler, pid } = session;
  // The soak: open loop at targetRate for `minutes`, sampled every sampleSeconds, a tagging job
  // started every jobEverySeconds (when none runs) and polled every 2 s.
  const seconds = settings.minutes * 60;
  progress(`soak: ${fmt(targetRate)} requests/s for ${fmt(seconds, 0)} s (open loop)`);
  const client = newClient(session.origin, settings.timeoutMs);
  const tally = new Tally();
  let window = new Window();
  const pending = new Set<Promise<unknown>>();
  const soakStart = performance.now();
  const elapsedS = () => (performance.now() - soakStart) / 1000;
  const gatewayCpuBefore = processCpuMs(pid);
  const kernelBefore = kernelCounters();
  const ownCpuBefore = process.cpuUsage();
  const track = (promise: Promise<unknown>) => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise));
  };

  let sampling = false;
  const sampleTimer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    const w = window;
    window = new Window();
    sampler
      .take(elapsedS(), 'soak', client, w)
      .then((s) =>
        progress(
          `t=${fmt(s.t, 0)} s: ${w.sent} sent, ${w.ok} ok, ${w.refused} refused, ${w.deadline} deadline, ${w.failed} failed, ${w.timeouts} timeouts; ` +
            `RSS ${fmt(s.rssMb, 0)} MB (${fmt(s.anonMb, 0)} allocated), ${s.fds} fds (${s.sockets} sockets), ${s.clientInFlight} in flight`,
        ),
      )
      .catch((error: unknown) => progress(`sample failed: ${String(error)}`))
      .finally(() => (sampling = false));
  }, settings.sampleSeconds * 1000);
  timers.add(sampleTimer);

  const jobs = new TaggingJobs(session, client, tally, elapsedS);
  run.jobs = jobs.jobs;
  jobs.start();

  // The schedule: request i leaves at soakStart + i / rate. A tick every few ms sends all that are
  // due; how late each left (the load generator's own lag) is recorded.
  const total = Math.floor(seconds * targetRate);
  const interval = 1000 / targetRate;
  const lags: number[] = [];
  let scheduled = 0;
  let skipped = 0;
  while (scheduled < total) {
    const now = performance.now();
    while (scheduled < total && soakStart + scheduled * interval <= now) {
      lags.push(now - (soakStart + scheduled * interval));
      scheduled++;
      if (client.inFlight >= settings.maxInFlight) {
        skipped++;
        window.skipped++;
        continue;
      }
      track(session.sendMix(client, session.workload.pick(), tally, () => window));
    }
    const next = soakStart + scheduled * interval - performance.now();
    await sleep(Math.max(1, Math.min(20, next)));
  }
  const loadSeconds = elapsedS();
  clearInterval(sampleTimer);
  timers.delete(sampleTimer);
  while (sampling) await sleep(50);
  const w = window;
  window = new Window();
  await sampler.take(loadSeconds, 'soak', client, w);
  const sent = [...tally.kinds].filter(([k]) => (KINDS as readonly string[]).includes(k)).reduce((sum, [, s]) => sum + s.sent, 0);
  run.soak = {
    targetRate,
    seconds: loadSeconds,
    scheduled,
    sent,
    skippedAtCap: skipped,
    achievedRate: sent / loadSeconds,
    scheduleLagMs: { p99: percentile(lags, 0.99), max: lags.length ? Math.max(...lags) : 0 },
    tally: tally.summary(),
    gatewayCpuMs: processCpuMs(pid) - gatewayCpuBefore,
    kernel: Object.fromEntries(Object.entries(kernelCounters()).map(([k, v]) => [k, v - (kernelBefore[k] ?? v)])),
    loadGeneratorCpuMs: (() => {
      const used = process.cpuUsage(ownCpuBefore);
      return (used.user + used.system) / 1000;
    })(),
  };

  // After the load: the answers still out (each has its timeout), the running job finished,
  // the gateway idle, all bounded by idle-timeout-seconds.
  progress(`soak: load over; ${client.inFlight} requests still out`);
  jobs.open = false;
  const afterStart = performance.now();
  await Promise.all(pending);
  const drainSeconds = (performance.now() - afterStart) / 1000;
  const deadline = afterStart + settings.idleTimeoutSeconds * 1000;
  while (performance.now() < deadline) {
    if (jobs.finished) break;
    await sleep(1000);
  }
  await jobs.stop();
  const jobsFinished = jobs.finished;
  const idle = await session.waitForIdle(Math.max(1000, deadline - performance.now()));
  run.soak.tally = tally.summary();
  run.afterLoad = { drainSeconds, idle: idle.idle, idleSeconds: (performance.now() - afterStart) / 1000, jobsFinished };
  progress(
    `after the load: drained in ${fmt(drainSeconds)} s; ${idle.idle ? 'idle' : 'NOT idle'} after ${fmt(run.afterLoad.idleSeconds)} s`,
  );
  await sampler.take(elapsedS(), 'after load', client);
  closeClient(client);
  return elapsedS;
}
