/**
 * API keys: who may run which GraphQL operation. Transport-free: the host says what the client
 * presented (a bearer token, whether it came from this machine) and this module decides. Keys
 * themselves are never configured, only their SHA-256; presented keys are hashed and compared in
 * constant time. Nothing here logs a key or a hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import type { Rule } from '../../functions/options';

/**
 * What a key may do: `read` runs queries; `write` runs queries and mutations; `admin` all that write
 * may, the operations that send the catalogue's data elsewhere (webhook endpoints), and imports of
 * a whole product file (productsImport).
 */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** One configured key, by its SHA-256 (64 lowercase hex digits). */
export interface ApiKey {
  sha256: string;
  scope: Scope;
}

/** What the client presented, as the host saw it. */
export interface Credentials {
  /** The token of `Authorization: Bearer <token>`, when sent. */
  bearer?: string;
  /** Whether the client connected from this machine (127.0.0.0/8, ::1, ::ffff:127.0.0.1). */
  loopback: boolean;
  /** The client's address, for its rate limits: the socket's, or the one the trusted proxies forwarded (TRUST_PROXY_HOPS). */
  address?: string;
}

export type OperationType = 'query' | 'mutation' | 'subscription';

/** The two refusals' codes, as in `ErrorCode`. */
export type AuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN';

export type AuthDecision = { ok: true } | { ok: false; code: AuthErrorCode; status: 401 | 403; message: string };

export const AUTH_MESSAGES = {
  missing:
    'This gateway needs an API key: send the header Authorization: Bearer <key>, with a read key for queries or a write key for mutations.',
  unknown:
    'The API key sent is not one this gateway knows: send Authorization: Bearer <key> with a key from its operator (npm run catalogue -- key makes one).',
  readOnly: 'This API key has the read scope and mutations need write: send Authorization: Bearer <key> with a write key.',
  remoteWithoutKeys:
    'This gateway has no API keys, so it takes mutations only from its own machine: configure API_KEYS on it and send Authorization: Bearer <key> with a write key.',
  notAdmin:
    'Webhook endpoints and file imports need an API key with the admin scope: send Authorization: Bearer <key> with an admin key (npm run catalogue -- key --scope admin makes one).',
  remoteAdminWithoutKeys:
    'This gateway has no API keys, so it takes admin operations (webhook endpoints, file imports) only from its own machine: configure API_KEYS with an admin key and send it as Authorization: Bearer <key>.',
} as const;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The SHA-256 of a key, in hex: what API_KEYS holds. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * A new random key (`clip_` and 32 bytes in base64url) and its API_KEYS entry. The prefix says
 * what the key is for wherever it is pasted, and keeps a key from starting with "-", which a
 * command line would read as an option (`--key -Xf...`).
 */
export function newApiKey(scope: Scope): { key: string; entry: string } {
  const key = `clip_${randomBytes(32).toString('base64url')}`;
  return { key, entry: `${hashKey(key)}:${scope}` };
}

/** Whether an address is this machine's: 127.0.0.0/8, ::1, or 127.x as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.toLowerCase().replace(/^::ffff:/, '');
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return true;
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/** The token of an `Authorization: Bearer <token>` header; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** What credentialsOf reads of a request: Node's IncomingMessage, or Express's Request with its `ip`. */
interface PresentingRequest {
  headers: { authorization?: string };
  socket: { remoteAddress?: string };
  ip?: string;
}

/**
 * What a request presents: its bearer token (from `authorization` when given, as a WebSocket's init
 * message carries it, else the header), whether its socket is on this machine, and its address
 * (Express's `ip`, what trusted proxies forwarded, else the socket's). The socket's own address
 * decides loopback: X-Forwarded-For is the client's to write, so it never makes a client local.
 */
export function credentialsOf(request: PresentingRequest, authorization = request.headers.authorization): Credentials {
  return {
    bearer: bearerToken(authorization),
    loopback: isLoopbackAddress(request.socket.remoteAddress),
    address: request.ip ?? request.socket.remoteAddress,
  };
}

/** The start of something that may be a secret, for an error message: never the whole of it. */
function glimpse(text: string): string {
  return JSON.stringify(text.length > 8 ? `${text.slice(0, 4)}…` : text);
}

/** API_KEYS's text as keys, or the sentence saying what is wrong (quoting only the start of a bad entry). */
export function parseApiKeys(raw: string): { keys: ApiKey[] } | { problem: string } {
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) return { problem: 'lists no keys' };
  const keys: ApiKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = `entry ${i + 1}`;
    const colon = entry.lastIndexOf(':');
    if (colon < 0) return { problem: `${at} (${glimpse(entry)}) has no scope: write it as <sha256 hex of the key>:read, :write or :admin` };
    const sha256 = entry.slice(0, colon).trim().toLowerCase();
    const scope = entry.slice(colon + 1).trim();
    if (!SHA256_HEX.test(sha256)) {
      return {
        problem: `${at} (${glimpse(entry)}) does not start with 64 hex digits: API_KEYS holds the SHA-256 of each key, not the key (npm run catalogue -- key prints both)`,
      };
    }
    if (!SCOPES.includes(scope as Scope)) return { problem: `${at} has the scope ${glimpse(scope)}: the scope is read, write or admin` };
    const repeated = keys.findIndex((k) => k.sha256 === sha256);
    if (repeated >= 0) return { problem: `${at} repeats the key of entry ${repeated + 1}` };
    keys.push({ sha256, scope: scope as Scope });
  }
  return { keys };
}

function isApiKeyList(value: unknown): value is ApiKey[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((k: Partial<ApiKey>) => typeof k?.sha256 === 'string' && SHA256_HEX.test(k.sha256) && SCOPES.includes(k.scope as Scope))
  );
}

/** API_KEYS for the options toolkit: `<sha256 hex>:<scope>`, comma-separated; errors quote only the start of a bad entry. */
export const apiKeyList: Rule<ApiKey[]> = {
  expected: 'a comma-separated list of <sha256 hex of the key>:<read|write|admin>',
  accepts: isApiKeyList,
  parse: (raw) => {
    const parsed = parseApiKeys(raw);
    return 'keys' in parsed ? parsed.keys : undefined;
  },
  problem: (raw) => {
    const parsed = parseApiKeys(raw);
    return 'problem' in parsed ? parsed.problem : 'is not valid';
  },
};

/** Decides, for each operation, whether the credentials presented allow it. */
export class ApiKeys {
  private readonly keys: { sha256: Buffer; scope: Scope }[];

  constructor(keys: readonly ApiKey[] = []) {
    if (keys.length > 0 && !isApiKeyList([...keys])) throw new TypeError(`apiKeys must be ${apiKeyList.expected}`);
    this.keys = keys.map((k) => ({ sha256: Buffer.from(k.sha256, 'hex'), scope: k.scope }));
  }

  /** Whether any key is configured: without keys, queries are open and mutations are for loopback clients. */
  get configured(): boolean {
    return this.keys.length > 0;
  }

  /**
   * The scope of a presented key, or undefined when it is none of the configured ones. Its SHA-256
   * is compared with every configured hash in constant time, without stopping at a match, so the
   * time taken says nothing about which key, or how much of one, matched.
   */
  scopeOf(bearer: string): Scope | undefined {
    const presented = createHash('sha256').update(bearer, 'utf8').digest();
    let scope: Scope | undefined;
    for (const key of this.keys) {
      const equal = timingSafeEqual(presented, key.sha256);
      scope = equal ? key.scope : scope;
    }
    return scope;
  }

  /** Whether an operation of this type may run with these credentials, and if not, the refusal. */
  authorize(operation: OperationType, credentials: Credentials): AuthDecision {
    const needs: Scope = operation === 'mutation' ? 'write' : 'read';
    if (!this.configured) {
      if (needs === 'read' || credentials.loopback) return { ok: true };
      return { ok: false, code: 'FORBIDDEN', status: 403, message: AUTH_MESSAGES.remoteWithoutKeys };
    }
    if (credentials.bearer === undefined || credentials.bearer === '') {
      return { ok: false, code: 'UNAUTHENTICATED', status: 401, message: AUTH_MESSAGES.missing };
    }
    const scope = this.scopeOf(credentials.bearer);
    if (scope === undefined) return { ok: false, code: 'UNAUTHENTICATED', status: 401, message: AUTH_MESSAGES.unknown };
    if (needs === 'write' && scope === 'read') return { ok: false, code: 'FORBIDDEN', status: 403, message: AUTH_MESSAGES.readOnly };
    return { ok: true };
  }

  /**
   * Whether these credentials may run an admin operation (registering where the catalogue's data is
   * sent): an admin key; without keys, a client on this machine, as for mutations.
   */
  authorizeAdmin(credentials: Credentials): AuthDecision {
    if (!this.configured) {
      return credentials.loopback
        ? { ok: true }
        : { ok: false, code: 'FORBIDDEN', status: 403, message: AUTH_MESSAGES.remoteAdminWithoutKeys };
    }
    if (credentials.bearer === undefined || credentials.bearer === '') {
      return { ok: false, code: 'UNAUTHENTICATED', status: 401, message: AUTH_MESSAGES.missing };
    }
    const scope = this.scopeOf(credentials.bearer);
    if (scope === undefined) return { ok: false, code: 'UNAUTHENTICATED', status: 401, message: AUTH_MESSAGES.unknown };
    if (scope !== 'admin') return { ok: false, code: 'FORBIDDEN', status: 403, message: AUTH_MESSAGES.notAdmin };
    return { ok: true };
  }
}
