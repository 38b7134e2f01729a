// The report, in Markdown: the checks first, then every phase's figures.
import { relative } from 'node:path';

import { fmt, ROOT } from '../../lib';
import { counterTotal, METRICS_TIMEOUT_MS, QUEUE_GAUGE } from '../metrics';
import type { Run } from '../run';
import type { Sample } from '../sampler';
import { KINDS } from '../settings';
import { CLASSIFY_LABELS, FACETS } from '../workload';
import { faultMarkdown } from './faults';
import { kindTable, states } from './tables';

export function markdown(run: Run): string {
  const out: string[] = [];
  const say = (line = '') => out.push(line);
  const ms = (v: number | undefined | null) => (v === undefined || v === null || Number.isNaN(v) ? '—' : fmt(v, 0));
  const { settings } = run;
  const failed = run.checks.filter((c) => !c.passed && !c.info);
  say(`# Soak test`);
  say();
  say(
    run.error
      ? `**Did not complete: ${run.error}**`
      : failed.length
        ? `**${failed.length} check${failed.length === 1 ? '' : 's'} failed.**`
        : '**Every check passed.**',
  );
  say();
  say(
    `Run on ${run.startedAt} with \`${run.command}\`; ${String(run.machine.cpu)}, ${String(run.machine.cores)} cores, ${String(run.machine.memoryGiB)} GiB, Node ${String(run.machine.node)}${run.git ? `, commit ${run.git.commit.slice(0, 12)}${run.git.dirtyFiles ? ` with ${run.git.dirtyFiles} changed files` : ''}` : ''}.`,
  );
  say();
  const model = run.gateway.model;
  say(
    `Gateway: \`dist/gateway/index.js\` as its own process on ${run.gateway.origin ?? '127.0.0.1'}, SQLite in a fresh temporary \`DATA_DIR\` (removed afterwards), \`LOCAL_WORKERS\` and every other setting at the production defaults unless listed below. Allocator: ${settings.allocator.name}${settings.allocator.preload ? ` (\`LD_PRELOAD=${settings.allocator.preload}\`)` : ''}; ${settings.allocator.reason}. Model: ${settings.model === 'bench' ? '`bench/model` (ViT-B/32 shapes, random weights)' : 'the bundled tiny CLIP'}${model ? ` — \`${String(model.name)}\`, ${String(model.dim)} dims, ${String(model.dtype)}, ${String(model.backend)} on ${String(model.device)}` : ''}; ${settings.modelReason}.`,
  );
  say();
  say(
    `Environment set for the gateway: ${Object.entries(run.gateway.env)
      .map(([k, v]) => `\`${k}=${k === 'DATA_DIR' ? '<tmp>' : v}\``)
      .join(', ')}.`,
  );
  const inherited = Object.entries(run.gateway.inheritedEnv);
  say(`Gateway variables inherited from this shell: ${inherited.length ? inherited.map(([k, v]) => `\`${k}=${v}\``).join(', ') : 'none'}.`);
  say();

  say(`## Checks`);
  say();
  say(`| check | measured | bound | result |`);
  say(`| --- | --- | --- | :---: |`);
  for (const c of run.checks) say(`| ${c.name} | ${c.measured} | ${c.bound} | ${c.passed ? 'pass' : c.info ? 'note' : '**FAIL**'} |`);
  say();
  say(`Rows marked *note* are shown for the reader and do not set the exit code.`);
  say();

  say(`## Workload`);
  say();
  const weights = KINDS.filter((k) => settings.mix[k] > 0);
  const sum = weights.reduce((s, k) => s + settings.mix[k], 0);
  say(
    `Mix (share of requests): ${weights.map((k) => `${k} ${fmt((settings.mix[k] / sum) * 100, 0)}%`).join(', ')}. embedText: 4 texts; embedImage: 1 image; classify: 1 image × ${CLASSIFY_LABELS.length} labels (the same set every time), topK 3; similarity: 2 texts × 1 image; searchText / searchImage: productSearch first 10; upsert: productsUpsert of 1 new product (new id) with 1 image, answered with its tags. Every image is a distinct 640×480 JPEG (base64, ~50 KB; ${48} pictures, made distinct by a JPEG comment segment, so no cache or stored vector answers for the model) and every embedded text is distinct; classify's labels are cached after the first. Every load request has a ${settings.timeoutMs} ms client timeout${settings.deadlineMs ? ` and \`x-request-timeout-ms: ${settings.deadlineMs}\`` : ''}.`,
  );
  say();
  if (run.seeding) {
    say(
      `Seeded first: a taxonomy (${FACETS.map((f) => `${f.name}: ${f.labels.length} labels`).join(', ')}, single mode), ${run.seeding.products} products with base64 images and ${run.seeding.urlProducts} with image URLs on a local server that answers every fetch with other bytes (no validators), so that each \`taggingJobStart(reembed: true)\` over the whole catalogue embeds those again; ${fmt(run.seeding.seconds)} s.`,
    );
    say();
  }
  if (run.burst) {
    const b = run.burst;
    say(
      `Burst, on the idle gateway: ${b.requests} classify requests of one distinct image each, first one at a time (${b.aloneServed} served), then all at once: ${b.served} served, ${b.sameAsAlone} with the answer they got alone, ${b.refused} refused with \`OVERLOADED\`, ${b.failed} failed otherwise; all answered in ${fmt(b.seconds, 1)} s.`,
    );
    say();
  }

  if (run.capacity) {
    const c = run.capacity;
    say(`## Capacity (closed loop)`);
    say();
    say(
      `${c.concurrency} requests in flight for ${c.seconds} s (after an unmeasured warm-up), each sent when the previous answered (a worker pauses 100 ms after a refusal); no tagging job. **${fmt(c.okPerSecond)} requests/s succeeded** (answered within the window): ${Object.entries(
        c.perKindOkPerSecond,
      )
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}.`,
    );
    say();
    kindTable(say, c.tally, ms);
  }

  if (run.soak) {
    const s = run.soak;
    say(`## Soak (open loop)`);
    say();
    say(
      `Target ${fmt(s.targetRate)} requests/s (${settings.rate !== undefined ? '--rate' : `${settings.rateMultiplier} × capacity`}) for ${fmt(s.seconds, 0)} s: ${s.scheduled} scheduled, ${s.sent} sent (${fmt(s.achievedRate)}/s), ${s.skippedAtCap} skipped at the client's in-flight cap (${settings.maxInFlight}); load generator lag p99 ${fmt(s.scheduleLagMs.p99, 0)} ms, max ${fmt(s.scheduleLagMs.max, 0)} ms. CPU over the soak: gateway ${fmt(s.gatewayCpuMs / 1000 / s.seconds, 2)} cores, load generator ${fmt(s.loadGeneratorCpuMs / 1000 / s.seconds, 2)} cores (of ${String(run.machine.cores)}). A tagging job (\`reembed: true\`, whole catalogue) every ${settings.jobEverySeconds} s when none runs, polled every 2 s. The kernel's TCP counters over the load (machine-wide): ${states(s.kernel)}.`,
    );
    say();
    say(
      `Latencies are of admitted requests (answered 2xx with no error and the expected shape); "refused" ones of whole-request refusals (503 OVERLOADED, 429).`,
    );
    say();
    kindTable(say, s.tally, ms);
  }

  if (run.jobs.length) {
    say(`## Tagging jobs`);
    say();
    say(`| job | started at s | status | processed / total | failed | finished at s | polls | first error |`);
    say(`| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |`);
    for (const j of run.jobs) {
      const error = j.errors?.[0] ? `${j.errors[0].code}: ${j.errors[0].message.slice(0, 120)}` : (j.startProblem ?? '');
      say(
        `| ${j.id ?? `(${j.key}, not started)`} | ${fmt(j.startedAtS, 0)} | ${j.status ?? '—'} | ${j.processed ?? '—'} / ${j.total ?? '—'} | ${j.failed ?? '—'} | ${j.finishedAtS === undefined ? '—' : fmt(j.finishedAtS, 0)} | ${j.polls} | ${error.replace(/\|/g, '/')} |`,
      );
    }
    say();
  }

  if (run.samples.length) {
    const queueSeries = [...new Set(run.samples.flatMap((s) => Object.keys(s.metrics?.gauges ?? {})))].filter((k) =>
      QUEUE_GAUGE.test(k.split('{')[0]),
    );
    say(`## The gateway process over time`);
    say();
    say(
      `Every ${settings.sampleSeconds} s: VmRSS and its anonymous (RssAnon: allocated) and file-backed (RssFile: mapped files, mostly the memory-mapped SQLite catalogue) parts from /proc/<pid>/status, descriptors and sockets from /proc/<pid>/fd, CPU from /proc/<pid>/stat (100% = one core); counts are of the period since the previous sample; accept queue and established connections on the gateway's port from /proc/net/tcp (connections the kernel holds that the gateway has not accepted yet: they have no fd in the gateway); listen overflows: connection attempts the kernel dropped in the period because an accept queue was full (TcpExt ListenOverflows, machine-wide); other CPU: the machine's busy time (/proc/stat) less the gateway's and the load generator's, i.e. other work on a shared machine; images and texts inferred and batch time % (the summed durations of inference batches as the gateway times them, over the period: over 100% when batches overlap or wait for the worker) from the gateway's batch_size and inference_seconds histograms, since the previous sample that had /metrics; event-loop p99 from /metrics (reset by each read, so over the period; \`timeout\`: /metrics did not answer in ${METRICS_TIMEOUT_MS / 1000} s).${queueSeries.length ? '' : ' /metrics has no queue-size gauge yet (none named like queue, in flight, pending, admission).'}`,
    );
    say();
    const shown = queueSeries.slice(0, 4);
    say(
      `| t s | phase | RSS MB | anon MB | file MB | fds | sockets | threads | gateway CPU % | load gen CPU % | other CPU % | client in flight | accept queue | established | listen overflows | sent | ok | refused | deadline | failed (connection, other) | timeouts | ok p99 ms | images inferred | texts inferred | batch time % | loop p99 ms |${shown.map((q) => ` ${q} |`).join('')}`,
    );
    say(
      `| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${shown.map(() => ' ---: |').join('')}`,
    );
    const soakSamples = run.samples.filter((s) => s.phase === 'soak');
    // At most ~40 rows: every n-th of the soak, and every sample of the other phases.
    const every = Math.max(1, Math.ceil(soakSamples.length / 40));
    // What the model did between this sample and the previous one with metrics: inputs inferred
    // (batch_size_sum) and the summed batch durations over the period (inference_seconds_sum).
    let previous: Sample | undefined;
    const work = new Map<Sample, string>();
    for (const s of run.samples) {
      if (!s.metrics) continue;
      if (previous?.metrics) {
        const d = (prefix: string) => counterTotal(s.metrics!, prefix) - counterTotal(previous!.metrics!, prefix);
        const seconds = s.t - previous.t;
        work.set(
          s,
          `${d('clip_gateway_batch_size_sum{kind="image"')} | ${d('clip_gateway_batch_size_sum{kind="text"')} | ${seconds > 0 && s.phase === 'soak' ? fmt((d('clip_gateway_inference_seconds_sum') / seconds) * 100, 0) : '—'}`,
        );
      }
      previous = s;
    }
    run.samples.forEach((s) => {
      const index = soakSamples.indexOf(s);
      if (index >= 0 && index % every !== 0 && index !== soakSamples.length - 1) return;
      const p = s.period;
      const lag = s.metrics?.gauges.nodejs_eventloop_lag_p99_seconds;
      say(
        `| ${fmt(s.t, 0)} | ${s.phase} | ${fmt(s.rssMb, 0)} | ${fmt(s.anonMb, 0)} | ${fmt(s.fileMb, 0)} | ${s.fds} | ${s.sockets} | ${s.threads} | ${fmt(s.gatewayCpuPct, 0)} | ${fmt(s.loadGeneratorCpuPct, 0)} | ${fmt(s.otherCpuPct, 0)} | ${s.clientInFlight} | ${s.tcp?.acceptQueue ?? '—'} | ${s.tcp?.established ?? '—'} | ${s.kernel?.ListenOverflows ?? '—'} | ${p?.sent ?? ''} | ${p?.ok ?? ''} | ${p?.refused ?? ''} | ${p?.deadline ?? ''} | ${p?.failed ?? ''} | ${p?.timeouts ?? ''} | ${p ? ms(p.okP99Ms) : ''} | ${work.get(s) ?? '— | — | —'} | ${lag === undefined ? (s.metricsError ?? '—') : fmt(lag * 1000, 1)} |${shown.map((q) => ` ${s.metrics?.gauges[q] ?? '—'} |`).join('')}`,
      );
    });
    say();
    const gaugeNames = [...new Set(soakSamples.flatMap((s) => Object.keys(s.metrics?.gauges ?? {})))].sort();
    if (gaugeNames.length) {
      say(`Gauges from /metrics over the soak's samples:`);
      say();
      say(`| gauge | min | max | last |`);
      say(`| --- | ---: | ---: | ---: |`);
      for (const name of gaugeNames) {
        const values = soakSamples.map((s) => s.metrics?.gauges[name]).filter((v): v is number => v !== undefined);
        const show = (v: number) => (Math.abs(v) >= 1e5 ? `${fmt(v / 2 ** 20, 1)} Mi` : String(Math.round(v * 1000) / 1000));
        say(`| ${name} | ${show(Math.min(...values))} | ${show(Math.max(...values))} | ${show(values[values.length - 1])} |`);
      }
      say();
    }
    // The gateway's own counters over the soak: from the idle sample before it to the one after the load.
    const first = run.samples.find((x) => x.phase === 'idle before')?.metrics?.counters;
    const last = [...run.samples].reverse().find((x) => x.phase !== 'idle after' && x.metrics)?.metrics?.counters;
    if (first && last) {
      const deltas = Object.entries(last)
        .filter(([k]) => /^clip_gateway_.*_total/.test(k))
        .map(([k, v]) => [k, v - (first[k] ?? 0)] as const)
        .filter(([, d]) => d !== 0);
      if (deltas.length) {
        say(`The gateway's own counters over the soak (from the idle sample before it to the last sample of the load or after it):`);
        say();
        say(`| counter | increase |`);
        say(`| --- | ---: |`);
        for (const [k, d] of deltas) say(`| ${k} | ${d} |`);
        say();
      }
    }
  }

  if (run.afterLoad) {
    say(`## After the load`);
    say();
    const a = run.afterLoad;
    say(
      `The answers still out came back (or timed out) in ${fmt(a.drainSeconds)} s; the gateway was ${a.idle ? '' : '**not** '}idle ${fmt(a.idleSeconds)} s after the load ended${a.jobsFinished ? '' : ', with the tagging job unfinished'}. Idle descriptors (no client connection): before the soak ${run.idleBefore?.fds} fds / ${run.idleBefore?.sockets} sockets (RSS ${fmt(run.idleBefore?.rssMb ?? NaN, 0)} MB), after it ${run.idleAfter?.fds ?? '—'} / ${run.idleAfter?.sockets ?? '—'} (RSS ${fmt(run.idleAfter?.rssMb ?? NaN, 0)} MB).${
        run.idleSocketStates
          ? ` The gateway's sockets by state, before: ${states(run.idleSocketStates.before)}; after: ${states(run.idleSocketStates.after)}.`
          : ''
      }`,
    );
    say();
  }
  if (run.readBack) {
    const r = run.readBack;
    say(
      `Read-back (product(id) with tags, 8 at a time, ${fmt(r.seconds)} s): ${r.written} products written (seeded and every upsert answered with success), ${r.read} read, ${r.found} found, ${r.missing.length} missing${r.missing.length ? ` (${r.missing.slice(0, 10).join(', ')}${r.missing.length > 10 ? ', ...' : ''})` : ''}, ${r.unreadable.length} unreadable, ${r.wrongTags.length} without their title or one tag per facet${r.wrongTags.length ? ` (${r.wrongTags.slice(0, 10).join(', ')})` : ''}. Upserts whose answer was lost (timeout, cut connection, 5xx): ${r.unconfirmed.total}, of which ${r.unconfirmed.present} were written anyway.`,
    );
    say();
  }

  say(`## Gateway log`);
  say();
  say(
    `${run.log.lines} lines on stderr after the start.${run.log.notable.length ? ' Lines mentioning errors, failures, warnings, timeouts (numbers replaced by #), by count:' : ''}`,
  );
  say();
  if (run.log.notable.length) {
    say('```');
    for (const [line, count] of run.log.notable) say(`${String(count).padStart(6)}  ${line}`);
    say('```');
    say();
  }
  if (run.log.tail.length) {
    say(`Last lines:`);
    say();
    say('```');
    for (const line of run.log.tail.slice(-10)) say(line.slice(0, 300));
    say('```');
    say();
  }
  faultMarkdown(say, run);
  say(`Settings: \`${JSON.stringify({ ...settings, out: relative(ROOT, settings.out) || '.' })}\``);
  say();
  return `${out.join('\n')}\n`;
}
