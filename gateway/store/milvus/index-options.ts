import type { MilvusVectors } from './client';

/** What a MilvusIndexedStore is given besides the store it wraps. */
export interface MilvusIndexOptions {
  milvus: MilvusVectors;
  /** Hears what the index does on its own: rebuilds, failures (throttled), recoveries. */
  log?: (message: string) => void;
  /** Rebuild each model's collection the first time it is prepared, whatever its state (VECTOR_INDEX_REBUILD). */
  rebuild?: boolean;
  /** Longest a search waits for the writes before it to reach Milvus before the store answers it instead. Default 5000. */
  syncWaitMs?: number;
  /** Longest close() waits for noted writes to reach Milvus. Default 5000. */
  drainMs?: number;
  /** Products read from the store per page when counting or rebuilding. Default 1000. */
  pageSize?: number;
  /** A failure of the same kind is logged at most once in this many ms. Default 60000. */
  logEveryMs?: number;
  /** After a failed lazy preparation, the next one waits this long. Default 30000. */
  retryPrepareMs?: number;
}
