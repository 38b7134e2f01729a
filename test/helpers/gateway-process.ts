// The built gateway as a process of its own, for the tests that run the real entry. Starting it is
// the benches' helper (bench/lib/gateway-process.ts, the one implementation; bench/ is built into
// dist/ and never imports test/); this adds the freshness check of the build and a GraphQL client.
import { startGatewayProcess, type GatewayProcessOptions, type RunningGateway } from '../../bench/lib/gateway-process';
import { builtEntry } from './build';

export {
  startGatewayProcess,
  startLambdaLocalProcess,
  type GatewayProcessOptions,
  type RunningGateway,
} from '../../bench/lib/gateway-process';

/** A gateway process with a GraphQL client of its own. */
export interface TestGateway extends RunningGateway {
  /** The operation's data; throws with the answer's errors when it has any. */
  graphql<T>(query: string, variables?: object): Promise<T>;
}

/**
 * Starts dist/gateway/index.js (failing when it is older than its sources) on an ephemeral port of
 * 127.0.0.1, `env` over this process's environment.
 */
export async function startBuiltGateway(
  env: Record<string, string>,
  options: Omit<GatewayProcessOptions, 'script'> = {},
): Promise<TestGateway> {
  const gateway = await startGatewayProcess(env, { ...options, script: builtEntry('gateway', 'index.js') });
  return { ...gateway, graphql: <T>(query: string, variables?: object) => graphqlAt<T>(gateway.origin, query, variables) };
}

/** Posts a GraphQL operation to a gateway at `origin`; its data, or an error carrying the answer's errors. */
export async function graphqlAt<T>(origin: string, query: string, variables?: object): Promise<T> {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
