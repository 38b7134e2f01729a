// The console is a GraphQL client like any other: every read and write is a POST to /graphql, of
// one of the operations in operations.ts.
import { createClient, type Client } from 'graphql-ws';

import type { Operation } from './operations';

const KEY_STORAGE = 'clip-gateway.api-key';

export interface GraphQLErrorEntry {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string };
}

export interface GraphQLResult<T> {
  data?: T | null;
  errors?: GraphQLErrorEntry[];
}

/** A request that got no usable answer at all (network, not JSON, refused as a whole). */
export class RequestFailed extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

let askForKey: (reason: string) => Promise<boolean> = async () => false;

/** How the page asks for a key when the gateway wants one; resolves true once one is set. */
export function onKeyNeeded(ask: (reason: string) => Promise<boolean>): void {
  askForKey = ask;
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key: string) => sessionStorage.setItem(KEY_STORAGE, key),
  forget: () => sessionStorage.removeItem(KEY_STORAGE),
};

/**
 * Sends one operation. Errors of single fields come back in `errors` beside the data (one image
 * failing must not hide the others); a refusal of the whole request throws RequestFailed, after
 * asking for an API key once when the gateway wants one.
 */
export async function graphql<T>(query: Operation, variables: Record<string, unknown> = {}, retried = false): Promise<GraphQLResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = apiKey.get();
  if (key) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch (error) {
    throw new RequestFailed(`The gateway could not be reached: ${error instanceof Error ? error.message : String(error)}`);
  }
  let body: GraphQLResult<T>;
  try {
    body = (await response.json()) as GraphQLResult<T>;
  } catch {
    throw new RequestFailed(`/graphql answered HTTP ${response.status} without JSON.`);
  }
  const first = body.errors?.[0];
  const code = first?.extensions?.code;
  if ((response.status === 401 || response.status === 403) && !retried) {
    if (await askForKey(first?.message ?? 'This gateway asks for an API key.')) return graphql(query, variables, true);
  }
  if (body.data === undefined || (body.data === null && !first?.path)) {
    throw new RequestFailed(first?.message ?? `/graphql answered HTTP ${response.status} with no data.`, code);
  }
  return body;
}

/** The message of the first error at `path` (or below it), if any. */
export function errorAt(errors: GraphQLErrorEntry[] | undefined, ...path: (string | number)[]): string | undefined {
  return errors?.find((e) => e.path && path.every((p, i) => e.path![i] === p))?.message;
}

/** The first problem an answer reports: a GraphQL error, else the first of the mutation's userErrors. */
export function firstError(errors: GraphQLErrorEntry[] | undefined, userErrors: { message: string }[] = []): string | undefined {
  return errors?.[0]?.message ?? userErrors[0]?.message;
}

let socket: Client | undefined;

/**
 * Follows a subscription over WebSocket (graphql-ws on the gateway's /graphql, the API key in the
 * connection's init payload): `next` gets each event's data, `done` is called once when it ends,
 * with the reason when it failed (no WebSocket, refused, an error). Returns what stops following.
 */
export function subscribe<T>(
  query: Operation,
  variables: Record<string, unknown>,
  sink: { next(data: T): void; done(problem?: string): void },
): () => void {
  socket ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`,
    connectionParams: () => {
      const key = apiKey.get();
      return key ? { authorization: `Bearer ${key}` } : {};
    },
    retryAttempts: 2,
  });
  let ended = false;
  const end = (problem?: string) => {
    if (ended) return;
    ended = true;
    sink.done(problem);
  };
  return socket.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.data) sink.next(result.data as T);
        if (result.errors?.length) end(result.errors[0].message);
      },
      error: (error) => end(error instanceof Error ? error.message : 'The subscription was refused or its connection closed.'),
      complete: () => end(),
    },
  );
}
