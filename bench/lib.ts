import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

import autocannon from 'autocannon';
import sharp from 'sharp';

/** The repository: the nearest directory up with a package.json (from dist/bench/ when built, from bench/ under tsx). */
export const ROOT = (() => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return dir;
  return join(__dirname, '..', '..');
})();

/** Median, min and max of repeated measurements. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: values.length };
}

export const fmt = (value: number, digits = 1) => value.toFixed(digits);
export const fmtSpread = (s: Spread, digits = 1) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

/** A deterministic PRNG (mulberry32), so every run draws the same images. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Photo-sized JPEGs (640×480, ~40–60 KB) with distinct content: random rectangles and circles on a
 * gradient, so that no two share a cache entry and decoding costs what a real upload costs.
 */
export async function makeJpegs(count: number, seed = 1): Promise<Buffer[]> {
  const random = seeded(seed);
  const colour = () => `rgb(${[0, 1, 2].map(() => Math.floor(random() * 256)).join(',')})`;
  return Promise.all(
    Array.from({ length: count }, () => {
      const shapes = Array.from({ length: 12 }, () => {
        const x = Math.floor(random() * 640);
        const y = Math.floor(random() * 480);
        const r = 10 + Math.floor(random() * 120);
        return random() < 0.5
          ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${colour()}"/>`
          : `<rect x="${x}" y="${y}" width="${r * 2}" height="${r}" fill="${colour()}"/>`;
      }).join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><defs><linearGradient id="g"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs><rect width="640" height="480" fill="url(#g)"/>${shapes}</svg>`;
      return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
    }),
  );
}

export interface RunningGateway {
  origin: string;
  child: ChildProcess;
  /** SIGTERM (the gateway finishes in-flight work), then SIGKILL after `graceMs` (default 15 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface GatewayProcessOptions {
  /**
   * Gets the gateway's stderr once it serves. Without it the log after the start is read and
   * dropped: kept in memory, a long run's log would grow without bound in this process.
   */
  onLog?: (text: string) => void;
  /** Kill the process and fail when it is not serving within this many ms (default: wait for it). */
  startTimeoutMs?: number;
  /** The entry script to run (default dist/gateway/index.js): another build of the gateway, to compare. */
  script?: string;
}

/** Starts the built gateway as its own process (as in production), on an ephemeral port. */
export function startGatewayProcess(env: Record<string, string>, options: GatewayProcessOptions = {}): Promise<RunningGateway> {
  return startServingProcess(
    'gateway',
    options.script ?? join(ROOT, 'dist', 'gateway', 'index.js'),
    { PORT: '0', HOST: '127.0.0.1', SANDBOX: 'false', ...env },
    /at (http:\/\/127\.0\.0\.1:\d+)\/graphql/,
    options,
  );
}

/**
 * Starts the local stand-in for the Lambda Invoke API (dist/functions/lambda-local/main.js) as its
 * own process, on an ephemeral port: the CLIP function (the model CLIP_MODEL_DIR / CLIP_MODEL
 * names, the bundled tiny CLIP when both are blank) behind the real protocol, with its fault
 * injection (`POST /_local/faults`). `origin` is what AWS_ENDPOINT_URL_LAMBDA takes.
 */
export function startLambdaLocalProcess(
  env: Record<string, string>,
  options: Omit<GatewayProcessOptions, 'script'> = {},
): Promise<RunningGateway> {
  return startServingProcess(
    'local Lambda endpoint',
    join(ROOT, 'dist', 'functions', 'lambda-local', 'main.js'),
    { LAMBDA_LOCAL_PORT: '0', LAMBDA_LOCAL_HOST: '127.0.0.1', ...env },
    /Local Lambda endpoint at (http:\/\/127\.0\.0\.1:\d+)/,
    options,
  );
}

/**
 * Runs `script` under this Node with `env` over this process's environment, and resolves once a
 * line of its stderr matches `serving` (whose first group is the origin). stdout is ignored (the
 * model loader writes its progress there).
 */
async function startServingProcess(
  what: string,
  script: string,
  env: Record<string, string>,
  serving: RegExp,
  options: Omit<GatewayProcessOptions, 'script'>,
): Promise<RunningGateway> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  let log = '';
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (started) {
          options.onLog?.(chunk.toString());
          return;
        }
        log += chunk.toString();
        const match = serving.exec(log);
        if (match) {
          started = true;
          options.onLog?.(log);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before serving:\n${log}`)));
      child.once('error', reject);
      if (options.startTimeoutMs !== undefined) {
        timer = setTimeout(
          () => reject(new Error(`${what} not serving after ${options.startTimeoutMs} ms:\n${log}`)),
          options.startTimeoutMs,
        );
      }
    });
    return {
      origin,
      child,
      stop: (graceMs = 15_000) =>
        new Promise<void>((resolve) => {
          // Already gone: 'exit' will not fire again.
          if (exited()) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    };
  } catch (error) {
    if (!exited()) child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export interface LoadResult {
  /** Completed 2xx answers per second, less those the check refused. */
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** 2xx answers the check refused (GraphQL errors, userErrors, a wrong shape). */
  wrong: number;
  total: number;
  /** Completed 2xx answers the check accepted, in the measured run. */
  completed: number;
  /** CPU time of the process `options.pid` during the measured run (all its threads), ms. */
  serverCpuMs?: number;
  /** CPU time of this process (the load generator) during the measured run, ms. */
  loadCpuMs: number;
}

export interface LoadOptions {
  /** Judges a 2xx answer's body: a fast wrong answer is no result. */
  check?: (body: string) => boolean;
  /**
   * Measure this many requests (a multiple of `connections`), however long they take, instead of
   * `seconds`: when answers come back in lock-step batches (as many in flight as a batch holds), a
   * window of a few batch periods counts a whole batch more or less.
   */
  amount?: number;
  /** A process (the gateway) whose CPU time over the measured run is reported as serverCpuMs. */
  pid?: number;
}

let clockTicks: number | undefined;
/** User + system CPU time of a process and all its threads, in ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  // Fields after the command name (which may hold spaces, inside parentheses): utime is the 12th, stime the 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/**
 * Resident memory of a process now and at its peak (VmRSS, VmHWM), the anonymous part of it
 * (RssAnon: what it allocated) and the file-backed part (RssFile: mapped files' pages, such as a
 * memory-mapped database, which the kernel may drop), in bytes, and its thread count, from
 * /proc/<pid>/status (Linux).
 */
export function processMemory(pid: number): {
  rssBytes: number;
  peakRssBytes: number;
  anonBytes: number;
  fileBytes: number;
  threads: number;
} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return {
    rssBytes: field('VmRSS') * 1024,
    peakRssBytes: field('VmHWM') * 1024,
    anonBytes: field('RssAnon') * 1024,
    fileBytes: field('RssFile') * 1024,
    threads: field('Threads'),
  };
}

/** Open file descriptors of a process, how many of them are sockets, and those sockets' inodes (to look up in /proc/net/*), from /proc/<pid>/fd (Linux). */
export function openFds(pid: number): { fds: number; sockets: number; socketInodes: string[] } {
  const socketInodes: string[] = [];
  const entries = readdirSync(`/proc/${pid}/fd`);
  for (const fd of entries) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('socket:[')) socketInodes.push(target.slice('socket:['.length, -1));
    } catch {
      // Closed between the listing and the read: no longer open.
    }
  }
  return { fds: entries.length, sockets: socketInodes.length, socketInodes };
}

/**
 * Closed-loop load from autocannon with `connections` requests in flight, cycling through the
 * given request bodies, against a gateway at `origin`. A warm-up second first, not counted; then
 * a wait until the gateway has finished what the warm-up left in flight (a client that hangs up
 * does not cancel a batch), so the measured run starts from an idle gateway.
 *
 * `bodies` is a list to cycle through, or a function giving the next body: for work that must never
 * see the same input twice (the warm-up draws from it too).
 */
export async function load(
  origin: string,
  bodies: string[] | (() => string),
  connections: number,
  seconds: number,
  options: LoadOptions = {},
): Promise<LoadResult> {
  let next = 0;
  const body = typeof bodies === 'function' ? bodies : () => bodies[next++ % bodies.length];
  const { check, amount } = options;
  let wrong = 0;
  const run = (duration: number, requests?: number) =>
    autocannon({
      url: `${origin}/graphql`,
      connections,
      duration,
      ...(requests !== undefined && { amount: requests }),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (request) => ({ ...request, body: body() }),
          ...(check && {
            onResponse: (status: number, text: string) => {
              if (status >= 200 && status < 300 && !check(text)) wrong++;
            },
          }),
        },
      ],
    });
  await run(1);
  await waitIdle(origin);
  wrong = 0;
  const serverBefore = options.pid === undefined ? 0 : processCpuMs(options.pid);
  const loadBefore = process.cpuUsage();
  const result = await run(seconds, amount);
  const loadUsed = process.cpuUsage(loadBefore);
  const serverCpuMs = options.pid === undefined ? undefined : processCpuMs(options.pid) - serverBefore;
  // Completed 2xx answers only: autocannon's request total also counts requests still in flight
  // when the time is up, which at 128 connections is a large share.
  return {
    requestsPerSecond: Math.max(0, result['2xx'] - wrong) / (amount === undefined ? seconds : result.duration),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    wrong,
    total: result.requests.total,
    completed: Math.max(0, result['2xx'] - wrong),
    serverCpuMs,
    loadCpuMs: (loadUsed.user + loadUsed.system) / 1000,
  };
}

/** Waits until the gateway's count of inference batches stops moving. */
export async function waitIdle(origin: string): Promise<void> {
  const batches = async () => {
    const text = await metrics(origin);
    return text
      .split('\n')
      .filter((l) => l.startsWith('clip_gateway_inference_seconds_count'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };
  let last = await batches();
  for (let stable = 0; stable < 2;) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    const now = await batches();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

/** Reads one Prometheus sample (optionally with a label filter) from a /metrics text. */
export function metric(text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) ||
        (labels === '' && l.startsWith(`${name}{`) === false && l.startsWith(`${name} `)),
    );
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

export async function metrics(origin: string): Promise<string> {
  return (await fetch(`${origin}/metrics`)).text();
}
