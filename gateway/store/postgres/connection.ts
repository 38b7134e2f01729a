import type { Pool, PoolClient } from 'pg';

import { check, integer, nonNegativeInt, oneOf, positiveInt, timeoutMs, type Rule } from '../../../functions/options';
import { StoreError } from '../port';
import { toStoreError } from './errors';
import { Names } from './schema';

/** The PostgreSQL adapter's options, and the pool of connections its parts share. */

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`. Never shown in errors. */
  url: string;
  /** The schema holding the catalogue's tables, made by migrate(). Default "public". */
  schema: string;
  /** Connections in the pool. Default 10. */
  poolSize: number;
  /** Deadline to open a connection, in ms. Default 5000. */
  connectTimeoutMs: number;
  /**
   * Deadline of one statement, in ms: the server's statement_timeout, and the client's one second
   * later (for a server that stopped answering altogether). Default 30000.
   */
  statementTimeoutMs: number;
  /**
   * Most index entries one HNSW iterative scan visits (pgvector's hnsw.max_scan_tuples) before a
   * filtered search falls back to an exact scan of the filtered products. Default 20000.
   */
  maxScanTuples: number;
  /**
   * Candidates an HNSW search keeps (pgvector's hnsw.ef_search; at least k + 1, at most 1000), and
   * twice as many under a filter. pgvector's default, 40, gave recall@20 of 0.89 (0.71 filtered) on
   * 10,000 clustered 512-dim vectors; 200 gives 0.99, and 400 under a 10% filter 0.97. Default 200.
   */
  efSearch: number;
  /**
   * A filtered search whose filter matches at most this many products is an exact scan of them
   * (counted first, never past this number). Under a filter matching 10% of 100,000 clustered
   * vectors an HNSW scan found 0.87 of the true 20 nearest even at ef_search 400; the exact scan
   * finds them all. 0: filtered searches go through the index. Default 20000.
   */
  exactSearchMatching: number;
  /**
   * What the product vectors' HNSW index holds: 'half', the vectors cast to halfvec(dim) (pgvector
   * 0.7+, up to 4,000 dims), or 'full', vector(dim) (up to 2,000). Either way the column is
   * vector(dim) and the candidates are rescored on it: scores and order are float32's. On 20,000
   * 512-dim vectors (BENCHMARKS.md §6.7) 'half' made the index half the size (1,366 bytes a vector
   * against 2,731) at the same recall@20 (0.997 against 0.998, 0.925 against 0.923 under a 10%
   * filter), but took 3.3× as long to build and 2× as long to search on PGlite, whose WebAssembly
   * has no hardware 16-bit float conversion (pgvector uses x86's F16C where the CPU has it). migrate()
   * rebuilds each model's index to match, so every gateway on a database must use the same.
   * Dimensions past what the kind can index fall back to 'full', then to no index (exact scans).
   * Default 'half'.
   */
  indexPrecision: 'half' | 'full';
}

export const DEFAULT_POSTGRES_STORE_OPTIONS: Omit<PostgresStoreOptions, 'url'> = {
  schema: 'public',
  poolSize: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  maxScanTuples: 20_000,
  efSearch: 200,
  exactSearchMatching: 20_000,
  indexPrecision: 'half',
};

/** A schema name used unquoted-safe: lower-case letters, digits and underscores, at most 63. */
export const schemaName: Rule<string> = {
  expected: 'a schema name of lower-case letters, digits and underscores (at most 63, not starting with a digit)',
  accepts: (value): value is string => typeof value === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(value) && !value.startsWith('pg_'),
  parse: (raw) => raw.trim(),
};

const CLIENT_DEADLINE_MARGIN_MS = 1_000;

/** Checks every option once, where they enter, in the order they are documented. */
export function checkOptions(options: PostgresStoreOptions): PostgresStoreOptions {
  // The URL holds the password: a bad one is refused without being repeated.
  if (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) {
    throw new TypeError('url must be a postgres:// or postgresql:// URL');
  }
  return {
    url: options.url,
    schema: check('schema', options.schema, schemaName),
    poolSize: check('poolSize', options.poolSize, positiveInt),
    connectTimeoutMs: check('connectTimeoutMs', options.connectTimeoutMs, timeoutMs),
    statementTimeoutMs: check('statementTimeoutMs', options.statementTimeoutMs, integer(1, 2 ** 31 - 1 - CLIENT_DEADLINE_MARGIN_MS)),
    maxScanTuples: check('maxScanTuples', options.maxScanTuples, positiveInt),
    efSearch: check('efSearch', options.efSearch, integer(1, 1000)),
    exactSearchMatching: check('exactSearchMatching', options.exactSearchMatching, nonNegativeInt),
    indexPrecision: check('indexPrecision', options.indexPrecision, oneOf(['half', 'full'] as const)),
  };
}

/** Work on one pooled connection; `discard` closes the connection afterwards instead of reusing it. */
export type Work<T> = (client: PoolClient, discard: () => void) => Promise<T>;

export class Connection {
  readonly names: Names;
  private readonly pool: Pool;
  private closing?: Promise<void>;

  constructor(options: PostgresStoreOptions) {
    this.names = new Names(options.schema);
    // pg is required here, when a PostgreSQL catalogue is opened: the default SQLite one never loads it.
    const pg = require('pg') as typeof import('pg');
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.statementTimeoutMs,
      query_timeout: options.statementTimeoutMs + CLIENT_DEADLINE_MARGIN_MS,
      application_name: 'clip-gateway',
      keepAlive: true,
    });
    // An idle connection the server closed (a restart, a failover) is dropped by the pool and
    // replaced on the next checkout; without a listener its error would end the process.
    this.pool.on('error', () => {});
  }

  /** Runs `work` with a pooled connection; a connection that failed is closed rather than reused. */
  async withClient<T>(work: Work<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error);
    }
    let broken = false;
    const discard = () => {
      broken = true;
    };
    // A connection lost between two statements reports here; the next statement then fails.
    client.on('error', discard);
    try {
      return await work(client, discard);
    } catch (error) {
      const mapped = toStoreError(error);
      if (mapped instanceof StoreError && mapped.code === 'STORE_UNAVAILABLE') broken = true;
      throw mapped;
    } finally {
      client.off('error', discard);
      client.release(broken);
    }
  }

  /** BEGIN, `work`, COMMIT on one connection; ROLLBACK when anything fails, so nothing is half-written. */
  async inTransaction<T>(client: PoolClient, discard: () => void, work: Work<T>, begin = 'BEGIN'): Promise<T> {
    await client.query(begin);
    try {
      const result = await work(client, discard);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        discard(); // the connection's state is unknown: close it
      }
      throw error;
    }
  }

  transaction<T>(work: Work<T>): Promise<T> {
    return this.withClient((client, discard) => this.inTransaction(client, discard, work));
  }

  /** A query's rows, on a pooled connection of its own. */
  async rows<R extends object>(text: string, values?: unknown[]): Promise<R[]> {
    return this.withClient(async (client) => (await client.query<R>(text, values)).rows);
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}
