// The soak's command line: its usage, the settings it parses (each checked where it enters, named
// and quoted when it is wrong), and the mix of request kinds.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ROOT } from '../lib';

export const USAGE = `Usage: npm run soak -- [options]

  --minutes N              length of the open-loop soak (default 10; fractions allowed)
  --rate-multiplier X      arrival rate as a multiple of the measured capacity (default 2)
  --rate R                 a fixed arrival rate in requests/s instead (the capacity is still measured
                           unless --capacity-seconds 0)
  --model tiny|bench       the bundled tiny CLIP, or bench/model (ViT-B/32 shapes, random weights);
                           default: bench/model when present, else tiny
  --capacity-seconds N     closed-loop capacity phase (default 30)
  --concurrency N          requests in flight in the capacity phase (default 32)
  --out DIR                where report.md and report.json go (default test-artifacts/soak)
  --p99-bound-ms N         fail when any kind's admitted p99 latency exceeds N ms (default: no bound)
  --timeout-ms N           client timeout of every request (default 30000)
  --deadline-ms N          x-request-timeout-ms sent with every load request (default 25000; 0: none)
  --sample-seconds N       gateway sampling period (default 10)
  --idle-timeout-seconds N longest wait for the gateway to go idle after the load (default 120)
  --burst N                single-image classify requests sent at once to the idle gateway before the
                           capacity phase; all must be served as when sent alone (default 200; 0: none)
  --refused-p99-bound-ms N fail when any kind's whole-request refusals take longer than N ms at p99
                           (default 250)
  --seed-products N        products upserted (base64 images) before the load (default 64)
  --url-products N         products with image URLs on a local image server, re-embedded by the
                           tagging jobs (default 16)
  --job-every-seconds N    a taggingJobStart(reembed: true) this often, when none is running (default 60)
  --max-in-flight N        client-side cap on requests in flight; above it a request is not sent
                           and is counted as skipped (default 8000, less than the open-file limit)
  --memory-tolerance X     allowed resident-memory growth, as a fraction (default 0.10)
  --mix kind=w,...         weights of the mix (embedText, embedImage, classify, similarity,
                           searchText, searchImage, upsert; default 15,15,15,10,15,10,20)
  --gateway FILE           the gateway entry to run (default dist/gateway/index.js), e.g. an older
                           build to compare
  --env KEY=VALUE          an extra variable for the gateway process (repeatable), e.g.
                           --env ADMISSION_MAX_WAIT_MS=5000; the fault phase's gateway gets it too
                           (REMOTE_* and CIRCUIT_* included: the bounds follow them)
  --allocator glibc|jemalloc
                           the gateways' malloc: glibc's own (default, as the container image runs
                           it) or jemalloc through LD_PRELOAD (Debian's libjemalloc2), to compare
  --no-faults              skip the fault phase (by default it runs after the soak: the gateway on
                           its Lambda backend while the local function hangs, is throttled, answers
                           garbage, fails with 5xx, and recovers)
  --fault-seconds N        length of each fault sub-phase (default 20; a baseline, then 5 a round
                           and the recoveries between: about 4.5 minutes in all with 2 rounds);
                           much shorter, the gateway is still growing into its working size at the
                           end of round 1 and the memory comparison between rounds says so
  --fault-rate R           the fault phase's open-loop arrival rate, requests/s (default 5)
  --fault-rounds N         how many times the faults are played (default 2); the gateway's memory
                           and descriptors at the end of the last round's recovery are compared
                           with the first round's, so that a young process's growth does not count
                           and a leak per fault does
  --help
`;

export const KINDS = ['embedText', 'embedImage', 'classify', 'similarity', 'searchText', 'searchImage', 'upsert'] as const;
export type MixKind = (typeof KINDS)[number];
/** Requests made besides the mix, counted the same way. */
export type Kind = MixKind | 'taggingJobStart' | 'taggingJob' | 'readBack' | 'seed';
export const DEFAULT_MIX: Record<MixKind, number> = {
  embedText: 15,
  embedImage: 15,
  classify: 15,
  similarity: 10,
  searchText: 15,
  searchImage: 10,
  upsert: 20,
};

export interface Settings {
  minutes: number;
  rateMultiplier: number;
  rate?: number;
  model: 'tiny' | 'bench';
  modelReason: string;
  /** LD_PRELOAD for the gateways: the jemalloc library, or none for glibc's malloc. */
  allocator: { name: 'jemalloc' | 'glibc'; preload?: string; reason: string };
  capacitySeconds: number;
  concurrency: number;
  out: string;
  p99BoundMs?: number;
  timeoutMs: number;
  deadlineMs: number;
  sampleSeconds: number;
  idleTimeoutSeconds: number;
  burst: number;
  refusedP99BoundMs: number;
  seedProducts: number;
  urlProducts: number;
  jobEverySeconds: number;
  maxInFlight: number;
  gatewayScript: string;
  memoryTolerance: number;
  mix: Record<MixKind, number>;
  env: Record<string, string>;
  faults: boolean;
  faultSeconds: number;
  faultRate: number;
  faultRounds: number;
}

export class UsageError extends Error {}

export function parseSettings(argv: string[]): Settings | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    // --no-faults: the negation of the boolean --faults (Node ≥ 20.16).
    allowNegative: true,
    options: {
      minutes: { type: 'string', default: '10' },
      'rate-multiplier': { type: 'string', default: '2' },
      rate: { type: 'string' },
      model: { type: 'string' },
      'capacity-seconds': { type: 'string', default: '30' },
      concurrency: { type: 'string', default: '32' },
      out: { type: 'string', default: join(ROOT, 'test-artifacts', 'soak') },
      'p99-bound-ms': { type: 'string' },
      'timeout-ms': { type: 'string', default: '30000' },
      'deadline-ms': { type: 'string', default: '25000' },
      'sample-seconds': { type: 'string', default: '10' },
      'idle-timeout-seconds': { type: 'string', default: '120' },
      burst: { type: 'string', default: '200' },
      'refused-p99-bound-ms': { type: 'string', default: '250' },
      'seed-products': { type: 'string', default: '64' },
      'url-products': { type: 'string', default: '16' },
      'job-every-seconds': { type: 'string', default: '60' },
      'max-in-flight': { type: 'string', default: '8000' },
      gateway: { type: 'string', default: join(ROOT, 'dist', 'gateway', 'index.js') },
      'memory-tolerance': { type: 'string', default: '0.10' },
      mix: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      allocator: { type: 'string' },
      faults: { type: 'boolean', default: true },
      'fault-seconds': { type: 'string', default: '20' },
      'fault-rate': { type: 'string', default: '5' },
      'fault-rounds': { type: 'string', default: '2' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const number = (name: keyof typeof values, { min = 0, integer = false, above = false } = {}): number => {
    const raw = values[name] as string;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || (above ? value <= min : value < min) || (integer && !Number.isInteger(value))) {
      throw new UsageError(
        `--${name} must be ${integer ? 'a whole number' : 'a number'} ${above ? 'above' : 'from'} ${min}, got ${JSON.stringify(raw)}`,
      );
    }
    return value;
  };
  const optional = (name: keyof typeof values, options: Parameters<typeof number>[1]) =>
    values[name] === undefined ? undefined : number(name, options);

  const benchPresent = existsSync(join(BENCH_MODEL_DIR, 'onnx', 'vision_model.onnx'));
  let model: Settings['model'];
  let modelReason: string;
  if (values.model === undefined) {
    model = benchPresent ? 'bench' : 'tiny';
    modelReason = benchPresent ? 'bench/model is present (default)' : 'bench/model is absent, so the bundled tiny CLIP (default)';
  } else if (values.model === 'tiny' || values.model === 'bench') {
    model = values.model;
    modelReason = `--model ${values.model}`;
    if (model === 'bench' && !benchPresent) {
      throw new UsageError(
        `--model bench: no model at ${BENCH_MODEL_DIR}; make it with /usr/bin/python3 scripts/bench_model/make_bench_model.py (see BENCHMARKS.md).`,
      );
    }
  } else {
    throw new UsageError(`--model must be tiny or bench, got ${JSON.stringify(values.model)}`);
  }

  let allocator: Settings['allocator'];
  if (values.allocator === undefined || values.allocator === 'glibc') {
    allocator = {
      name: 'glibc',
      reason: values.allocator === undefined ? "glibc's malloc, as in the container image (default)" : '--allocator glibc',
    };
  } else if (values.allocator === 'jemalloc') {
    const jemalloc = JEMALLOC_PATHS.find((path) => existsSync(path));
    if (!jemalloc) throw new UsageError(`--allocator jemalloc: none of ${JEMALLOC_PATHS.join(', ')} exists (apt-get install libjemalloc2)`);
    allocator = { name: 'jemalloc', preload: jemalloc, reason: '--allocator jemalloc' };
  } else {
    throw new UsageError(`--allocator must be glibc or jemalloc, got ${JSON.stringify(values.allocator)}`);
  }

  const mix = { ...DEFAULT_MIX };
  if (values.mix !== undefined) {
    for (const part of values.mix.split(',')) {
      const [kind, weight] = part.split('=').map((s) => s.trim());
      if (!(KINDS as readonly string[]).includes(kind) || !(Number(weight) >= 0)) {
        throw new UsageError(`--mix: ${JSON.stringify(part)} is not kind=weight with kind one of ${KINDS.join(', ')}`);
      }
      mix[kind as MixKind] = Number(weight);
    }
    if (Object.values(mix).every((w) => w === 0)) throw new UsageError('--mix: every weight is 0');
  }

  const env: Record<string, string> = {};
  for (const entry of values.env as string[]) {
    const at = entry.indexOf('=');
    if (at < 1) throw new UsageError(`--env must be KEY=VALUE, got ${JSON.stringify(entry)}`);
    env[entry.slice(0, at)] = entry.slice(at + 1);
  }

  return {
    minutes: number('minutes', { min: 0, above: true }),
    rateMultiplier: number('rate-multiplier', { min: 0, above: true }),
    rate: optional('rate', { min: 0, above: true }),
    model,
    modelReason,
    allocator,
    capacitySeconds: number('capacity-seconds', { min: 0 }),
    concurrency: number('concurrency', { min: 1, integer: true }),
    out: values.out!,
    p99BoundMs: optional('p99-bound-ms', { min: 0, above: true }),
    timeoutMs: number('timeout-ms', { min: 1, integer: true }),
    deadlineMs: number('deadline-ms', { min: 0, integer: true }),
    sampleSeconds: number('sample-seconds', { min: 1 }),
    idleTimeoutSeconds: number('idle-timeout-seconds', { min: 1 }),
    burst: number('burst', { integer: true }),
    refusedP99BoundMs: number('refused-p99-bound-ms', { min: 0, above: true }),
    seedProducts: number('seed-products', { min: 1, integer: true }),
    urlProducts: number('url-products', { min: 0, integer: true }),
    jobEverySeconds: number('job-every-seconds', { min: 1 }),
    maxInFlight: number('max-in-flight', { min: 1, integer: true }),
    gatewayScript: values.gateway!,
    memoryTolerance: number('memory-tolerance', { min: 0 }),
    mix,
    env,
    faults: values.faults!,
    faultSeconds: number('fault-seconds', { min: 1 }),
    faultRate: number('fault-rate', { min: 0, above: true }),
    faultRounds: number('fault-rounds', { min: 1, integer: true }),
  };
}

export const BENCH_MODEL_DIR = join(ROOT, 'bench', 'model');

/** Where Debian's libjemalloc2 puts jemalloc, for --allocator jemalloc. */
export const JEMALLOC_PATHS = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'];

/** The gateways' environment for the allocator chosen (an LD_PRELOAD given with --env wins). */
export function allocatorEnv(settings: Settings): Record<string, string> {
  return settings.allocator.preload ? { LD_PRELOAD: settings.allocator.preload } : {};
}
