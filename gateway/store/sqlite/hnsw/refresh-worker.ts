import { parentPort, workerData } from 'node:worker_threads';

import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

import { refreshIndex, type RefreshRequest } from './refresh';

/**
 * A worker thread that makes one saved index current (refresh.ts) on a read-only connection of its
 * own, so that building a graph of a million vectors (minutes) never holds the gateway's event loop.
 */

export interface RefreshWorkerData {
  dbPath: string;
  request: RefreshRequest;
  /**
   * One Int32 the gateway sets to 1 when the store closes: the work stops between two vectors.
   * Terminating the thread instead could stop it inside hnswlib's addPoint, which aborts the process.
   */
  stop: SharedArrayBuffer;
}

export type RefreshWorkerReply = { outcome: import('./refresh').RefreshOutcome } | { error: string };

async function refreshInThisThread({ dbPath, request, stop }: RefreshWorkerData): Promise<RefreshWorkerReply> {
  const flag = new Int32Array(stop);
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    sqliteVec.load(db);
    // Reads every vector in place through the map, as the gateway's own connection does.
    db.pragma(`mmap_size = ${2 ** 31}`);
    return { outcome: await refreshIndex(db, request, () => Atomics.load(flag, 0) === 1) };
  } catch (error) {
    // Said in words here: an error object loses its message crossing to the parent thread.
    return { error: (error as Error)?.message ?? String(error) };
  } finally {
    db?.close();
  }
}

void refreshInThisThread(workerData as RefreshWorkerData).then((reply) => parentPort!.postMessage(reply));
