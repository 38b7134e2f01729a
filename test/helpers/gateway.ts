import { Gateway, type Logger } from '../../gateway/app';
import { defaultConfig, type GatewayConfig } from '../../gateway/config';
import { TINY_CLIP_DIR } from './tiny-clip';

export interface RunningGateway {
  gateway: Gateway;
  /** http://127.0.0.1:<port> */
  origin: string;
  logs: string[];
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** A real gateway with the tiny CLIP on one worker thread, listening on an ephemeral loopback port. */
export async function startGateway(overrides: Partial<GatewayConfig> = {}): Promise<RunningGateway> {
  const logs: string[] = [];
  const log: Logger = (message, error) => logs.push(`${message}${error ? ` ${String(error)}` : ''}`);
  const config: GatewayConfig = { ...defaultConfig(), modelDir: TINY_CLIP_DIR, localWorkers: 1, ...overrides };
  const gateway = await Gateway.create({ config, log });
  const address = await gateway.listen(0, '127.0.0.1');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    gateway,
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
    stop: () => gateway.stop(),
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
