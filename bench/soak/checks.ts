// The soak's checks: no 5xx but explicit refusals, every written product read back, allocated
// memory and descriptors flat, and the figures shown for the reader.
import { fmt, spread } from '../lib';
import { METRICS_TIMEOUT_MS } from './metrics';
import type { CheckResult, Run } from './run';
import type { Sample } from './sampler';
import { KINDS } from './settings';

/** fd and socket allowance under load: 8, or 10% of the warm-up value when that is more. */
export const loadAllowance = (base: number) => Math.max(8, Math.ceil(base * 0.1));

export function checks(run: Run): CheckResult[] {
  const { settings, soak } = run;
  const results: CheckResult[] = [];
  if (!soak) return results;
  const mixKinds = Object.entries(soak.tally).filter(([k]) => (KINDS as readonly string[]).includes(k));
  const allKinds = Object.entries(soak.tally);

  // 5xx other than explicit OVERLOADED (503 + code OVERLOADED), over every request of the soak:
  // the mix, the job's requests and the read-back.
  const bad =
    allKinds.reduce((sum, [, s]) => sum + s.bad5xx, 0) +
    (run.capacity ? Object.values(run.capacity.tally).reduce((sum, s) => sum + s.bad5xx, 0) : 0);
  results.push({
    name: '5xx other than 503 OVERLOADED (capacity phase, soak, read-back)',
    measured: String(bad),
    bound: '0',
    passed: bad === 0,
  });

  const rb = run.readBack;
  if (rb) {
    const lost = rb.missing.length + rb.unreadable.length + rb.wrongTags.length;
    results.push({
      name: 'every product whose upsert succeeded reads back (product(id)) with its title and one tag per facet',
      measured: `${rb.found} of ${rb.written} found; ${rb.missing.length} missing, ${rb.unreadable.length} unreadable, ${rb.wrongTags.length} without their title or tags`,
      bound: 'all',
      passed: lost === 0 && rb.written > 0,
    });
  }

  // Memory and descriptors: a window of two minutes after the warm-up W of the soak's D seconds
  // against the last two minutes, each by its median. W = min(60 s, max(D/4, client timeout + one
  // sample period)): under overload the requests in flight (and the sockets and buffers they hold)
  // only stop growing once the oldest begin to time out, so a baseline taken before that measures
  // the ramp, not a leak. Medians, because V8's heap is a sawtooth (collected, then grown again:
  // 80 to 160 MB between two samples here) and the sockets follow the requests in flight at the
  // instant of a sample: a leak moves the median, a collection that has not happened yet does not.
  // Memory is the anonymous part of the resident set (RssAnon, what the gateway allocated): its
  // file-backed part is mostly the memory-mapped SQLite catalogue, which grows with every product
  // upserted by design and which the kernel drops under pressure, so it is shown and not judged.
  const samples = run.samples.filter((s) => s.phase === 'soak');
  const warmUp = Math.min(60, Math.max(soak.seconds / 4, settings.timeoutMs / 1000 + settings.sampleSeconds), soak.seconds);
  const span = Math.min(120, (soak.seconds - warmUp) / 2);
  const early = samples.filter((s) => s.t >= warmUp && s.t < warmUp + span);
  const late = samples.filter((s) => s.t > soak.seconds - span);
  if (early.length > 0 && late.length > 0 && early[early.length - 1].t < late[0].t) {
    const windowOf = (list: Sample[]) => `t = ${fmt(list[0].t, 0)}–${fmt(list[list.length - 1].t, 0)} s`;
    const median = (list: Sample[], value: (s: Sample) => number) => spread(list.map(value)).median;
    const change = (now: number, then: number) => `${now >= then ? '+' : ''}${fmt(((now - then) / then) * 100)}%`;
    const anon = (s: Sample) => s.anonMb;
    const [before, after] = [median(early, anon), median(late, anon)];
    const bound = before * (1 + settings.memoryTolerance);
    results.push({
      name: `allocated memory flat: median RssAnon over the last ${fmt(span / 60, 0)} minutes (${windowOf(late)}) ≤ ${fmt(1 + settings.memoryTolerance, 2)} × its median after the warm-up (${windowOf(early)})`,
      measured: `${fmt(after, 0)} MB (after the warm-up ${fmt(before, 0)} MB, ${change(after, before)}); highest sample over the second half ${fmt(Math.max(...samples.filter((s) => s.t >= soak.seconds / 2).map(anon)), 0)} MB`,
      bound: `${fmt(bound, 0)} MB`,
      passed: after <= bound,
    });
    // Outside V8's heap and Node's external buffers: ONNX Runtime, libvips, SQLite, the allocator.
    // A native leak grows this; the V8 heap's sawtooth does not move it.
    const native = (s: Sample) => {
      const gauges = s.metrics?.gauges;
      const heap = gauges?.nodejs_heap_size_total_bytes;
      const external = gauges?.nodejs_external_memory_bytes;
      return heap === undefined || external === undefined ? Number.NaN : s.anonMb - (heap + external) / 2 ** 20;
    };
    const [nativeBefore, nativeAfter] = [median(early, native), median(late, native)];
    if (Number.isFinite(nativeBefore) && Number.isFinite(nativeAfter)) {
      results.push({
        name: 'native memory, the same windows: RssAnon less the V8 heap and external buffers (from /metrics)',
        measured: `${fmt(nativeAfter, 0)} MB (after the warm-up ${fmt(nativeBefore, 0)} MB, ${change(nativeAfter, nativeBefore)})`,
        bound: 'shown, not judged',
        passed: false,
        info: true,
      });
    }
    const rss = (s: Sample) => s.rssMb;
    const file = (s: Sample) => s.fileMb;
    results.push({
      name: 'whole resident set (VmRSS), the same windows: allocated memory plus mapped files, the SQLite catalogue growing with its products',
      measured: `${fmt(median(late, rss), 0)} MB (after the warm-up ${fmt(median(early, rss), 0)} MB, ${change(median(late, rss), median(early, rss))}); file-backed ${fmt(median(early, file), 0)} → ${fmt(median(late, file), 0)} MB`,
      bound: 'shown, not judged',
      passed: false,
      info: true,
    });
    const base = (key: 'fds' | 'sockets') => median(early, (s) => s[key]);
    for (const key of ['fds', 'sockets'] as const) {
      const limit = base(key) + loadAllowance(base(key));
      const now = median(late, (s) => s[key]);
      results.push({
        name: `${key === 'fds' ? 'open file descriptors' : 'open sockets'} under load: median over the last ${fmt(span / 60, 0)} minutes vs after the warm-up, the same windows`,
        measured: `${fmt(now, 0)} (after the warm-up ${fmt(base(key), 0)})`,
        bound: `≤ ${fmt(limit, 0)}`,
        passed: now <= limit,
      });
    }
  } else {
    results.push({
      name: 'resident memory and descriptors: enough samples',
      measured: `${samples.length} samples`,
      bound: 'a warm-up and a second half',
      passed: false,
    });
  }
  if (run.idleBefore && run.idleAfter) {
    for (const [key, allowance] of [
      ['fds', 4],
      ['sockets', 2],
    ] as const) {
      const limit = run.idleBefore[key] + allowance;
      results.push({
        name: `${key === 'fds' ? 'open file descriptors' : 'open sockets'} idle after the soak (no client connection) vs idle before it`,
        measured: `${run.idleAfter[key]} (before ${run.idleBefore[key]})`,
        bound: `≤ ${limit}`,
        passed: run.idleAfter[key] <= limit,
      });
    }
  }

  if (run.burst) {
    const b = run.burst;
    results.push({
      name: `${b.requests} single-image classify requests at once on the idle gateway: every one served, as when sent alone`,
      measured: `${b.served} served (${b.sameAsAlone} as alone), ${b.refused} refused, ${b.failed} failed, in ${fmt(b.seconds, 1)} s`,
      bound: 'all served, none refused',
      passed: b.served === b.requests && b.sameAsAlone === b.requests && b.aloneServed === b.requests,
    });
  }

  const slowRefusals = mixKinds.filter(([, s]) => s.refusedLatencyMs && s.refusedLatencyMs.p99 > settings.refusedP99BoundMs);
  const worstRefusal = mixKinds.reduce((m, [, s]) => Math.max(m, s.refusedLatencyMs?.p99 ?? 0), 0);
  results.push({
    name: "whole-request refusals' p99 latency, every kind of the mix",
    measured: slowRefusals.length
      ? slowRefusals.map(([k, s]) => `${k} ${fmt(s.refusedLatencyMs!.p99, 0)} ms`).join(', ')
      : `worst ${fmt(worstRefusal, 0)} ms`,
    bound: `≤ ${settings.refusedP99BoundMs} ms`,
    passed: slowRefusals.length === 0,
  });

  if (settings.p99BoundMs !== undefined) {
    const over = mixKinds.filter(([, s]) => s.okLatencyMs && s.okLatencyMs.p99 > settings.p99BoundMs!);
    const worst = mixKinds.reduce((m, [, s]) => Math.max(m, s.okLatencyMs?.p99 ?? 0), 0);
    results.push({
      name: "admitted (successful) requests' p99 latency, every kind of the mix",
      measured: over.length ? over.map(([k, s]) => `${k} ${fmt(s.okLatencyMs!.p99, 0)} ms`).join(', ') : `worst ${fmt(worst, 0)} ms`,
      bound: `≤ ${settings.p99BoundMs} ms`,
      passed: over.length === 0,
    });
  }

  // Informational: shown for the reader, not part of the exit code.
  if (run.afterLoad) {
    results.push({
      name: 'gateway idle after the load (answers drained, job finished, inference batches and queues still)',
      measured:
        run.afterLoad.idle && run.afterLoad.jobsFinished
          ? `after ${fmt(run.afterLoad.idleSeconds)} s`
          : `not within ${fmt(run.afterLoad.idleSeconds, 0)} s${run.afterLoad.jobsFinished ? '' : ' (tagging job unfinished)'}`,
      bound: `≤ ${settings.idleTimeoutSeconds} s`,
      passed: run.afterLoad.idle && run.afterLoad.jobsFinished,
      info: true,
    });
  }
  const started = run.jobs.filter((j) => j.id);
  const failedJobs = started.filter((j) => j.status === 'FAILED' || j.status === 'CANCELLED');
  results.push({
    name: 'tagging jobs (reembed: true) finished SUCCEEDED',
    measured: `${started.filter((j) => j.status === 'SUCCEEDED').length} of ${started.length} started; ${failedJobs.length} failed or cancelled`,
    bound: 'all',
    passed: failedJobs.length === 0 && started.length > 0,
    info: true,
  });
  const soakSamples = run.samples.filter((s) => s.phase === 'soak');
  const unanswered = soakSamples.filter((s) => !s.metrics);
  results.push({
    name: `/metrics answered within ${METRICS_TIMEOUT_MS / 1000} s during the load`,
    measured: `${soakSamples.length - unanswered.length} of ${soakSamples.length} samples`,
    bound: 'all',
    passed: unanswered.length === 0,
    info: true,
  });
  const noRetryAfter = allKinds.reduce((sum, [, s]) => sum + s.refusalsWithoutRetryAfter, 0);
  results.push({
    name: 'whole-request refusals (503 OVERLOADED, 429) with a Retry-After header',
    measured: `${noRetryAfter} without`,
    bound: '0 without',
    passed: noRetryAfter === 0,
    info: true,
  });
  const internal = allKinds.reduce((sum, [, s]) => sum + (s.codes.INTERNAL_SERVER_ERROR ?? 0), 0);
  results.push({
    name: 'answers with INTERNAL_SERVER_ERROR in errors (any status)',
    measured: String(internal),
    bound: '0',
    passed: internal === 0,
    info: true,
  });
  const timeouts = mixKinds.reduce((sum, [, s]) => sum + s.timeouts + s.connectionErrors, 0);
  results.push({
    name: 'client-side timeouts and connection errors (mix)',
    measured: String(timeouts),
    bound: '0',
    passed: timeouts === 0,
    info: true,
  });
  results.push({
    name: 'open loop kept: requests skipped at --max-in-flight, load generator lag',
    measured: `${soak.skippedAtCap} skipped; lag p99 ${fmt(soak.scheduleLagMs.p99, 0)} ms, max ${fmt(soak.scheduleLagMs.max, 0)} ms`,
    bound: '0 skipped, lag max ≤ 1000 ms',
    passed: soak.skippedAtCap === 0 && soak.scheduleLagMs.max <= 1000,
    info: true,
  });
  return results;
}
