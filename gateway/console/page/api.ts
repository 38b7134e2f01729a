// The console is a GraphQL client like any other: every read and write is a POST to /graphql, of
// one of the operations in operations.ts; one whose variables hold files is a GraphQL multipart
// request (https://github.com/jaydenseric/graphql-multipart-request-spec), as apollo-upload-client sends it.
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
 * The variables with each file replaced by null, and each file with the places it held, as the
 * multipart request spec's `map` names them (`variables.images.0.file`).
 */
function extractFiles(value: unknown, path: string, files: Map<Blob, string[]>): unknown {
  if (value instanceof Blob) {
    files.set(value, [...(files.get(value) ?? []), path]);
    return null;
  }
  if (Array.isArray(value)) return value.map((item, i) => extractFiles(item, `${path}.${i}`, files));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, extractFiles(item, `${path}.${key}`, files)]));
  }
  return value;
}

/**
 * The request's body: JSON, or, when the variables hold files, a multipart form (operations, map,
 * then each file as its own part). A multipart request needs a preflight header: a browser sends
 * forms cross-site without asking, so the gateway (Apollo's CSRF prevention) refuses one without it.
 */
function requestOf(query: Operation, variables: Record<string, unknown>, headers: Record<string, string>): RequestInit {
  const files = new Map<Blob, string[]>();
  const withoutFiles = extractFiles(variables, 'variables', files);
  if (files.size === 0) {
    return { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) };
  }
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: withoutFiles }));
  const parts = [...files];
  form.append('map', JSON.stringify(Object.fromEntries(parts.map(([, paths], i) => [String(i), paths]))));
  parts.forEach(([file, paths], i) => form.append(String(i), file, file instanceof File ? file.name : paths[0]));
  // No content-type: the browser writes it, with the form's boundary.
  return { method: 'POST', headers: { ...headers, 'apollo-require-preflight': 'true' }, body: form };
}

/**
 * Sends one operation. Errors of single fields come back in `errors` beside the data (one image
 * failing must not hide the others); a refusal of the whole request throws RequestFailed, after
 * asking for an API key once when the gateway wants one.
 */
export async function graphql<T>(query: Operation, variables: Record<string, unknown> = {}, retried = false): Promise<GraphQLResult<T>> {
  const headers: Record<string, string> = {};
  const key = apiKey.get();
  if (key) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch('/graphql', requestOf(query, variables, headers));
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
