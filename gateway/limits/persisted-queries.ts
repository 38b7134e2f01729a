// Persisted queries: operations sent by their SHA-256 instead of their text. `apq` is Apollo's
// automatic persisted queries (a client sends the hash; on PERSISTED_QUERY_NOT_FOUND it sends the
// text once, which registers it). `safelist` is for production: only the operations of a persisted
// query list (Apollo's manifest format, what @apollo/generate-persisted-query-manifest writes) run,
// by hash or as written, and nothing a client sends is ever learned. `off` refuses the hashes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { PersistedQueryOptions } from '@apollo/server';

import { nonEmpty, oneOf, type EnvReader } from '../../functions/options';

export const PERSISTED_QUERY_MODES = ['apq', 'safelist', 'off'] as const;
export type PersistedQueryMode = (typeof PERSISTED_QUERY_MODES)[number];

export interface PersistedQueriesConfig {
  /** How operations sent by hash are treated (env PERSISTED_QUERIES). Default `apq`. */
  mode: PersistedQueryMode;
  /** The persisted query list, with `safelist` (env PERSISTED_QUERIES_MANIFEST): a JSON file in Apollo's manifest format. */
  manifest?: string;
}

export const DEFAULT_PERSISTED_QUERIES: PersistedQueriesConfig = { mode: 'apq' };

/** PERSISTED_QUERIES and PERSISTED_QUERIES_MANIFEST, checked together. */
export function persistedQueriesFromEnv(read: EnvReader): PersistedQueriesConfig {
  const mode = read.get('PERSISTED_QUERIES', oneOf(PERSISTED_QUERY_MODES), DEFAULT_PERSISTED_QUERIES.mode);
  const manifest = read.optional('PERSISTED_QUERIES_MANIFEST', nonEmpty);
  if (mode === 'safelist' && manifest === undefined) {
    throw new TypeError('PERSISTED_QUERIES=safelist needs PERSISTED_QUERIES_MANIFEST: the persisted query list whose operations alone run');
  }
  if (mode !== 'safelist' && manifest !== undefined) {
    throw new TypeError(
      `PERSISTED_QUERIES_MANIFEST is set but PERSISTED_QUERIES is ${mode}: the list is used with PERSISTED_QUERIES=safelist`,
    );
  }
  return { mode, manifest };
}

const MANIFEST_FORMAT = 'apollo-persisted-query-manifest';
const SHA256_HEX = /^[0-9a-f]{64}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The operations a safelisting gateway runs, by the SHA-256 of their text. */
export class PersistedQueryList {
  private constructor(
    /** Where the list was read from, for messages. */
    readonly source: string,
    private readonly bodies: ReadonlyMap<string, string>,
  ) {}

  /** Reads and checks a manifest: every refusal names the file and, where one is at fault, the operation. */
  static load(path: string): PersistedQueryList {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`The persisted query list ${path} (PERSISTED_QUERIES_MANIFEST) cannot be read: ${(error as Error).message}.`);
    }
    let manifest: unknown;
    try {
      manifest = JSON.parse(text);
    } catch (error) {
      throw new Error(`The persisted query list ${path} is not JSON: ${(error as Error).message}.`);
    }
    return PersistedQueryList.from(manifest, path);
  }

  /** Checks a parsed manifest (`source` names it in messages). */
  static from(manifest: unknown, source: string): PersistedQueryList {
    const fail = (reason: string) => new Error(`The persisted query list ${source} ${reason}.`);
    const { format, version, operations } = (manifest ?? {}) as { format?: unknown; version?: unknown; operations?: unknown };
    if (format !== MANIFEST_FORMAT || version !== 1) {
      throw fail(`is not an Apollo persisted query manifest: it needs "format": "${MANIFEST_FORMAT}" and "version": 1`);
    }
    if (!Array.isArray(operations)) throw fail('has no "operations" array');
    const bodies = new Map<string, string>();
    operations.forEach((operation: { id?: unknown; name?: unknown; body?: unknown }, i) => {
      const name = typeof operation?.name === 'string' ? `operation ${JSON.stringify(operation.name)}` : `operations[${i}]`;
      if (typeof operation?.body !== 'string' || operation.body.trim() === '') throw fail(`has ${name} without a body`);
      if (typeof operation.id !== 'string' || !SHA256_HEX.test(operation.id)) throw fail(`has ${name} whose id is not a SHA-256 in hex`);
      // The id is what a client sends in extensions.persistedQuery.sha256Hash: the hash of the text.
      if (operation.id !== sha256(operation.body)) {
        throw fail(`has ${name} whose id is not the SHA-256 of its body (the hash Apollo Client's persisted query link sends)`);
      }
      bodies.set(operation.id, operation.body);
    });
    return new PersistedQueryList(source, bodies);
  }

  get size(): number {
    return this.bodies.size;
  }

  has(sha256Hash: string | undefined): boolean {
    return sha256Hash !== undefined && this.bodies.has(sha256Hash);
  }

  body(sha256Hash: string): string | undefined {
    return this.bodies.get(sha256Hash);
  }
}

/**
 * Apollo's `persistedQueries` option for a mode. With a safelist, Apollo's cache of registered
 * operations is the list itself, read-only: a listed hash is served, any other is not found, and
 * what a client sends is never stored.
 */
export function apolloPersistedQueries(mode: PersistedQueryMode, list?: PersistedQueryList): PersistedQueryOptions | false | undefined {
  if (mode === 'off') return false;
  if (mode === 'apq') return undefined; // Apollo's own: an in-memory cache, bounded
  if (!list) throw new Error('PERSISTED_QUERIES=safelist needs its list (PERSISTED_QUERIES_MANIFEST).');
  return {
    cache: {
      // Apollo asks with a prefix of its own ("apq:"): the hash is the key's last 64 characters.
      get: async (key: string) => list.body(key.slice(-64)),
      set: async () => {},
      delete: async () => false,
    },
  };
}

/** The refusal of an operation that is not in the list, sent by its text. */
export function notInSafelist(list: PersistedQueryList): string {
  return `This operation is not in the gateway's persisted query list (PERSISTED_QUERIES=safelist): only its ${list.size} operations run here, sent by hash or as written.`;
}
