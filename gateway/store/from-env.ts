// Where the catalogue is kept, from the environment: SQLite in DATA_DIR (the default) or PostgreSQL
// at DATABASE_URL (with DATABASE_PASSWORD kept out of the URL), checked where they are read. The
// variables' meanings are listed with the others in gateway/config.ts (CONFIGURATION_VARIABLES).
import { join } from 'node:path';

import { nonEmpty, type EnvReader, type Rule } from '../../functions/options';

/** SQLite in one file (or `':memory:'`), or PostgreSQL with pgvector. */
export type StoreConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** The directory of the SQLite catalogue when neither DATA_DIR nor DATABASE_URL is set. */
export const DEFAULT_DATA_DIR = './data';
/** The SQLite file inside DATA_DIR. */
export const CATALOGUE_FILE = 'catalogue.sqlite';

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

/** The store DATA_DIR, DATABASE_URL and DATABASE_PASSWORD name (none: SQLite in ./data). */
export function storeFromEnv(read: EnvReader): StoreConfig {
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
