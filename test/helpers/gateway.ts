import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Logger } from '../../gateway/common/log';
import { defaultConfig, type GatewayConfig } from '../../gateway/config';
import { createGateway, type Gateway, type GatewayDeps } from '../../gateway/gateway';
import { GatewayHost } from '../../gateway/host';
import { openSqliteStore } from '../../gateway/store';
import { TINY_CLIP_DIR } from './tiny-clip';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** A gateway under test, and one way of sending it GraphQL. */
export interface TestGateway {
  gateway: Gateway;
  logs: string[];
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

export interface RunningGateway extends TestGateway {
  host: GatewayHost;
  /** http://127.0.0.1:<port> */
  origin: string;
}

/** The defaults with the bundled tiny CLIP; `workers` 0 runs it on the test's own thread. */
function testConfig(overrides: Partial<GatewayConfig>, workers: number): GatewayConfig {
  const base = defaultConfig();
  const backend = base.backend.kind === 'local' ? { ...base.backend, modelDir: TINY_CLIP_DIR, workers } : base.backend;
  // An in-memory catalogue: tests never write a data directory unless they ask for one.
  return { ...base, backend, store: { kind: 'sqlite', path: ':memory:' }, ...overrides };
}

async function create(config: GatewayConfig, deps: GatewayDeps): Promise<{ gateway: Gateway; logs: string[] }> {
  const logs: string[] = [];
  const log: Logger = (message, error) => logs.push(`${message}${error ? ` ${String(error)}` : ''}`);
  return { gateway: await createGateway(config, { log, ...deps }), logs };
}

/**
 * A gateway without HTTP: operations go through Apollo's executeOperation with a fresh context
 * each, as the host would make them. The tiny CLIP runs on this thread unless `deps` says otherwise.
 */
export async function createTestGateway(overrides: Partial<GatewayConfig> = {}, deps: GatewayDeps = {}): Promise<TestGateway> {
  const { gateway, logs } = await create(testConfig(overrides, 0), deps);
  return {
    gateway,
    logs,
    async graphql<T>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
      const response = await gateway.apollo.executeOperation<T>({ query, variables }, { contextValue: gateway.context() });
      if (response.body.kind !== 'single') throw new Error('expected a single result');
      const { data, errors } = response.body.singleResult;
      return {
        status: response.http.status ?? 200,
        ...(data !== undefined ? { data: data as T | null } : {}),
        ...(errors ? { errors: errors as GraphQLResponse<T>['errors'] } : {}),
      };
    },
    stop: () => gateway.stop(),
  };
}

/** A real gateway over HTTP, with the tiny CLIP on one worker thread, on an ephemeral loopback port. */
export async function startGateway(overrides: Partial<GatewayConfig> = {}, deps: GatewayDeps = {}): Promise<RunningGateway> {
  const { gateway, logs } = await create(testConfig(overrides, 1), deps);
  const host = new GatewayHost(gateway);
  const address = await host.listen(0, '127.0.0.1');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    gateway,
    host,
    origin,
    logs,
    async graphql(query, variables) {
      const response = await fetch(`${origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as object) };
    },
    stop: () => host.stop(),
  };
}

/** Sum and count of a histogram's observations for one label set, from the gateway's registry. */
export async function histogram(
  gateway: Gateway,
  name: 'batchSize' | 'queueDelay',
  labels: Record<string, string>,
): Promise<{ count: number; sum: number }> {
  const { values } = await gateway.metrics[name].get();
  const pick = (suffix: string) =>
    values.find(
      (v) => v.metricName?.endsWith(suffix) && Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
    )?.value ?? 0;
  return { count: pick('_count'), sum: pick('_sum') };
}

/**
 * Test gateways on one SQLite catalogue file, a fresh file for each test: each gateway a new
 * process's worth of caches and job runner over the same store, as a restart or a second gateway
 * would be. Registers the hooks that make the file and stop the gateways and remove it after.
 */
export function gatewaysOnOneFile(prefix: string): () => Promise<TestGateway> {
  let dir: string;
  const running: TestGateway[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  return async () => {
    const t = await createTestGateway({}, { store: await openSqliteStore({ path: join(dir, 'catalogue.sqlite') }) });
    running.push(t);
    return t;
  };
}
