// Closed-loop HTTP load on a gateway (autocannon), and reading its /metrics.
import autocannon from 'autocannon';

import { processCpuMs } from './proc';

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
