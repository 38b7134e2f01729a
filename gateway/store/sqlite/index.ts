import { check, integer, nonEmpty, nonNegativeInt, positiveInt, timeoutMs } from '../../../functions/options';
import { ComposedStore, type StoreParts } from '../composed';
import { Connection, openDatabase } from './connection';
import { SearchIndexes } from './hnsw/indexes';
import { Inbound } from './inbound';
import { Jobs } from './jobs';
import { LabelVectors } from './label-vectors';
import { Models } from './models';
import { Products } from './products';
import { Lifecycle } from './lifecycle';
import { KNN_MAX_K, Search } from './search';
import { Tags } from './tags';
import { Vectors } from './vectors';
import { Webhooks } from './webhooks';

export { indexRootOf } from './hnsw/indexes';
/** The HNSW graph alone, for benchmarks of its shape (bench/catalogue/graph-shape.ts). */
export { Graph as HnswGraph } from './hnsw/graph';

/**
 * The embedded adapter of the catalogue port: SQLite through better-sqlite3, vectors in sqlite-vec
 * vec0 tables. One file per concern, the same names as the PostgreSQL adapter's: connection,
 * schema (migrations), rows, filters, errors, products, vectors, models, search, tags, jobs.
 */

export interface SqliteStoreOptions {
  /** The database file (the gateway uses `DATA_DIR/catalogue.sqlite`), or `':memory:'`. */
  path: string;
  /**
   * How long a call waits for another connection's lock before failing with STORE_UNAVAILABLE.
   * Default 5000. It waits between retries on timers, not in SQLite's busy handler, which sleeps
   * on the calling thread: a gateway waiting there for another process's lock would answer nothing
   * else, not even /healthz, until the lock came free or the timeout passed.
   */
  busyTimeoutMs?: number;
  /**
   * Bytes of the file SQLite reads through a memory map (default 2 GiB, SQLite's own ceiling). A
   * vector search reads every vector of the model: through the map it reads them in place instead
   * of copying each page through SQLite's cache, which halves an unfiltered search.
   */
  mmapBytes?: number;
  /** Where now comes from (taxonomy versions' createdAt). Default: the system clock. */
  now?: () => Date;
  /**
   * The number of product vectors of a model up to which its searches are exact (default 20 000).
   * Above it, a search takes its candidates from an HNSW graph of the vectors (hnswlib), made in a
   * worker thread and saved beside the database file (`<path>-hnsw/`), and rescores them exactly;
   * while the graph is being made, from the binary-quantized copy of the vectors (nearest by
   * Hamming distance). Either is far faster at scale, but no longer exact.
   */
  approximateSearchAbove?: number;
  /**
   * The HNSW graph's shape: links per vector (default 32) and the build's beam width (default 64).
   * On the bench's million clustered 512-dim vectors, 16 links left recall@20 at 0.93 however wide
   * the search; 32 reach 0.97 at a width of 256 in about a millisecond (BENCHMARKS.md §6.3). A
   * build beam of 64 built 100,000 of them 2.2× faster than 128, at the same recall.
   */
  searchIndexShape?: { m?: number; efConstruction?: number };
  /** The HNSW search's beam width: at least k + 1, half this under a filter (default 256). */
  searchIndexEf?: number;
  /**
   * False: no HNSW graph, approximate searches take the binary-quantized copy only (for a store
   * whose searches another index answers, VECTOR_INDEX=milvus, so that its fallback costs no graph's
   * memory). Default true.
   */
  searchIndex?: boolean;
  /** Where the store says what it does on its own (the search index made, loaded or repaired). Default: stderr. */
  log?: (message: string) => void;
  /**
   * How many candidates an approximate search takes from the binary-quantized vectors before it
   * rescores them (at least 10 × k; at most 4096), twice as many under a filter. Default 1200: on
   * 100 000 clustered, normalised 512-dim vectors, recall@20 against the exact search of 1.0
   * unfiltered at a p50 of ~24 ms on 2 cores against ~114 ms exact (see BENCHMARKS.md).
   */
  approximateSearchCandidates?: number;
  /**
   * The largest the database may grow, in bytes (SQLite's max_page_count): a write that would pass
   * it fails as a full disk does, with STORE_UNAVAILABLE, and writes nothing. Default: no limit but
   * the disk's.
   */
  maxBytes?: number;
}

/**
 * Opens (creating if need be) the catalogue database at `options.path`: WAL, foreign keys on, a
 * busy timeout, sqlite-vec loaded. Call `migrate()` before anything else.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const path = check('path', options?.path, nonEmpty);
  const busyTimeoutMs = check('busyTimeoutMs', options.busyTimeoutMs ?? 5000, timeoutMs);
  const mmapBytes = check('mmapBytes', options.mmapBytes ?? 2 ** 31, nonNegativeInt);
  const approximateAbove = check('approximateSearchAbove', options.approximateSearchAbove ?? 20_000, nonNegativeInt);
  const approximateCandidates = check('approximateSearchCandidates', options.approximateSearchCandidates ?? 1200, integer(1, KNN_MAX_K));
  const maxBytes = options.maxBytes === undefined ? undefined : check('maxBytes', options.maxBytes, positiveInt);
  const shape = {
    m: check('searchIndexShape.m', options.searchIndexShape?.m ?? 32, integer(2, 100)),
    efConstruction: check('searchIndexShape.efConstruction', options.searchIndexShape?.efConstruction ?? 64, integer(8, 4096)),
  };
  const indexEf = check('searchIndexEf', options.searchIndexEf ?? 256, integer(1, 4096));
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const db = openDatabase(path, busyTimeoutMs, mmapBytes, maxBytes);
  const c = new Connection(db, options.now ?? (() => new Date()), busyTimeoutMs);
  const vectors = new Vectors(c);
  const models = new Models(c);
  const tags = new Tags(c);
  const products = new Products(c, { vectors, tags });
  const indexes = new SearchIndexes(c, { dbPath: path === ':memory:' ? null : path, shape, log, enabled: options.searchIndex ?? true });
  const search = new Search(c, { vectors, indexes, tuning: { approximateAbove, approximateCandidates, indexEf } });
  return new SqliteStore(
    {
      lifecycle: new Lifecycle(c, { indexes }),
      products,
      vectors,
      labelVectors: new LabelVectors(c, { vectors }),
      models,
      search,
      tags,
      jobs: new Jobs(c, { models, products, tags }),
      webhooks: new Webhooks(c),
      inbound: new Inbound(c),
    },
    search,
  );
}

/** The embedded store, with how its approximate searches were answered (for tests and benchmarks). */
export class SqliteStore extends ComposedStore {
  constructor(
    parts: StoreParts,
    private readonly search: Search,
  ) {
    super('sqlite', parts);
  }

  /**
   * Searches above `approximateSearchAbove` answered through the HNSW graph (`codes` of them by
   * ranking a selective filter's products by their codes), or through the binary copy while it was made.
   */
  get approximateSearches(): { graph: number; codes: number; binary: number } {
    return { ...this.search.approximate };
  }

  /** Products a search's walk has checked against a filter by a query, not answered from what earlier searches learnt (filter-memory.ts). */
  get filterChecks(): number {
    return this.search.filterChecks;
  }
}
