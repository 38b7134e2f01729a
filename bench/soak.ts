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
// faults stop (see "The fault phase" below).
//
// Open loop is the point: a closed-loop client (N in flight, the next sent when one returns) slows
// down with the gateway and can never send more than it serves, so it cannot overload it. Here
// requests leave at a fixed arrival rate whatever happens to the earlier ones, as from many
// independent users; each has a client timeout, so nothing can hang the script.
//
// Only Node built-ins and ./lib are imported, never gateway/: this script is built on its own
// (tsc on bench/soak.ts) without rebuilding the gateway another change may be editing, and it
// talks to the gateway only over HTTP, as a client would, so it works before and after the
// gateway learns admission control, deadlines and rate limits.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

import {
  fmt,
  makeJpegs,
  openFds,
  processCpuMs,
  processMemory,
  ROOT,
  seeded,
  spread,
  startGatewayProcess,
  startLambdaLocalProcess,
  type RunningGateway,
} from './lib';

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `Usage: npm run soak -- [options]

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
                           --env ADMISSION_MAX_IMAGES=64; the fault phase's gateway gets it too
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

const KINDS = ['embedText', 'embedImage', 'classify', 'similarity', 'searchText', 'searchImage', 'upsert'] as const;
type MixKind = (typeof KINDS)[number];
/** Requests made besides the mix, counted the same way. */
type Kind = MixKind | 'taggingJobStart' | 'taggingJob' | 'readBack' | 'seed';
const DEFAULT_MIX: Record<MixKind, number> = {
  embedText: 15,
  embedImage: 15,
  classify: 15,
  similarity: 10,
  searchText: 15,
  searchImage: 10,
  upsert: 20,
};

interface Settings {
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

class UsageError extends Error {}

function parseSettings(argv: string[]): Settings | 'help' {
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

const BENCH_MODEL_DIR = join(ROOT, 'bench', 'model');

/** Where Debian's libjemalloc2 puts jemalloc, for --allocator jemalloc. */
const JEMALLOC_PATHS = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'];

/** The gateways' environment for the allocator chosen (an LD_PRELOAD given with --env wins). */
function allocatorEnv(settings: Settings): Record<string, string> {
  return settings.allocator.preload ? { LD_PRELOAD: settings.allocator.preload } : {};
}

const started = performance.now();
/** Progress goes to stderr; stdout gets only the report. */
const progress = (message: string) => process.stderr.write(`[soak ${fmt((performance.now() - started) / 1000, 0)} s] ${message}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// HTTP: node:http with a keep-alive agent of its own per phase, so that closing a phase's client
// closes its sockets and the gateway's descriptor count can be compared between idle moments.

type Answer =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; text: string }
  | { kind: 'timeout' }
  | { kind: 'connection'; message: string };

class Client {
  private readonly agent: Agent;
  inFlight = 0;

  constructor(
    private readonly origin: URL,
    private readonly timeoutMs: number,
    keepAlive = true,
  ) {
    // No socket cap: an open loop must not queue requests in the client, where the gateway
    // would never see them (the cap is --max-in-flight, counted).
    // Idle sockets are closed after 4 s, before the gateway's keep-alive timeout (Node's default 5 s)
    // closes them under a request just sent: that race would count as a connection error.
    this.agent = new Agent({ keepAlive, maxSockets: Infinity, maxFreeSockets: 1024, timeout: 4000 });
  }

  request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    timeoutMs = this.timeoutMs,
  ): Promise<Answer> {
    return new Promise((resolve) => {
      this.inFlight++;
      let settled = false;
      const done = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight--;
        resolve(answer);
      };
      const req = httpRequest(
        {
          host: this.origin.hostname,
          port: this.origin.port,
          path,
          method,
          agent: this.agent,
          headers: {
            ...(body !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            done({ kind: 'response', status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (error) => done({ kind: 'connection', message: error.message }));
          res.on('close', () => {
            if (!res.complete) done({ kind: 'connection', message: 'response cut off' });
          });
        },
      );
      // The whole exchange, not socket inactivity: a gateway that trickles bytes is still a timeout.
      const timer = setTimeout(() => {
        done({ kind: 'timeout' });
        req.destroy();
      }, timeoutMs);
      // On a kept-alive socket, a reset is most likely the gateway closing it as idle just as this
      // request went out (a client-side race, not the gateway failing): said so in the message.
      req.on('error', (error) =>
        done({
          kind: 'connection',
          message: `${(error as NodeJS.ErrnoException).code ?? error.message}${req.reusedSocket ? ' (reused socket)' : ''}`,
        }),
      );
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Judging answers

interface GraphqlAnswer {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; extensions?: { code?: string } }[];
}

interface Outcome {
  ok: boolean;
  /** HTTP status, or `timeout` / `connection` when there was none. */
  status: string;
  /** extensions.code of each GraphQL error, and `userErrors:<code>` for each payload userError. */
  codes: string[];
  /** Why it is not ok (first error message, or what the shape check found). */
  problem?: string;
  data?: Record<string, unknown>;
  retryAfter?: string;
}

const has = (o: Outcome, code: string) => o.codes.includes(code) || o.codes.includes(`userErrors:${code}`);
const overloaded = (o: Outcome) => has(o, 'OVERLOADED');
const rateLimited = (o: Outcome) => o.status === '429' || has(o, 'RATE_LIMITED');
/** The one kind of 5xx the gateway may answer with: 503 refusing the whole request as OVERLOADED. */
const explicitOverload = (o: Outcome) => o.status === '503' && overloaded(o);
const bad5xx = (o: Outcome) => Number(o.status) >= 500 && !explicitOverload(o);

type Check = (data: Record<string, unknown>) => string | undefined;

function judge(answer: Answer, check?: Check): Outcome {
  if (answer.kind !== 'response')
    return { ok: false, status: answer.kind, codes: [], problem: answer.kind === 'connection' ? answer.message : undefined };
  const status = String(answer.status);
  const retryAfter = answer.headers['retry-after'];
  let body: GraphqlAnswer;
  try {
    body = JSON.parse(answer.text) as GraphqlAnswer;
  } catch {
    return { ok: false, status, codes: ['NOT_JSON'], problem: answer.text.slice(0, 200), retryAfter };
  }
  const codes = (body.errors ?? []).map((e) => e.extensions?.code ?? 'NO_CODE');
  const data = body.data ?? undefined;
  // Mutation payloads (Shopify-style) carry their failures in userErrors, not errors.
  for (const value of Object.values(data ?? {})) {
    const userErrors = (value as { userErrors?: { code?: string; message?: string }[] } | null)?.userErrors;
    for (const e of userErrors ?? []) codes.push(`userErrors:${e.code ?? 'NO_CODE'}`);
  }
  const firstMessage =
    body.errors?.[0]?.message ??
    Object.values(data ?? {})
      .flatMap((v) => (v as { userErrors?: { message?: string }[] } | null)?.userErrors ?? [])
      .map((e) => e.message)[0];
  if (answer.status < 200 || answer.status >= 300 || codes.length > 0 || !data) {
    return { ok: false, status, codes, problem: firstMessage ?? answer.text.slice(0, 200), data, retryAfter };
  }
  const problem = check?.(data);
  return { ok: problem === undefined, status, codes: problem === undefined ? [] : ['WRONG_ANSWER'], problem, data, retryAfter };
}

// ---------------------------------------------------------------------------------------------
// Counting

/** Nearest-rank percentile of an unsorted list. */
function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const increment = (map: Record<string, number>, key: string, by = 1) => {
  map[key] = (map[key] ?? 0) + by;
};

class KindStats {
  sent = 0;
  ok = 0;
  /** Answered 2xx without errors, but not what was asked for. */
  wrong = 0;
  statuses: Record<string, number> = {};
  /** Requests having each code at least once. */
  codes: Record<string, number> = {};
  overloadedWhole = 0;
  overloadedPartial = 0;
  deadlineExceeded = 0;
  rateLimited = 0;
  bad5xx = 0;
  timeouts = 0;
  connectionErrors = 0;
  /** What the connection errors were (ECONNRESET, ECONNREFUSED, response cut off, ...). */
  connectionMessages: Record<string, number> = {};
  /** Answers with errors other than OVERLOADED, DEADLINE_EXCEEDED, RATE_LIMITED. */
  otherErrors = 0;
  /** Whole-request refusals (503 OVERLOADED, 429) without a Retry-After header. */
  refusalsWithoutRetryAfter = 0;
  retryAfterSeconds: number[] = [];
  okLatencies: number[] = [];
  /** Latency of whole-request refusals: how fast the gateway says no. */
  refusedLatencies: number[] = [];
  /** The first few answers of each unexpected sort, for the report. */
  examples: string[] = [];

  add(o: Outcome, latencyMs: number): void {
    increment(this.statuses, o.status);
    for (const code of new Set(o.codes)) increment(this.codes, code);
    if (o.ok) {
      this.ok++;
      this.okLatencies.push(latencyMs);
      return;
    }
    const refusedWhole = explicitOverload(o) || o.status === '429';
    if (explicitOverload(o)) this.overloadedWhole++;
    else if (overloaded(o)) this.overloadedPartial++;
    if (has(o, 'DEADLINE_EXCEEDED')) this.deadlineExceeded++;
    if (rateLimited(o)) this.rateLimited++;
    if (o.status === 'timeout') this.timeouts++;
    if (o.status === 'connection') {
      this.connectionErrors++;
      increment(this.connectionMessages, o.problem ?? 'unknown');
    }
    if (o.codes.includes('WRONG_ANSWER')) this.wrong++;
    const other = o.codes.filter((c) => !/(^|:)(OVERLOADED|DEADLINE_EXCEEDED|RATE_LIMITED|WRONG_ANSWER)$/.test(c));
    if (other.length > 0) this.otherErrors++;
    if (refusedWhole) {
      this.refusedLatencies.push(latencyMs);
      if (o.retryAfter === undefined) this.refusalsWithoutRetryAfter++;
      else this.retryAfterSeconds.push(Number(o.retryAfter));
    }
    const unexpected = bad5xx(o) || other.length > 0 || o.codes.includes('WRONG_ANSWER');
    if (bad5xx(o)) this.bad5xx++;
    if (unexpected && this.examples.length < 5) {
      this.examples.push(`${o.status} ${o.codes.join(',') || '-'}: ${(o.problem ?? '').slice(0, 240)}`);
    }
  }

  summary() {
    return {
      sent: this.sent,
      ok: this.ok,
      wrong: this.wrong,
      statuses: this.statuses,
      codes: this.codes,
      overloadedWhole: this.overloadedWhole,
      overloadedPartial: this.overloadedPartial,
      deadlineExceeded: this.deadlineExceeded,
      rateLimited: this.rateLimited,
      bad5xx: this.bad5xx,
      timeouts: this.timeouts,
      connectionErrors: this.connectionErrors,
      connectionMessages: this.connectionMessages,
      otherErrors: this.otherErrors,
      refusalsWithoutRetryAfter: this.refusalsWithoutRetryAfter,
      retryAfterSeconds: this.retryAfterSeconds.length
        ? {
            min: Math.min(...this.retryAfterSeconds),
            max: Math.max(...this.retryAfterSeconds),
            p50: percentile(this.retryAfterSeconds, 0.5),
          }
        : null,
      okLatencyMs: latencySummary(this.okLatencies),
      refusedLatencyMs: latencySummary(this.refusedLatencies),
      examples: this.examples,
    };
  }
}

const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000, 20000, 25000, 30000, Infinity];
function latencySummary(values: number[]) {
  if (values.length === 0) return null;
  const histogram: Record<string, number> = {};
  for (const v of values) increment(histogram, `<=${LATENCY_BUCKETS_MS.find((b) => v <= b)}`);
  return {
    count: values.length,
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    max: Math.max(...values),
    histogram,
  };
}

class Tally {
  readonly kinds = new Map<Kind, KindStats>();
  of(kind: Kind): KindStats {
    let stats = this.kinds.get(kind);
    if (!stats) this.kinds.set(kind, (stats = new KindStats()));
    return stats;
  }
  summary() {
    return Object.fromEntries([...this.kinds].map(([k, s]) => [k, s.summary()]));
  }
}

/** What happened in one sampling period, for the time series. */
class Window {
  sent = 0;
  ok = 0;
  refused = 0;
  deadline = 0;
  failed = 0;
  timeouts = 0;
  skipped = 0;
  okLatencies: number[] = [];
  add(o: Outcome, latencyMs: number): void {
    if (o.ok) {
      this.ok++;
      this.okLatencies.push(latencyMs);
    } else if (overloaded(o) || rateLimited(o)) this.refused++;
    else if (has(o, 'DEADLINE_EXCEEDED')) this.deadline++;
    else if (o.status === 'timeout') this.timeouts++;
    else this.failed++;
  }
}

// ---------------------------------------------------------------------------------------------
// The workload: every image and every embedded text distinct, so that neither the gateway's
// caches nor the catalogue's stored vectors answer instead of the model.

/** The bundled tiny CLIP's vocabulary (8 colours × 4 shapes); the bench model has random weights, so any labels do. */
const COLOURS = ['red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink'];
const SHAPES = ['circle', 'square', 'star', 'triangle'];
const STYLES = ['photo', 'picture', 'drawing', 'rendering'];
const FACETS = [
  { name: 'colour', labels: COLOURS },
  { name: 'shape', labels: SHAPES },
];
/** classify's labels: the same set every time, as a shop's would be (cached after the first). */
const CLASSIFY_LABELS = COLOURS.slice(0, 5).flatMap((c, i) => [`${c} ${SHAPES[i % 4]}`, `${c} ${SHAPES[(i + 1) % 4]}`]);

/**
 * The JPEG with a comment segment (COM, FF FE) after its start marker: other bytes, so another
 * content hash for the gateway's image cache and the catalogue, the same pixels. A few base
 * images then give any number of distinct ones at the cost of a copy, where making and encoding
 * a fresh picture per request would take the load generator's CPU from the gateway on two cores.
 */
function jpegVariant(base: Buffer, tag: string): Buffer {
  const text = Buffer.from(tag, 'latin1');
  const segment = Buffer.alloc(4 + text.length);
  segment[0] = 0xff;
  segment[1] = 0xfe;
  segment.writeUInt16BE(text.length + 2, 2);
  text.copy(segment, 4);
  return Buffer.concat([base.subarray(0, 2), segment, base.subarray(2)]);
}

interface Built {
  body: string;
  check: Check;
  /** An upsert's product, to be read back afterwards. */
  product?: { id: string; title: string };
}

const QUERIES = {
  embed: 'query($i:[MediaInput!]!){ embed(inputs:$i){ vector } }',
  classify: 'query($i:[ImageInput!]!,$l:[String!]!){ classify(images:$i, labels:$l, topK:3){ labels { label score } } }',
  similarity: 'query($a:[MediaInput!]!,$b:[MediaInput!]!){ similarity(a:$a, b:$b) }',
  search: 'query($q:SearchQuery!){ productSearch(query:$q, first:10){ score product { id } } }',
  upsert:
    'mutation($p:[ProductInput!]!){ productsUpsert(products:$p){ products { id title tags { facet label } } userErrors { field message code } } }',
  product: 'query($id:ID!){ product(id:$id){ id title tags { facet label } } }',
  jobStart:
    'mutation($k:String!){ taggingJobStart(reembed:true, idempotencyKey:$k){ job { id status total } userErrors { field message code } } }',
  job: 'query($id:ID!){ taggingJob(id:$id){ id status total processed failed errors { field message code } } }',
};

class Workload {
  private n = 0;
  private readonly random = seeded(20261203);
  private readonly cumulative: [MixKind, number][];
  private readonly total: number;

  constructor(
    private readonly jpegs: Buffer[],
    private readonly dim: number,
    mix: Record<MixKind, number>,
  ) {
    let sum = 0;
    this.cumulative = KINDS.filter((k) => mix[k] > 0).map((k) => [k, (sum += mix[k])]);
    this.total = sum;
  }

  pick(): MixKind {
    const r = this.random() * this.total;
    return this.cumulative.find(([, upTo]) => r < upTo)?.[0] ?? this.cumulative[this.cumulative.length - 1][0];
  }

  image(): string {
    const n = this.n++;
    return jpegVariant(this.jpegs[n % this.jpegs.length], `soak ${n}`).toString('base64');
  }

  /** "a drawing of a green pink red star": the counter in base 8, one colour word per digit, so never the same text twice. */
  text(): string {
    let n = this.n++;
    const words: string[] = [];
    do {
      words.push(COLOURS[n % 8]);
      n = Math.floor(n / 8);
    } while (n > 0);
    return `a ${STYLES[this.n % STYLES.length]} of a ${words.join(' ')} ${SHAPES[this.n % SHAPES.length]}`;
  }

  build(kind: MixKind): Built {
    const dim = this.dim;
    const vectors =
      (count: number): Check =>
      (data) => {
        const embed = data.embed as ({ vector: number[] } | null)[] | undefined;
        if (embed?.length !== count || !embed.every((e) => e?.vector.length === dim)) return `expected ${count} vectors of ${dim}`;
        return undefined;
      };
    const hits: Check = (data) => ((data.productSearch as unknown[] | undefined)?.length ? undefined : 'no products found');
    const json = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });
    switch (kind) {
      case 'embedText':
        return { body: json(QUERIES.embed, { i: Array.from({ length: 4 }, () => ({ text: this.text() })) }), check: vectors(4) };
      case 'embedImage':
        return { body: json(QUERIES.embed, { i: [{ imageBase64: this.image() }] }), check: vectors(1) };
      case 'classify':
        return {
          body: json(QUERIES.classify, { i: [{ base64: this.image() }], l: CLASSIFY_LABELS }),
          check: (data) => {
            const result = data.classify as ({ labels: unknown[] } | null)[] | undefined;
            return result?.length === 1 && result[0]?.labels.length === 3 ? undefined : 'expected 1 classification of 3 labels';
          },
        };
      case 'similarity':
        return {
          body: json(QUERIES.similarity, { a: [{ text: this.text() }, { text: this.text() }], b: [{ imageBase64: this.image() }] }),
          check: (data) => {
            const rows = data.similarity as number[][] | null | undefined;
            return rows?.length === 2 && rows.every((r) => r.length === 1 && Number.isFinite(r[0])) ? undefined : 'expected a 2×1 matrix';
          },
        };
      case 'searchText':
        return { body: json(QUERIES.search, { q: { text: this.text() } }), check: hits };
      case 'searchImage':
        return { body: json(QUERIES.search, { q: { image: { base64: this.image() } } }), check: hits };
      case 'upsert': {
        const id = `soak-${this.n}`;
        const title = `soak product ${this.n}`;
        return {
          body: json(QUERIES.upsert, { p: [{ id, title, images: [{ base64: this.image() }], attributes: { source: 'soak' } }] }),
          check: (data) => {
            const payload = data.productsUpsert as { products: ({ id: string; tags: unknown[] } | null)[] } | undefined;
            const product = payload?.products[0];
            return product?.id === id && product.tags.length === FACETS.length ? undefined : `expected ${id} with one tag per facet`;
          },
          product: { id, title },
        };
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway process: samples of /proc and /metrics

interface MetricsReading {
  /** Gauges: every clip_gateway_* gauge (queue sizes, whatever the gateway adds) and a few of Node's. */
  gauges: Record<string, number>;
  /** Counters and histogram counts of the gateway's own (requests, errors by code, batches). */
  counters: Record<string, number>;
}

const NODE_GAUGES = new Set([
  'process_resident_memory_bytes',
  'process_open_fds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
]);
/** Gauges that look like a queue or work in progress: shown in the time series and waited on to reach 0. */
const QUEUE_GAUGE = /^clip_gateway_.*(queue|in_?flight|pending|admission|admitted|backlog|waiting|queued|active)/;

function parseMetrics(text: string): MetricsReading {
  const types = new Map<string, string>();
  const reading: MetricsReading = { gauges: {}, counters: {} };
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    const value = Number(line.slice(space + 1));
    const name = series.split('{')[0];
    const type = types.get(name);
    if (type === 'gauge' && (name.startsWith('clip_gateway_') || NODE_GAUGES.has(name))) reading.gauges[series] = value;
    else if (type === 'counter' && name.startsWith('clip_gateway_')) reading.counters[series] = value;
    else if (
      name.startsWith('clip_gateway_') &&
      /_(count|sum)$/.test(name) &&
      types.get(name.replace(/_(count|sum)$/, '')) === 'histogram'
    ) {
      reading.counters[series] = value;
    }
  }
  return reading;
}

/** The sum of every series of a counter (or histogram _sum/_count) whose name and labels start so. */
const counterTotal = (m: MetricsReading, prefix: string) =>
  Object.entries(m.counters)
    .filter(([series]) => series.startsWith(prefix))
    .reduce((sum, [, v]) => sum + v, 0);

const batchesDone = (m: MetricsReading) =>
  Object.entries(m.counters)
    .filter(([series]) => series.startsWith('clip_gateway_inference_seconds_count'))
    .reduce((sum, [, v]) => sum + v, 0);
const queued = (m: MetricsReading) =>
  Object.entries(m.gauges)
    .filter(([series]) => QUEUE_GAUGE.test(series.split('{')[0]))
    .reduce((sum, [, v]) => sum + v, 0);

interface Sample {
  /** Seconds since the soak's load began (negative before it). */
  t: number;
  phase: string;
  rssMb: number;
  peakRssMb: number;
  /** RssAnon: memory the gateway allocated (heap, buffers, ONNX Runtime's arenas, the model's weights). */
  anonMb: number;
  /** RssFile: mapped files' resident pages; mostly the catalogue's SQLite file (mmap), which grows with the catalogue. */
  fileMb: number;
  threads: number;
  fds: number;
  sockets: number;
  /** Of one core, over the period since the previous sample. */
  gatewayCpuPct: number;
  loadGeneratorCpuPct: number;
  /** Everything else on the machine (its busy time less the gateway's and this process's): a shared machine shows here. */
  otherCpuPct: number;
  clientInFlight: number;
  /** Increase of the kernel's TCP counters (machine-wide) since the previous sample. */
  kernel?: Record<string, number>;
  /** The gateway's sockets by TCP state, in the idle samples. */
  socketStates?: Record<string, number>;
  /** The gateway's port seen from the kernel (/proc/net/tcp): connections not yet accepted, and established ones. */
  tcp?: TcpState;
  period?: {
    sent: number;
    ok: number;
    refused: number;
    deadline: number;
    failed: number;
    timeouts: number;
    skipped: number;
    okP99Ms: number | null;
  };
  metrics?: MetricsReading;
  metricsError?: string;
}

/** /metrics gets this long per read: under overload it may not answer at all, and that is recorded. */
const METRICS_TIMEOUT_MS = 8000;

interface TcpState {
  /** Connections the kernel completed that the gateway has not accepted yet (the listening socket's rx_queue). */
  acceptQueue: number;
  /** The listen backlog (tx_queue of the listening socket): past it, new connections wait for SYN retries. */
  backlog: number;
  /** Established connections to the gateway's port (accepted or still queued). */
  established: number;
}

/**
 * The gateway's port as the kernel sees it, from /proc/net/tcp and tcp6: a gateway whose event
 * loop is too busy to accept leaves connections in the accept queue, where no fd of its own counts
 * them and no metric of its own sees them.
 */
function tcpState(port: number): TcpState | undefined {
  const state: TcpState = { acceptQueue: 0, backlog: 0, established: 0 };
  let seen = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || parseInt(fields[1].split(':').pop()!, 16) !== port) continue;
      const [tx, rx] = fields[4].split(':').map((hex) => parseInt(hex, 16));
      if (fields[3] === '0A') {
        seen = true;
        state.acceptQueue += rx;
        state.backlog += tx;
      } else if (fields[3] === '01') state.established++;
    }
  }
  return seen ? state : undefined;
}

/**
 * The kernel's TCP counters that tell of a listener not keeping up (machine-wide: on a machine
 * running only this, the gateway's port): connections dropped because its accept queue was full,
 * SYN cookies sent because the SYN queue was, connections reset by a close with unread data.
 */
const KERNEL_COUNTERS = ['ListenOverflows', 'ListenDrops', 'SyncookiesSent', 'TCPReqQFullDoCookies', 'TCPAbortOnData', 'TCPAbortOnClose'];

function kernelCounters(): Record<string, number> {
  const counts: Record<string, number> = {};
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/);
      if (names[0] !== 'TcpExt:') continue;
      names.forEach((name, j) => {
        if (KERNEL_COUNTERS.includes(name)) counts[name] = Number(values[j]);
      });
    }
  } catch {
    // Not Linux, or no /proc/net: the counters are left out.
  }
  return counts;
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/** What a process's sockets are: TCP by state, served (on the gateway's port) or outgoing; or unix/other. */
function socketStates(inodes: string[], port: number): Record<string, number> {
  const byInode = new Map<string, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt(f[1].split(':').pop()!, 16);
      const role = f[3] === '0A' ? '' : local === port ? ' (served)' : ' (outgoing)';
      byInode.set(f[9], `tcp ${TCP_STATES[f[3]] ?? f[3]}${role}`);
    }
  }
  const counts: Record<string, number> = {};
  for (const inode of inodes) increment(counts, byInode.get(inode) ?? 'unix or other');
  return counts;
}

/** The machine's CPU time, busy and in all, in ticks, from /proc/stat's first line. */
function machineCpu(): { busy: number; total: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const ticks = fields.slice(0, 8).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - ticks[3] - ticks[4], total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

class Sampler {
  readonly samples: Sample[] = [];
  private lastWall = performance.now();
  private lastGatewayCpu: number;
  private lastOwnCpu = process.cpuUsage();
  private lastKernel = kernelCounters();
  private lastMachine = machineCpu();

  constructor(
    private readonly pid: number,
    private readonly port: number,
    private readonly control: Client,
  ) {
    this.lastGatewayCpu = processCpuMs(pid);
  }

  async take(t: number, phase: string, client?: Client, window?: Window): Promise<Sample> {
    const wall = performance.now();
    const gatewayCpu = processCpuMs(this.pid);
    const own = process.cpuUsage();
    const elapsed = Math.max(1, wall - this.lastWall);
    const memory = processMemory(this.pid);
    const fds = openFds(this.pid);
    const sample: Sample = {
      t: Math.round(t * 10) / 10,
      phase,
      rssMb: memory.rssBytes / 2 ** 20,
      peakRssMb: memory.peakRssBytes / 2 ** 20,
      anonMb: memory.anonBytes / 2 ** 20,
      fileMb: memory.fileBytes / 2 ** 20,
      threads: memory.threads,
      fds: fds.fds,
      sockets: fds.sockets,
      gatewayCpuPct: ((gatewayCpu - this.lastGatewayCpu) / elapsed) * 100,
      loadGeneratorCpuPct: ((own.user - this.lastOwnCpu.user + own.system - this.lastOwnCpu.system) / 1000 / elapsed) * 100,
      otherCpuPct: 0,
      clientInFlight: client?.inFlight ?? 0,
      tcp: tcpState(this.port),
      kernel: (() => {
        const now = kernelCounters();
        const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (this.lastKernel[k] ?? v)]));
        this.lastKernel = now;
        return delta;
      })(),
      ...(phase.startsWith('idle') && { socketStates: socketStates(fds.socketInodes, this.port) }),
    };
    const machine = machineCpu();
    const machinePct = ((machine.busy - this.lastMachine.busy) / (machine.total - this.lastMachine.total)) * availableParallelism() * 100;
    sample.otherCpuPct = Math.max(0, machinePct - sample.gatewayCpuPct - sample.loadGeneratorCpuPct);
    this.lastMachine = machine;
    this.lastWall = wall;
    this.lastGatewayCpu = gatewayCpu;
    this.lastOwnCpu = own;
    if (window) {
      sample.period = {
        sent: window.sent,
        ok: window.ok,
        refused: window.refused,
        deadline: window.deadline,
        failed: window.failed,
        timeouts: window.timeouts,
        skipped: window.skipped,
        okP99Ms: window.okLatencies.length ? percentile(window.okLatencies, 0.99) : null,
      };
    }
    const answer = await this.control.request('GET', '/metrics', undefined, {}, METRICS_TIMEOUT_MS);
    if (answer.kind === 'response' && answer.status === 200) sample.metrics = parseMetrics(answer.text);
    else sample.metricsError = answer.kind === 'response' ? `HTTP ${answer.status}` : answer.kind;
    this.samples.push(sample);
    return sample;
  }
}

// ---------------------------------------------------------------------------------------------
// The run

interface JobRecord {
  key: string;
  id?: string;
  startedAtS: number;
  /** How the start went when it did not give a job (refused, timed out, ...). */
  startProblem?: string;
  status?: string;
  total?: number;
  processed?: number;
  failed?: number;
  errors?: { field?: string[] | null; message: string; code: string }[];
  finishedAtS?: number;
  polls: number;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface CheckResult {
  name: string;
  measured: string;
  bound: string;
  passed: boolean;
  /** Informational: shown, never fails the run. */
  info?: boolean;
}

/** Everything the report is made of. */
interface Run {
  settings: Settings;
  command: string;
  startedAt: string;
  machine: Record<string, unknown>;
  git?: { commit: string; dirtyFiles: number };
  gateway: {
    origin?: string;
    pid?: number;
    env: Record<string, string>;
    inheritedEnv: Record<string, string>;
    model?: Record<string, unknown>;
  };
  seeding?: { products: number; urlProducts: number; seconds: number };
  capacity?: {
    seconds: number;
    concurrency: number;
    okPerSecond: number;
    perKindOkPerSecond: Record<string, number>;
    tally: ReturnType<Tally['summary']>;
  };
  soak?: {
    targetRate: number;
    seconds: number;
    scheduled: number;
    sent: number;
    skippedAtCap: number;
    achievedRate: number;
    scheduleLagMs: { p99: number; max: number };
    tally: ReturnType<Tally['summary']>;
    gatewayCpuMs: number;
    /** Increase of the kernel's TCP counters (machine-wide) over the load. */
    kernel: Record<string, number>;
    loadGeneratorCpuMs: number;
  };
  jobs: JobRecord[];
  samples: Sample[];
  idleBefore?: { fds: number; sockets: number; rssMb: number };
  idleAfter?: { fds: number; sockets: number; rssMb: number };
  idleSocketStates?: { before: Record<string, number>; after: Record<string, number> };
  afterLoad?: { drainSeconds: number; idle: boolean; idleSeconds: number; jobsFinished: boolean };
  readBack?: {
    written: number;
    read: number;
    found: number;
    missing: string[];
    wrongTags: string[];
    unreadable: string[];
    unconfirmed: { total: number; checked: number; present: number };
    seconds: number;
  };
  log: LogSummary;
  /** The fault phase (absent with --no-faults, or when the soak itself could not run). */
  faults?: FaultPhaseReport;
  checks: CheckResult[];
  error?: string;
}

interface LogSummary {
  lines: number;
  /** Lines mentioning errors, failures, timeouts..., by sort (numbers replaced by #), most frequent first. */
  notable: [string, number][];
  tail: string[];
}

/** Reads a process's stderr as it comes: counts its lines and their sorts, keeps the last 30; never the whole log. */
function logCollector(): { onLog: (text: string) => void; summary: () => LogSummary } {
  const state = { lines: 0, notable: new Map<string, number>(), tail: [] as string[], partial: '' };
  const onLog = (text: string) => {
    const lines = (state.partial + text).split('\n');
    state.partial = lines.pop()!;
    for (const line of lines) {
      state.lines++;
      state.tail.push(line);
      if (state.tail.length > 30) state.tail.shift();
      if (/error|fail|warn|exception|EMFILE|ECONN|refus|overload|timeout|deadline/i.test(line)) {
        // Timestamps, ids and numbers vary; the sort of line is what is counted.
        const signature = line
          .replace(/^\S*\d{4}-\d\d-\d\dT\S+\s*/, '')
          .replace(/\d+(\.\d+)?/g, '#')
          .slice(0, 200);
        state.notable.set(signature, (state.notable.get(signature) ?? 0) + 1);
      }
    }
  };
  const summary = () => ({ lines: state.lines, notable: [...state.notable].sort((a, b) => b[1] - a[1]).slice(0, 15), tail: state.tail });
  return { onLog, summary };
}

/** Variables the gateway reads (the README's and the work under way: admission, deadlines, rate and query limits). */
const GATEWAY_ENV =
  /^(ADMISSION_|REQUEST_TIMEOUT|RATE_LIMIT|QUERY_|MAX_|BATCH_|IMAGE_|TEXT_|LOCAL_|CLIP_|JOB_|CATALOGUE_|BODY_|REMOTE_|CIRCUIT_|INFERENCE_|CORS_|API_KEYS|DATA_DIR|DATABASE_|LAMBDA_|SANDBOX)/;

let gateway: RunningGateway | undefined;
let gatewayChild: ChildProcess | undefined;
let dataDir: string | undefined;
let imageServer: Server | undefined;
/** The fault phase's processes and catalogue: its gateway (Lambda backend) and the local Lambda endpoint. */
let faultGateway: RunningGateway | undefined;
let lambdaLocal: RunningGateway | undefined;
let faultDataDir: string | undefined;
const clients = new Set<Client>();
const timers = new Set<NodeJS.Timeout>();

/** The soak's gateway stopped (killed if it will not stop) and its temporary DATA_DIR removed. */
async function stopSoakGateway(): Promise<void> {
  if (gateway) await gateway.stop(10_000);
  gateway = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
}

/** The fault phase's gateway, then the function it calls, stopped; its DATA_DIR removed. */
async function stopFaultProcesses(): Promise<void> {
  if (faultGateway) await faultGateway.stop(10_000);
  faultGateway = undefined;
  if (lambdaLocal) await lambdaLocal.stop(5_000);
  lambdaLocal = undefined;
  if (faultDataDir) rmSync(faultDataDir, { recursive: true, force: true });
  faultDataDir = undefined;
}

/** Always: every process stopped (killed if it will not stop), clients and the image server closed, the temp DATA_DIRs removed. */
async function cleanUp(): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  for (const client of clients) client.close();
  imageServer?.close();
  imageServer?.closeAllConnections();
  await stopSoakGateway();
  await stopFaultProcesses();
}

function newClient(origin: string, timeoutMs: number, keepAlive = true): Client {
  const client = new Client(new URL(origin), timeoutMs, keepAlive);
  clients.add(client);
  return client;
}

function closeClient(client: Client): void {
  client.close();
  clients.delete(client);
}

async function main(run: Run): Promise<void> {
  const { settings } = run;
  const gatewayLog = logCollector();
  const onLog = gatewayLog.onLog;
  const flushLog = () => {
    run.log = gatewayLog.summary();
  };

  // 1. Images: a few photo-sized JPEGs (made once; variants are copies), and a server for the
  // URL products' images that answers each fetch with other bytes, so that every reembed job has
  // real inference to do (an unchanged image is not embedded again), with no validators (no 304).
  progress('making images');
  const jpegs = await makeJpegs(48, 7);
  let served = 0;
  imageServer = createServer((req, res) => {
    const k = Number(/\/img\/(\d+)\.jpg$/.exec(req.url ?? '')?.[1] ?? Number.NaN);
    if (!Number.isInteger(k)) {
      res.writeHead(404).end();
      return;
    }
    const body = jpegVariant(jpegs[k % jpegs.length], `url ${k} fetch ${served++}`);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => imageServer!.listen(0, '127.0.0.1', resolve));
  const imageOrigin = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;

  // 2. The gateway.
  dataDir = mkdtempSync(join(tmpdir(), 'clip-soak-'));
  const env: Record<string, string> = {
    // Blank is unset for the gateway: the bundled tiny CLIP, whatever this shell has.
    CLIP_MODEL_DIR: settings.model === 'bench' ? BENCH_MODEL_DIR : '',
    CLIP_MODEL: '',
    DATA_DIR: dataDir,
    DATABASE_URL: '',
    DATABASE_PASSWORD: '',
    // Without keys, mutations are taken from loopback clients, which this is.
    API_KEYS: '',
    INFERENCE_BACKEND: 'local',
    // The URL products' images come from this process's server on 127.0.0.1.
    IMAGE_FETCH_ALLOW_NETWORKS: '127.0.0.0/8',
    ...allocatorEnv(settings),
    ...settings.env,
  };
  run.gateway.env = env;
  run.gateway.inheritedEnv = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => GATEWAY_ENV.test(e[0]) && !(e[0] in env) && e[1] !== undefined),
  );
  progress(`starting the gateway (${settings.model} model, DATA_DIR ${dataDir})`);
  gateway = await startGatewayProcess(env, { onLog, startTimeoutMs: 180_000, script: settings.gatewayScript });
  gatewayChild = gateway.child;
  const pid = gateway.child.pid!;
  run.gateway.origin = gateway.origin;
  run.gateway.pid = pid;
  const control = newClient(gateway.origin, 10_000, false);
  const sampler = new Sampler(pid, Number(new URL(gateway.origin).port), control);
  run.samples = sampler.samples;

  const graphql = async (
    client: Client,
    body: string,
    // The period's counts go to the window current when the request leaves (sent) and to the one
    // current when its answer comes (outcomes), hence a getter: answers take longer than a period.
    tally?: { stats: KindStats; window?: () => Window },
    check?: Check,
    headers: Record<string, string> = {},
  ) => {
    if (tally) {
      tally.stats.sent++;
      if (tally.window) tally.window().sent++;
    }
    const start = performance.now();
    const outcome = judge(await client.request('POST', '/graphql', body, headers), check);
    const latency = performance.now() - start;
    tally?.stats.add(outcome, latency);
    tally?.window?.().add(outcome, latency);
    return outcome;
  };
  const setupTally = new Tally();
  /** Setup requests must succeed; a refusal is retried after its Retry-After (at most 10 times). */
  const must = async (client: Client, query: string, variables: Record<string, unknown>, what: string) => {
    for (let attempt = 1; ; attempt++) {
      const o = await graphql(client, JSON.stringify({ query, variables }), { stats: setupTally.of('seed') });
      if (o.ok) return o.data!;
      if (attempt < 10 && (overloaded(o) || rateLimited(o) || o.status === 'timeout')) {
        await sleep(Math.min(5, Number(o.retryAfter) || 1) * 1000);
        continue;
      }
      throw new Error(`${what} failed: ${o.status} ${o.codes.join(',')} ${o.problem ?? ''}`);
    }
  };

  // 3. Seeding: the taxonomy, products with base64 images, products with image URLs.
  const seedStarted = performance.now();
  const setup = newClient(gateway.origin, settings.timeoutMs);
  const modelInfo = (await must(setup, '{ model { name dim imageSize dtype backend device } }', {}, 'model')).model as {
    dim: number;
  } & Record<string, unknown>;
  run.gateway.model = modelInfo;
  progress(`gateway at ${gateway.origin} serving ${String(modelInfo.name)} (${modelInfo.dim} dims)`);
  await must(
    setup,
    'mutation($f:[FacetInput!]!){ taxonomySet(facets:$f){ taxonomy { version } userErrors { field message code } } }',
    { f: FACETS },
    'taxonomySet',
  );
  const workload = new Workload(jpegs, modelInfo.dim, settings.mix);
  /** Every product the gateway said it wrote (id → title), to be read back at the end. */
  const written = new Map<string, string>();
  /** Upserts whose answer never came (timeouts, cut connections, 5xx): perhaps written, perhaps not. */
  const unconfirmed = new Set<string>();
  const upsertAll = async (products: { id: string; title: string; images: Record<string, string>[] }[], what: string) => {
    for (let i = 0; i < products.length; i += 4) {
      const batch = products.slice(i, i + 4);
      const data = await must(setup, QUERIES.upsert, { p: batch }, what);
      const got = (data.productsUpsert as { products: ({ id: string; tags: unknown[] } | null)[] }).products;
      batch.forEach((p, j) => {
        if (got[j]?.id !== p.id) throw new Error(`${what}: ${p.id} was not written`);
        written.set(p.id, p.title);
      });
    }
  };
  progress(`seeding ${settings.seedProducts} products with base64 images and ${settings.urlProducts} with image URLs`);
  await upsertAll(
    Array.from({ length: settings.seedProducts }, (_, i) => ({
      id: `seed-${i}`,
      title: `seed product ${i}`,
      images: [{ base64: workload.image() }],
    })),
    'seeding products',
  );
  await upsertAll(
    Array.from({ length: settings.urlProducts }, (_, i) => ({
      id: `url-${i}`,
      title: `url product ${i}`,
      images: [{ url: `${imageOrigin}/img/${i}.jpg` }],
    })),
    'seeding URL products',
  );
  closeClient(setup);
  run.seeding = { products: settings.seedProducts, urlProducts: settings.urlProducts, seconds: (performance.now() - seedStarted) / 1000 };
  await sampler.take(-1, 'seeded');

  const loadHeaders: Record<string, string> = settings.deadlineMs > 0 ? { 'x-request-timeout-ms': String(settings.deadlineMs) } : {};
  const sendMix = async (client: Client, kind: MixKind, tally: Tally, window?: () => Window) => {
    const built = workload.build(kind);
    const o = await graphql(client, built.body, { stats: tally.of(kind), window }, built.check, loadHeaders);
    if (built.product) {
      if (o.ok) written.set(built.product.id, built.product.title);
      else if (o.status === 'timeout' || o.status === 'connection' || bad5xx(o)) unconfirmed.add(built.product.id);
    }
    return o;
  };

  /** Until the count of inference batches and every queue-like gauge stop moving (bounded). */
  const waitForIdle = async (timeoutMs: number): Promise<{ idle: boolean; seconds: number }> => {
    const begin = performance.now();
    let last = Number.NaN;
    let stable = 0;
    while (performance.now() - begin < timeoutMs) {
      const answer = await control.request('GET', '/metrics', undefined, {}, METRICS_TIMEOUT_MS);
      if (answer.kind === 'response' && answer.status === 200) {
        const m = parseMetrics(answer.text);
        const batches = batchesDone(m);
        stable = batches === last && queued(m) === 0 ? stable + 1 : 0;
        last = batches;
        if (stable >= 3) return { idle: true, seconds: (performance.now() - begin) / 1000 };
      }
      await sleep(1000);
    }
    return { idle: false, seconds: (performance.now() - begin) / 1000 };
  };

  // 4. Capacity: closed loop, `concurrency` in flight, the same mix; answers that succeed per
  // second. A refused request's worker pauses 100 ms, as a client honouring a refusal would, rather
  // than spinning on refusals.
  // The soak's arrival rate: --rate, else rate-multiplier × the capacity measured here.
  let targetRate = settings.rate;
  if (settings.capacitySeconds > 0) {
    const closedLoop = async (seconds: number, tally: Tally) => {
      const client = newClient(gateway!.origin, settings.timeoutMs);
      const end = performance.now() + seconds * 1000;
      let okInTime = 0;
      const okByKind: Record<string, number> = {};
      await Promise.all(
        Array.from({ length: settings.concurrency }, async () => {
          while (performance.now() < end) {
            const kind = workload.pick();
            const o = await sendMix(client, kind, tally);
            if (o.ok && performance.now() <= end) {
              okInTime++;
              increment(okByKind, kind);
            }
            if (!o.ok) await sleep(100);
          }
        }),
      );
      closeClient(client);
      return { okInTime, okByKind };
    };
    const warmUp = Math.min(10, Math.max(3, settings.capacitySeconds / 5));
    progress(`capacity: warming up for ${fmt(warmUp, 0)} s at ${settings.concurrency} in flight`);
    await closedLoop(warmUp, new Tally());
    await waitForIdle(60_000);
    progress(`capacity: ${settings.capacitySeconds} s closed loop at ${settings.concurrency} in flight`);
    const tally = new Tally();
    const result = await closedLoop(settings.capacitySeconds, tally);
    const okPerSecond = result.okInTime / settings.capacitySeconds;
    run.capacity = {
      seconds: settings.capacitySeconds,
      concurrency: settings.concurrency,
      okPerSecond,
      perKindOkPerSecond: Object.fromEntries(Object.entries(result.okByKind).map(([k, v]) => [k, v / settings.capacitySeconds])),
      tally: tally.summary(),
    };
    progress(`capacity: ${fmt(okPerSecond)} requests/s succeeded`);
    await sampler.take(-1, 'capacity');
    targetRate ??= okPerSecond * settings.rateMultiplier;
    if (!(targetRate > 0)) throw new Error('the capacity phase had no successful request: nothing to soak at (see the capacity table)');
  }
  if (targetRate === undefined) throw new Error('--capacity-seconds 0 needs --rate');

  // The idle baseline: no client connection open, nothing queued.
  const idleBefore = await waitForIdle(settings.idleTimeoutSeconds * 1000);
  if (!idleBefore.idle) progress('warning: the gateway did not go idle before the soak');
  await sleep(1000);
  const before = await sampler.take(-0.1, 'idle before');
  run.idleBefore = { fds: before.fds, sockets: before.sockets, rssMb: before.rssMb };

  // 5. The soak: open loop at targetRate for `minutes`, sampled every sampleSeconds, a tagging job
  // started every jobEverySeconds (when none runs) and polled every 2 s.
  const seconds = settings.minutes * 60;
  progress(`soak: ${fmt(targetRate)} requests/s for ${fmt(seconds, 0)} s (open loop)`);
  const client = newClient(gateway.origin, settings.timeoutMs);
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

  const jobs: JobRecord[] = [];
  run.jobs = jobs;
  let jobsOpen = true;
  let jobBusy = false;
  const jobTick = async () => {
    if (jobBusy) return;
    jobBusy = true;
    try {
      const current = jobs[jobs.length - 1];
      if (current?.id && !TERMINAL.has(current.status ?? '')) {
        current.polls++;
        const o = await graphql(client, JSON.stringify({ query: QUERIES.job, variables: { id: current.id } }), {
          stats: tally.of('taggingJob'),
        });
        const job = o.data?.taggingJob as Partial<JobRecord> | undefined;
        if (o.ok && job) {
          Object.assign(current, {
            status: job.status,
            total: job.total,
            processed: job.processed,
            failed: job.failed,
            errors: job.errors?.slice(0, 3),
          });
          if (TERMINAL.has(job.status ?? '')) {
            current.finishedAtS = elapsedS();
            progress(`tagging job ${current.id}: ${job.status}, ${job.processed}/${job.total} processed, ${job.failed} failed`);
          }
        }
        return;
      }
      // A job every jobEverySeconds; a start that failed (refused, timed out) is tried again after 5 s.
      const due = !current || elapsedS() - current.startedAtS >= (current.id ? settings.jobEverySeconds : 5);
      if (!jobsOpen || !due) return;
      const key = `soak-job-${jobs.length}`;
      const record: JobRecord = { key, startedAtS: elapsedS(), polls: 0 };
      jobs.push(record);
      const o = await graphql(client, JSON.stringify({ query: QUERIES.jobStart, variables: { k: key } }), {
        stats: tally.of('taggingJobStart'),
      });
      const job = (o.data?.taggingJobStart as { job?: { id: string; status: string; total: number } | null } | undefined)?.job;
      if (o.ok && job) Object.assign(record, { id: job.id, status: job.status, total: job.total });
      else record.startProblem = `${o.status} ${o.codes.join(',')} ${o.problem ?? ''}`.trim();
    } finally {
      jobBusy = false;
    }
  };
  const jobTimer = setInterval(() => void jobTick().catch((error: unknown) => progress(`job tick failed: ${String(error)}`)), 2000);
  timers.add(jobTimer);
  void jobTick();

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
      track(sendMix(client, workload.pick(), tally, () => window));
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

  // 6. After the load: the answers still out (each has its timeout), the running job finished,
  // the gateway idle, all bounded by idle-timeout-seconds.
  progress(`soak: load over; ${client.inFlight} requests still out`);
  jobsOpen = false;
  const afterStart = performance.now();
  await Promise.all(pending);
  const drainSeconds = (performance.now() - afterStart) / 1000;
  const deadline = afterStart + settings.idleTimeoutSeconds * 1000;
  while (performance.now() < deadline) {
    const current = jobs[jobs.length - 1];
    if (!current?.id || TERMINAL.has(current.status ?? '')) break;
    await sleep(1000);
  }
  clearInterval(jobTimer);
  timers.delete(jobTimer);
  while (jobBusy) await sleep(50);
  const lastJob = jobs[jobs.length - 1];
  const jobsFinished = !lastJob?.id || TERMINAL.has(lastJob.status ?? '');
  const idle = await waitForIdle(Math.max(1000, deadline - performance.now()));
  run.soak.tally = tally.summary();
  run.afterLoad = { drainSeconds, idle: idle.idle, idleSeconds: (performance.now() - afterStart) / 1000, jobsFinished };
  progress(
    `after the load: drained in ${fmt(drainSeconds)} s; ${idle.idle ? 'idle' : 'NOT idle'} after ${fmt(run.afterLoad.idleSeconds)} s`,
  );
  await sampler.take(elapsedS(), 'after load', client);
  closeClient(client);

  // 7. Read-back: every product the gateway said it wrote, by product(id) with its tags; and the
  // upserts whose answer was lost, to see whether they were written anyway.
  progress(`read-back: ${written.size} products`);
  const readStarted = performance.now();
  const reader = newClient(gateway.origin, settings.timeoutMs);
  const readTally = new Tally();
  const readOne = async (id: string) => {
    for (let attempt = 1; ; attempt++) {
      const o = await graphql(reader, JSON.stringify({ query: QUERIES.product, variables: { id } }), { stats: readTally.of('readBack') });
      if (o.ok) return o.data!.product as { id: string; title: string; tags: { facet: string }[] } | null;
      if (attempt >= 5) return undefined;
      await sleep(Math.min(5, Number(o.retryAfter) || 0.5) * 1000);
    }
  };
  const pool = async <T>(items: T[], work: (item: T) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < items.length) await work(items[next++]);
      }),
    );
  };
  const missing: string[] = [];
  const wrongTags: string[] = [];
  const unreadable: string[] = [];
  let found = 0;
  await pool([...written], async ([id, title]) => {
    const product = await readOne(id);
    if (product === undefined) unreadable.push(id);
    else if (product === null) missing.push(id);
    else {
      found++;
      const facets = new Set(product.tags.map((t) => t.facet));
      if (product.title !== title || facets.size !== FACETS.length) wrongTags.push(id);
    }
  });
  let present = 0;
  await pool([...unconfirmed], async (id) => {
    if (await readOne(id)) present++;
  });
  closeClient(reader);
  run.readBack = {
    written: written.size,
    read: found + missing.length,
    found,
    missing,
    wrongTags,
    unreadable,
    unconfirmed: { total: unconfirmed.size, checked: unconfirmed.size, present },
    seconds: (performance.now() - readStarted) / 1000,
  };
  const readSummary = readTally.summary();
  if (readSummary.readBack) run.soak.tally.readBack = readSummary.readBack;
  progress(
    `read-back: ${found}/${written.size} found, ${missing.length} missing, ${wrongTags.length} without their tags, ${unreadable.length} unreadable`,
  );

  // 8. Idle again, every client connection closed: descriptors should be back where they were.
  await waitForIdle(30_000);
  await sleep(2000);
  // Sockets a closing client leaves take a moment to go: up to 20 s for the count to come back
  // before it is judged. What is left then is broken down by TCP state.
  let after = await sampler.take(elapsedS(), 'idle after');
  for (let waited = 0; waited < 20 && after.sockets > before.sockets; waited += 5) {
    await sleep(5000);
    after = await sampler.take(elapsedS(), 'idle after');
  }
  run.idleSocketStates = {
    before: before.socketStates ?? {},
    after: socketStates(openFds(pid).socketInodes, Number(new URL(gateway.origin).port)),
  };
  run.idleAfter = { fds: after.fds, sockets: after.sockets, rssMb: after.rssMb };
  flushLog();
  run.checks = checks(run);
}

// ---------------------------------------------------------------------------------------------
// The fault phase: the gateway on its Lambda backend while the function misbehaves
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

/** A fault for one invocation, as functions/lambda-local/server.ts takes it (not imported: see the top of this file). */
type LambdaFault =
  { kind: 'delay'; ms: number } | { kind: 'throttle' } | { kind: 'status'; status: number; errorType?: string } | { kind: 'malformed' };

interface SubPhaseSpec {
  name: string;
  /** What is done to every invocation, cycling through the list; none: the function behaves. */
  faults?: LambdaFault[];
  /** For the reader. */
  what: string;
  /** The codes a failed answer may carry here (the documented ones for the fault). */
  allowed: string[];
  /** At least one answer must carry one of these: the fault reached clients as it should. */
  expectAny?: string[];
  /** What /readyz must do: answer 200 every time; 503 at least once (the circuit opened); be 200 again by the end. */
  readyz: 'always 200' | 'sees 503' | 'back to 200' | 'not judged';
  /**
   * The faults were cleared as it began: every request must succeed again within the recovery
   * bound, and every later one too. `settle` ends as soon as it has (5 successes in a row and
   * /readyz 200, or the bound and 5 s more), so that the next fault starts from a closed circuit;
   * `full` runs the sub-phase's length.
   */
  recovery?: 'settle' | 'full';
  /** The circuit opens here: its refusals (BACKEND_UNAVAILABLE) must come at once, not after a timeout. */
  failFast?: boolean;
}

/** The remote-call settings the fault phase's gateway runs with (as its environment sets them). */
interface RemoteSettings {
  timeoutMs: number;
  maxAttempts: number;
  failureThreshold: number;
  cooldownMs: number;
}

interface FaultBounds {
  /** Longest an answer may take: REMOTE_TIMEOUT_MS × REMOTE_MAX_ATTEMPTS + the margin. */
  answerMs: number;
  /** After the faults are cleared, every request succeeds from this long on: 2 × CIRCUIT_COOLDOWN_MS + REMOTE_TIMEOUT_MS + 2 s. */
  recoveryMs: number;
  /** Median latency of BACKEND_UNAVAILABLE answers where the circuit opens. */
  fastFailP50Ms: number;
}

/**
 * The sub-phases, in order. A hang is a delay longer than REMOTE_TIMEOUT_MS (the stand-in then
 * runs the handler, as a slow function would, long after the gateway gave up). Throttling is
 * retried and is no sign of ill health (it must not open the circuit, so /readyz is shown, not
 * judged); a malformed answer and a 5xx count against the function, so the circuit opens.
 */
function subPhaseSpecs(remote: RemoteSettings, rounds: number): SubPhaseSpec[] {
  const all: SubPhaseSpec[] = [{ name: 'baseline', what: 'no fault', allowed: [], readyz: 'always 200' }];
  for (let round = 1; round <= rounds; round++) {
    // The first round's names are plain; later rounds' carry their number.
    const suffix = round === 1 ? '' : ` #${round}`;
    all.push(...faultRound(remote).map((spec) => ({ ...spec, name: `${spec.name}${suffix}` })));
  }
  return all;
}

/** One round of faults, each followed by its recovery. */
function faultRound(remote: RemoteSettings): SubPhaseSpec[] {
  const hangMs = remote.timeoutMs + 3000;
  const hangCodes = ['BACKEND_TIMEOUT', 'DEADLINE_EXCEEDED', 'BACKEND_UNAVAILABLE'];
  // After a fault, a request may still meet it (one the function took before the clear), or the
  // open circuit (BACKEND_UNAVAILABLE): the fault's codes, until the recovery bound.
  const after = (fault: string, allowed: string[]): SubPhaseSpec => ({
    name: `after ${fault}`,
    what: 'faults cleared; until every request succeeds again',
    allowed,
    readyz: 'back to 200',
    recovery: 'settle',
  });
  return [
    {
      name: 'hang',
      faults: [{ kind: 'delay', ms: hangMs }],
      what: `every invocation delayed ${hangMs} ms (> REMOTE_TIMEOUT_MS ${remote.timeoutMs})`,
      allowed: hangCodes,
      expectAny: ['BACKEND_TIMEOUT', 'DEADLINE_EXCEEDED'],
      readyz: 'sees 503',
      failFast: true,
    },
    after('hang', hangCodes),
    {
      name: 'throttle',
      faults: [{ kind: 'throttle' }],
      what: 'every invocation 429 TooManyRequestsException',
      allowed: ['BACKEND_UNAVAILABLE'],
      expectAny: ['BACKEND_UNAVAILABLE'],
      readyz: 'not judged',
    },
    after('throttle', ['BACKEND_UNAVAILABLE']),
    {
      name: 'malformed',
      faults: [{ kind: 'malformed' }],
      what: 'every invocation 200 with a body that is not JSON',
      allowed: ['INFERENCE_FAILED', 'BACKEND_UNAVAILABLE'],
      expectAny: ['INFERENCE_FAILED'],
      readyz: 'sees 503',
      failFast: true,
    },
    after('malformed', ['INFERENCE_FAILED', 'BACKEND_UNAVAILABLE']),
    {
      name: '5xx',
      faults: [
        { kind: 'status', status: 500, errorType: 'ServiceException' },
        { kind: 'status', status: 502, errorType: 'EC2UnexpectedException' },
      ],
      what: 'every invocation 500 ServiceException or 502 EC2UnexpectedException, alternately',
      allowed: ['BACKEND_UNAVAILABLE'],
      expectAny: ['BACKEND_UNAVAILABLE'],
      readyz: 'sees 503',
      failFast: true,
    },
    { name: 'recovery', what: 'faults cleared', allowed: ['BACKEND_UNAVAILABLE'], readyz: 'back to 200', recovery: 'full' },
  ];
}

/** The stand-in's counters (GET /_local/stats). */
interface LambdaStats {
  invocations: number;
  handled: number;
  throttled: number;
  functionErrors: number;
  peakConcurrency: number;
}

/** One request of the fault phase: the sub-phase it was sent in, when (ms since the fault phase began), how long its answer took. */
interface FaultRecord {
  sub: number;
  sentMs: number;
  latencyMs: number;
  o: Outcome;
}

interface ReadyzPoll {
  sub: number;
  tMs: number;
  /** HTTP status, or timeout / connection. */
  status: string;
  latencyMs: number;
}

/** One check of one sub-phase; the Checks table shows one row per criterion over all sub-phases. */
interface FaultCheck {
  subPhase: string;
  criterion: FaultCriterion;
  measured: string;
  bound: string;
  passed: boolean;
}

const FAULT_CRITERIA = {
  '5xx': 'no 5xx other than 503 OVERLOADED',
  codes: 'failures carry the documented error codes, and each fault shows as its code',
  time: 'every answer in time: no client timeout or connection error, none slower than the bound',
  readyz: '/readyz: 200 in the baseline, 503 while the circuit is open (hang, malformed, 5xx), 200 again after each fault',
  recovery: 'after the faults are cleared, every request succeeds from within the bound on',
  fastFail: 'an open circuit refuses at once: BACKEND_UNAVAILABLE median latency',
} as const;
type FaultCriterion = keyof typeof FAULT_CRITERIA;

interface FaultSubPhaseReport {
  name: string;
  what: string;
  /** Since the fault phase began (its processes' start included). */
  startS: number;
  seconds: number;
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  /** Answers having each code at least once. */
  codes: Record<string, number>;
  /** Answers refused by the open (or half-open) circuit, by their message. */
  circuitRefusals: number;
  /** 5xx answers other than 503 OVERLOADED. */
  bad5xx: number;
  /** Failed answers (timeouts and connection errors aside) with no code, or a code not allowed here. */
  unexpected: number;
  /** Every answer, failed ones included. */
  latencyMs: { p50: number; p99: number; max: number } | null;
  okLatencyMs: { p50: number; p99: number } | null;
  /** BACKEND_UNAVAILABLE-only answers: median and count. */
  unavailableP50Ms: number | null;
  unavailable: number;
  readyz: Record<string, number>;
  /** First /readyz 503, since the sub-phase began. */
  readyzFirst503S: number | null;
  /** /readyz 200 for good (every later poll in the sub-phase 200), since the sub-phase began. */
  readyzBackS: number | null;
  /** Sent-time of the first request from which every one succeeded, since the sub-phase began (null: never). */
  recoveredAfterS: number | null;
  /** The stand-in's counters over the sub-phase. */
  lambda: Partial<LambdaStats>;
  /** The gateway at the end of the sub-phase. */
  rssMb?: number;
  fds?: number;
  sockets?: number;
  /** The first few unexpected answers. */
  examples: string[];
}

interface FaultPhaseReport {
  rate: number;
  subPhaseSeconds: number;
  /** Times the faults were played (--fault-rounds). */
  rounds: number;
  remote?: RemoteSettings;
  bounds?: FaultBounds;
  env: Record<string, string>;
  gatewayOrigin?: string;
  lambdaOrigin?: string;
  model?: Record<string, unknown>;
  seconds?: number;
  subPhases: FaultSubPhaseReport[];
  /** /readyz answers where they changed. */
  readyzChanges: { t: number; subPhase: string; status: string }[];
  samples: Pick<Sample, 't' | 'phase' | 'rssMb' | 'anonMb' | 'peakRssMb' | 'fds' | 'sockets' | 'threads' | 'gatewayCpuPct'>[];
  /**
   * The gateway at the end of the first round's recovery and at the end of the last round's, both
   * under the same load: what the later rounds' faults left behind, once the process had grown
   * into its working size in the first.
   */
  memory?: {
    baseline: { rssMb: number; anonMb: number; fds: number; sockets: number };
    end: { rssMb: number; anonMb: number; fds: number; sockets: number };
    rounds: number;
  };
  lambdaStats?: LambdaStats;
  /** Fault injections the stand-in did not take. */
  injectionErrors: number;
  /** A process that exited during the phase (before being stopped). */
  exits: { process: string; code: number | null; signal: string | null; atS: number }[];
  log: { gateway?: LogSummary; lambda?: LogSummary };
  checks: FaultCheck[];
  error?: string;
}

/** Below this many faults queued, another batch goes in (5 ticks a second; at most ~20 invocations a second here). */
const FAULT_QUEUE_LOW = 64;
const FAULT_QUEUE_BATCH = 128;

/**
 * Keeps the stand-in's fault queue topped up, so that every invocation meets a fault however many
 * there are (the stand-in takes one fault per invocation, in order). `POST /_local/faults []`
 * adds nothing and answers the queue's length.
 */
class FaultInjector {
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  private queued = 0;
  private next = 0;
  errors = 0;

  constructor(private readonly lambda: Client) {}

  async start(cycle: LambdaFault[]): Promise<void> {
    this.queued = 0;
    await this.topUp(cycle);
    this.timer = setInterval(() => {
      this.tick ??= this.topUp(cycle).finally(() => (this.tick = undefined));
    }, 200);
    timers.add(this.timer);
  }

  /** No more faults queued, and those left cleared (DELETE), before it resolves. */
  async stop(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      timers.delete(this.timer);
      this.timer = undefined;
    }
    await this.tick;
    const answer = await this.lambda.request('DELETE', '/_local/faults');
    if (answer.kind !== 'response' || answer.status !== 200) this.errors++;
  }

  private async topUp(cycle: LambdaFault[]): Promise<void> {
    const add = this.queued < FAULT_QUEUE_LOW ? Array.from({ length: FAULT_QUEUE_BATCH }, () => cycle[this.next++ % cycle.length]) : [];
    const answer = await this.lambda.request('POST', '/_local/faults', JSON.stringify(add));
    if (answer.kind === 'response' && answer.status === 200) this.queued = (JSON.parse(answer.text) as { queued: number }).queued;
    else this.errors++;
  }
}

/** An open or half-open circuit's refusal, by the gateway's message (gateway/backends/remote.ts). */
const circuitRefusal = (o: Outcome) => has(o, 'BACKEND_UNAVAILABLE') && /calls are paused|one call is testing/i.test(o.problem ?? '');

async function faultPhase(run: Run): Promise<void> {
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
    lambdaLocal = await startLambdaLocalProcess(
      { CLIP_MODEL_DIR: '', CLIP_MODEL: '', LAMBDA_FUNCTION_NAME: 'clip' },
      { onLog: lambdaLog.onLog, startTimeoutMs: 120_000 },
    );
    report.lambdaOrigin = lambdaLocal.origin;
    watchExit('local Lambda endpoint', lambdaLocal.child);

    // 2. Its gateway. Short remote timeouts and cooldown so that each failure shows within seconds;
    // --env may change them (the bounds are computed from what the gateway gets); the backend
    // variables themselves are not to be changed.
    faultDataDir = mkdtempSync(join(tmpdir(), 'clip-soak-faults-'));
    const env: Record<string, string> = {
      DATA_DIR: faultDataDir,
      DATABASE_URL: '',
      DATABASE_PASSWORD: '',
      API_KEYS: '',
      REMOTE_TIMEOUT_MS: '2000',
      REMOTE_MAX_ATTEMPTS: '3',
      CIRCUIT_FAILURE_THRESHOLD: '5',
      CIRCUIT_COOLDOWN_MS: '3000',
      ...allocatorEnv(settings),
      ...settings.env,
      INFERENCE_BACKEND: 'lambda',
      LAMBDA_FUNCTION_NAME: 'clip',
      AWS_ENDPOINT_URL_LAMBDA: lambdaLocal.origin,
      // The SDK signs every request; the local endpoint ignores the signature, so any values do.
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    report.env = env;
    const setting = (name: string, fallback: number) => {
      const raw = env[name] ?? process.env[name];
      return raw === undefined || raw.trim() === '' ? fallback : Number(raw);
    };
    // Fallbacks: the gateway's defaults (DEFAULT_REMOTE_CALL_OPTIONS), for a --env that blanks one.
    const remote: RemoteSettings = {
      timeoutMs: setting('REMOTE_TIMEOUT_MS', 30_000),
      maxAttempts: setting('REMOTE_MAX_ATTEMPTS', 3),
      failureThreshold: setting('CIRCUIT_FAILURE_THRESHOLD', 5),
      cooldownMs: setting('CIRCUIT_COOLDOWN_MS', 10_000),
    };
    // The answer bound's 5 s margin: the backoff between attempts (≤ 0.3 s over 3 attempts with the
    // gateway's 100 ms base), a wait for the bulkhead, decoding and batching. The recovery bound: the
    // circuit may have opened just before the clear (a cooldown), and its probe may have met a fault
    // taken just before it (a timeout and another cooldown), then 2 s to answer.
    const bounds: FaultBounds = {
      answerMs: remote.timeoutMs * remote.maxAttempts + 5000,
      recoveryMs: 2 * remote.cooldownMs + remote.timeoutMs + 2000,
      fastFailP50Ms: 1000,
    };
    report.remote = remote;
    report.bounds = bounds;
    progress(`fault phase: starting a gateway on the Lambda backend at ${lambdaLocal.origin}`);
    faultGateway = await startGatewayProcess(env, { onLog: gatewayLog.onLog, startTimeoutMs: 120_000, script: settings.gatewayScript });
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
    const states = specs.map(() => ({ startMs: 0, endMs: 0, streak: 0, pending: 0, lambdaBefore: undefined as LambdaStats | undefined }));
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
      if (spec.recovery === 'full') roundEnds.push(await sample(`fault: ${spec.name} (end)`));
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
      report.memory = { baseline: pick(roundEnds[0]), end: pick(roundEnds[roundEnds.length - 1]), rounds: roundEnds.length };
    }

    // 5. What each sub-phase saw, and its checks.
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
      const end = [...sampler.samples].reverse().find((s) => s.t * 1000 <= state.endMs + 1000 && s.t * 1000 >= state.startMs);
      if (end) Object.assign(sub, { rssMb: end.rssMb, fds: end.fds, sockets: end.sockets });
      report.subPhases.push(sub);
      report.checks.push(...subPhaseChecks(spec, sub, bounds));
    });
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

/** The codes a failed answer may carry in a sub-phase: the fault's, and an explicit OVERLOADED refusal where there is a fault. */
const allowedCodes = (spec: SubPhaseSpec) => new Set(spec.faults ? [...spec.allowed, 'OVERLOADED'] : spec.allowed);

function summariseSubPhase(
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

function subPhaseChecks(spec: SubPhaseSpec, s: FaultSubPhaseReport, bounds: FaultBounds): FaultCheck[] {
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
function faultChecks(report: FaultPhaseReport): CheckResult[] {
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
    const { baseline: b, end: e } = report.memory;
    const tolerance = 0.1;
    const anonBound = b.anonMb * (1 + tolerance);
    const last = `round ${report.memory.rounds}`;
    results.push({
      name: `fault phase: gateway allocated memory (RssAnon), end of ${last}'s recovery vs end of round 1's (same load)`,
      measured: `${fmt(e.anonMb, 0)} MB (round 1 ${fmt(b.anonMb, 0)} MB; VmRSS ${fmt(e.rssMb, 0)} and ${fmt(b.rssMb, 0)} MB)`,
      bound: `≤ ${fmt(anonBound, 0)} MB (+${tolerance * 100}%)`,
      passed: e.anonMb <= anonBound,
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

// ---------------------------------------------------------------------------------------------
// Checks

/** fd and socket allowance under load: 8, or 10% of the warm-up value when that is more. */
const loadAllowance = (base: number) => Math.max(8, Math.ceil(base * 0.1));

function checks(run: Run): CheckResult[] {
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

// ---------------------------------------------------------------------------------------------
// The report

function markdown(run: Run): string {
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

function faultMarkdown(say: (line?: string) => void, run: Run): void {
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

const states = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

function kindTable(say: (line?: string) => void, tally: ReturnType<Tally['summary']>, ms: (v: number | undefined | null) => string): void {
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

// ---------------------------------------------------------------------------------------------
// Entry

function describeMachine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model.trim(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

function describeGit(): Run['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return { commit, dirtyFiles: dirty ? dirty.split('\n').length : 0 };
  } catch {
    return undefined;
  }
}

function writeReport(run: Run): void {
  const text = markdown(run);
  process.stdout.write(text);
  mkdirSync(run.settings.out, { recursive: true });
  writeFileSync(join(run.settings.out, 'report.md'), text);
  writeFileSync(
    join(run.settings.out, 'report.json'),
    `${JSON.stringify(run, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 2)}\n`,
  );
  progress(`wrote ${relative(ROOT, join(run.settings.out, 'report.md'))} and report.json`);
}

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
    await main(run);
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
process.on('exit', () => {
  for (const child of [gatewayChild, faultGateway?.child, lambdaLocal?.child]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const dir of [dataDir, faultDataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

void entry().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
