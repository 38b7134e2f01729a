// The soak's gateway, started as production runs it, and how every phase talks to it: GraphQL
// requests counted per kind and per sampling period, setup requests that must succeed, the mix's
// requests, and waiting for the gateway to go idle.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startGatewayProcess } from '../lib';
import type { Client } from './client';
import { batchesDone, METRICS_TIMEOUT_MS, parseMetrics, queued } from './metrics';
import { bad5xx, judge, overloaded, rateLimited, type Check, type Outcome } from './outcome';
import { held, newClient } from './processes';
import { progress, sleep } from './progress';
import type { Run } from './run';
import { Sampler } from './sampler';
import { allocatorEnv, BENCH_MODEL_DIR, type MixKind, type Settings } from './settings';
import { Tally, type KindStats, type Window } from './stats';
import type { Workload } from './workload';

/** Variables the gateway reads (the README's and the work under way: admission, deadlines, rate and query limits). */
const GATEWAY_ENV =
  /^(ADMISSION_|REQUEST_TIMEOUT|RATE_LIMIT|QUERY_|MAX_|BATCH_|IMAGE_|TEXT_|LOCAL_|CLIP_|JOB_|CATALOGUE_|BODY_|REMOTE_|CIRCUIT_|INFERENCE_|CORS_|API_KEYS|DATA_DIR|DATABASE_|LAMBDA_|SANDBOX)/;

export class Session {
  readonly settings: Settings;
  /** Every product the gateway said it wrote (id → title), to be read back at the end. */
  readonly written = new Map<string, string>();
  /** Upserts whose answer never came (timeouts, cut connections, 5xx): perhaps written, perhaps not. */
  readonly unconfirmed = new Set<string>();
  /** The mix's requests, made once the gateway has said its model's dimension (by the seeding). */
  workload!: Workload;
  private readonly setupTally = new Tally();
  private readonly loadHeaders: Record<string, string>;

  constructor(
    readonly run: Run,
    readonly origin: string,
    readonly pid: number,
    /** Its own connection for /metrics, not kept alive: it holds no socket between reads. */
    readonly control: Client,
    readonly sampler: Sampler,
  ) {
    this.settings = run.settings;
    this.loadHeaders = this.settings.deadlineMs > 0 ? { 'x-request-timeout-ms': String(this.settings.deadlineMs) } : {};
  }

  async graphql(
    client: Client,
    body: string,
    // The period's counts go to the window current when the request leaves (sent) and to the one
    // current when its answer comes (outcomes), hence a getter: answers take longer than a period.
    tally?: { stats: KindStats; window?: () => Window },
    check?: Check,
    headers: Record<string, string> = {},
  ): Promise<Outcome> {
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
  }

  /** Setup requests must succeed; a refusal is retried after its Retry-After (at most 10 times). */
  async must(client: Client, query: string, variables: Record<string, unknown>, what: string): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      const o = await this.graphql(client, JSON.stringify({ query, variables }), { stats: this.setupTally.of('seed') });
      if (o.ok) return o.data!;
      if (attempt < 10 && (overloaded(o) || rateLimited(o) || o.status === 'timeout')) {
        await sleep(Math.min(5, Number(o.retryAfter) || 1) * 1000);
        continue;
      }
      throw new Error(`${what} failed: ${o.status} ${o.codes.join(',')} ${o.problem ?? ''}`);
    }
  }

  /** One request of the mix; an upsert's product is remembered as written, or as unconfirmed when its answer was lost. */
  async sendMix(client: Client, kind: MixKind, tally: Tally, window?: () => Window): Promise<Outcome> {
    const built = this.workload.build(kind);
    const o = await this.graphql(client, built.body, { stats: tally.of(kind), window }, built.check, this.loadHeaders);
    if (built.product) {
      if (o.ok) this.written.set(built.product.id, built.product.title);
      else if (o.status === 'timeout' || o.status === 'connection' || bad5xx(o)) this.unconfirmed.add(built.product.id);
    }
    return o;
  }

  /** Until the count of inference batches and every queue-like gauge stop moving (bounded). */
  async waitForIdle(timeoutMs: number): Promise<{ idle: boolean; seconds: number }> {
    const begin = performance.now();
    let last = Number.NaN;
    let stable = 0;
    while (performance.now() - begin < timeoutMs) {
      const answer = await this.control.request('GET', '/metrics', undefined, {}, METRICS_TIMEOUT_MS);
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
  }
}

/**
 * The gateway on a fresh temporary DATA_DIR (SQLite), the model of --model, no keys (mutations
 * from loopback), images fetched from this process's server on 127.0.0.1; sampled from its start.
 */
export async function startSoakGateway(run: Run, onLog: (text: string) => void): Promise<Session> {
  const { settings } = run;
  const dataDir = mkdtempSync(join(tmpdir(), 'clip-soak-'));
  held.dataDir = dataDir;
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
  const gateway = await startGatewayProcess(env, { onLog, startTimeoutMs: 180_000, script: settings.gatewayScript });
  held.gateway = gateway;
  held.gatewayChild = gateway.child;
  const pid = gateway.child.pid!;
  run.gateway.origin = gateway.origin;
  run.gateway.pid = pid;
  const control = newClient(gateway.origin, 10_000, false);
  const sampler = new Sampler(pid, Number(new URL(gateway.origin).port), control);
  run.samples = sampler.samples;
  return new Session(run, gateway.origin, pid, control, sampler);
}
