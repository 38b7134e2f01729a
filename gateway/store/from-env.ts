// Where the catalogue is kept, from the environment: SQLite in DATA_DIR (the default) or PostgreSQL
// at DATABASE_URL (with DATABASE_PASSWORD kept out of the URL), checked where they are read. The
// variables' meanings are listed with the others in gateway/config.ts (CONFIGURATION_VARIABLES).
import { join } from 'node:path';

import { bool, httpUrl, nonEmpty, oneOf, type EnvReader, type Rule, type VariableMeanings } from '../../functions/options';
import { collectionPrefixRule, type MilvusVectorsOptions } from './milvus/client';

/** Where searches find the vectors: Milvus / Zilliz Cloud, with the rebuild flag (VECTOR_INDEX_REBUILD). */
export type MilvusIndexConfig = MilvusVectorsOptions & { rebuild: boolean };

/**
 * SQLite in one file (or `':memory:'`), or PostgreSQL with pgvector; with `milvus`, the vectors
 * are also kept in Milvus / Zilliz Cloud, which answers searches (VECTOR_INDEX=milvus).
 */
export type StoreConfig = ({ kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string }) & { milvus?: MilvusIndexConfig };

export const VECTOR_INDEXES = ['embedded', 'milvus'] as const;

/** A token is a secret: refused without quoting it. */
const milvusToken: Rule<string> = { ...nonEmpty, expected: 'an API key or user:password', problem: () => 'is blank' };

/**
 * VECTOR_INDEX and the MILVUS_ variables, every one read whatever VECTOR_INDEX says, so that a
 * Milvus variable set for nothing is refused rather than ignored.
 */
export function vectorIndexFromEnv(read: EnvReader): MilvusIndexConfig | undefined {
  const index = read.get('VECTOR_INDEX', oneOf(VECTOR_INDEXES), 'embedded');
  const address = read.optional('MILVUS_ADDRESS', httpUrl);
  const token = read.optional('MILVUS_TOKEN', milvusToken);
  const database = read.optional('MILVUS_DATABASE', nonEmpty);
  const collectionPrefix = read.optional('MILVUS_COLLECTION_PREFIX', collectionPrefixRule);
  const rebuild = read.get('VECTOR_INDEX_REBUILD', bool, false);
  if (index !== 'milvus') {
    const set = Object.entries({
      MILVUS_ADDRESS: address,
      MILVUS_TOKEN: token,
      MILVUS_DATABASE: database,
      MILVUS_COLLECTION_PREFIX: collectionPrefix,
      VECTOR_INDEX_REBUILD: rebuild || undefined,
    })
      .filter(([, value]) => value !== undefined)
      .map(([name]) => name);
    if (set.length > 0)
      throw new TypeError(
        `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but VECTOR_INDEX is ${index}: set VECTOR_INDEX=milvus to keep the vectors in Milvus, or unset ${set.length === 1 ? 'it' : 'them'}`,
      );
    return undefined;
  }
  if (address === undefined)
    throw new TypeError(
      "VECTOR_INDEX=milvus needs MILVUS_ADDRESS: the cluster's http(s) URL (Zilliz Cloud: its public endpoint; Milvus: http://host:19530)",
    );
  if (token === undefined)
    throw new TypeError('VECTOR_INDEX=milvus needs MILVUS_TOKEN: a Zilliz Cloud API key, or user:password for Milvus');
  return {
    address,
    token,
    ...(database === undefined ? {} : { database }),
    ...(collectionPrefix === undefined ? {} : { collectionPrefix }),
    rebuild,
  };
}

/** The directory of the SQLite catalogue when neither DATA_DIR nor DATABASE_URL is set. */
export const DEFAULT_DATA_DIR = './data';
/** The SQLite file inside DATA_DIR. */
export const CATALOGUE_FILE = 'catalogue.sqlite';

/** The variables storeFromEnv reads, for the configuration reference (in its catalogue group). */
export const STORE_VARIABLES: VariableMeanings[string] = {
  DATA_DIR: {
    meaning: "directory of the catalogue's SQLite file, `catalogue.sqlite` (made if missing)",
    unset: `\`${DEFAULT_DATA_DIR}\``,
  },
  DATABASE_URL: '`postgres://...`: keep the catalogue in PostgreSQL with pgvector instead (set this or `DATA_DIR`, not both)',
  DATABASE_PASSWORD: "`DATABASE_URL`'s password, put into it percent-encoded (for one injected from a secret store)",
  VECTOR_INDEX:
    "what answers searches: `embedded`, the store's own index (SQLite's HNSW graph, pgvector's HNSW), or `milvus`, a copy of the vectors in Milvus / Zilliz Cloud kept in step with the store ([Milvus](catalogue.md#milvus--zilliz-cloud))",
  MILVUS_ADDRESS: "with `VECTOR_INDEX=milvus` (and only then): the cluster's http(s) URL, a Zilliz Cloud endpoint or `http://host:19530`",
  MILVUS_TOKEN: 'with `VECTOR_INDEX=milvus`: a Zilliz Cloud API key, or `user:password` for Milvus (never logged)',
  MILVUS_DATABASE: { meaning: 'with `VECTOR_INDEX=milvus`: the Milvus database holding the collections', unset: '`default`' },
  MILVUS_COLLECTION_PREFIX: {
    meaning: "with `VECTOR_INDEX=milvus`: prepended to each model's collection name, to share a cluster between deployments",
    unset: '`clip_products_`',
  },
  VECTOR_INDEX_REBUILD:
    "with `VECTOR_INDEX=milvus`: rebuild each model's collection from the store when the gateway first prepares it, even if it looks current",
};

/** A PostgreSQL connection URL. */
export const postgresUrl: Rule<string> = {
  expected: 'a postgres:// or postgresql:// URL',
  accepts: (value): value is string => {
    if (typeof value !== 'string') return false;
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  parse: (raw) => raw.trim(),
};

/** The store DATA_DIR, DATABASE_URL and DATABASE_PASSWORD name (none: SQLite in ./data), and its vector index (VECTOR_INDEX). */
export function storeFromEnv(read: EnvReader): StoreConfig {
  const milvus = vectorIndexFromEnv(read);
  const store = engineFromEnv(read);
  return milvus ? { ...store, milvus } : store;
}

function engineFromEnv(read: EnvReader): StoreConfig {
  const dataDir = read.optional('DATA_DIR', nonEmpty);
  const url = read.optional('DATABASE_URL', postgresUrl);
  // Taken as it is (spaces may belong to it), and never quoted: any string is accepted.
  const password = read.optional<string>('DATABASE_PASSWORD', {
    expected: 'a password',
    accepts: (value): value is string => typeof value === 'string',
    parse: (raw) => raw,
    problem: () => 'is not a usable password',
  });
  if (url !== undefined && dataDir !== undefined) {
    throw new TypeError('DATA_DIR and DATABASE_URL are both set: set DATA_DIR for SQLite or DATABASE_URL for PostgreSQL, not both');
  }
  if (password !== undefined && url === undefined) {
    throw new TypeError(
      'DATABASE_PASSWORD is set without DATABASE_URL: it is the password for the PostgreSQL database DATABASE_URL names, so set both',
    );
  }
  if (url === undefined) return { kind: 'sqlite', path: join(dataDir ?? DEFAULT_DATA_DIR, CATALOGUE_FILE) };
  if (password === undefined) return { kind: 'postgres', url };
  // Percent-encoded, so that @, /, : and % in it stay part of the password; pg decodes it back.
  const withPassword = new URL(url);
  withPassword.password = encodeURIComponent(password);
  // A URL without a host (a Unix socket in ?host=) cannot hold a password: URL drops it silently.
  if (withPassword.password === '') {
    throw new TypeError('DATABASE_PASSWORD cannot go into DATABASE_URL, which names no host: give the password in ?password= instead');
  }
  return { kind: 'postgres', url: withPassword.href };
}
