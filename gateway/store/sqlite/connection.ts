import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { storeError } from './errors';

/**
 * One better-sqlite3 connection and how the SQLite adapter uses it. better-sqlite3 is synchronous,
 * so each method of the store runs as one transaction (IMMEDIATE for writes, so a write never
 * fails half-way on a lock it could not upgrade) and its result is handed back as a promise.
 */

/**
 * Pauses between attempts of a call that found the database locked, in ms (then the last one, until
 * the busy timeout): SQLite's own busy handler's schedule.
 */
const BUSY_RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/** SQLITE_BUSY and its extended codes: another connection holds a lock this call needs. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

export class Connection {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly db: Database.Database,
    /** Where now comes from (taxonomy versions' createdAt, jobs' times). */
    readonly now: () => Date,
    private readonly busyTimeoutMs: number,
  ) {}

  /** A prepared statement, kept for the next call (SQLite re-prepares it if the schema changes). */
  sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `body` as one transaction and maps SQLite failures to StoreErrors naming `doing`. While
   * another connection holds a lock it needs, the transaction is tried again on a timer until the
   * busy timeout, leaving the event loop to other requests. A write takes its lock at BEGIN
   * IMMEDIATE, before `body` runs; a read can find the database busy only at its first statement,
   * and a failed attempt is rolled back: trying again repeats nothing.
   */
  async run<T>(doing: string, mode: 'read' | 'write', body: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.db.open) throw new TypeError('The database connection is not open');
        const transaction = this.db.transaction(body);
        return mode === 'write' ? transaction.immediate() : transaction.deferred();
      } catch (error) {
        const left = deadline - Date.now();
        if (!isBusy(error) || left <= 0) throw storeError(error, doing, mode === 'write');
        const pause = BUSY_RETRY_DELAYS_MS[Math.min(attempt, BUSY_RETRY_DELAYS_MS.length - 1)];
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      }
    }
  }

  /** Forgets prepared statements (after the schema changed, or before closing). */
  forgetStatements(): void {
    this.statements.clear();
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}

/**
 * Opens (creating if need be) the database at `path`: WAL, foreign keys on, sqlite-vec loaded, the
 * file read through a memory map of `mmapBytes`, and at most `maxBytes` large when given. SQLite's
 * busy handler waits for locks only while opening (nothing else is served yet); afterwards calls
 * wait on timers (see Connection.run), so the handler is turned off.
 */
export function openDatabase(path: string, busyTimeoutMs: number, mmapBytes: number, maxBytes: number | undefined): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: busyTimeoutMs });
    sqliteVec.load(db);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`mmap_size = ${mmapBytes}`);
    if (maxBytes !== undefined) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / pageSize))}`);
    }
    db.pragma('busy_timeout = 0');
    return db;
  } catch (error) {
    db?.close();
    // better-sqlite3 checks the directory itself, before SQLite would say SQLITE_CANTOPEN.
    const cantOpen = error instanceof TypeError && /directory does not exist/.test(error.message);
    throw storeError(cantOpen ? Object.assign(error, { code: 'SQLITE_CANTOPEN' }) : error, `opening ${path}`, false);
  }
}
