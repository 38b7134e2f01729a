import { StoreError } from '../port';

/** How SQLite's failures reach a caller: as STORE_UNAVAILABLE when the database cannot be used now, naming what failed. */

/** SQLite result codes (extended codes start with these) that mean the database cannot be used now. */
const UNUSABLE: [prefix: string, what: string][] = [
  ['SQLITE_BUSY', 'the catalogue database is locked by another connection and stayed locked past the busy timeout'],
  ['SQLITE_LOCKED', 'the catalogue database is locked'],
  ['SQLITE_FULL', 'the catalogue database, or the disk holding it, is full'],
  ['SQLITE_CANTOPEN', 'the catalogue database file cannot be opened'],
  ['SQLITE_READONLY', 'the catalogue database is read-only'],
  ['SQLITE_CORRUPT', 'the catalogue database file is corrupt'],
  ['SQLITE_NOTADB', 'the catalogue database file is not an SQLite database'],
  ['SQLITE_IOERR', 'reading or writing the catalogue database failed'],
  ['SQLITE_PERM', 'the catalogue database file may not be accessed'],
  ['SQLITE_NOMEM', 'SQLite ran out of memory'],
  ['SQLITE_PROTOCOL', 'the catalogue database lock protocol failed'],
];

/** The error a caller gets for `error`, thrown while doing `doing` ("upsertProducts"), a write when `writes`. */
export function storeError(error: unknown, doing: string, writes: boolean): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const match = UNUSABLE.find(([prefix]) => code.startsWith(prefix));
    if (match)
      return new StoreError('STORE_UNAVAILABLE', `${doing} failed: ${match[1]} (${code})${writes ? '; nothing was written' : ''}`, {
        cause: error,
      });
  }
  if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
    return new StoreError('STORE_UNAVAILABLE', `${doing} failed: the catalogue store is closed`, { cause: error });
  }
  return error;
}
