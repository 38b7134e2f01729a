import type Database from 'better-sqlite3';

import { fromBlob } from '../vectors';
import { Graph, type GraphShape } from './graph';

/**
 * Reading the store into a graph: every product vector of a model (a build), or the changes logged
 * since a seq (a catch-up). Both read the vec0 table as it is now, so a change read twice, or read
 * both in the vectors and in the log, leaves the graph as the store is: catching up is idempotent.
 * The caller holds a read transaction around each call (the main thread's connection or a worker's).
 */

/** Products read per page while building. */
const BUILD_PAGE = 2000;

/** The last change ever logged (0 for none): AUTOINCREMENT's counter, which deleting rows leaves as it is. */
export function lastChange(db: Database.Database): number {
  return (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'").pluck().get() as number | undefined) ?? 0;
}

/** Asked between vectors: true once the store closes and the work is to stop. */
export type Stopped = () => boolean;

/** Thrown when `stopped` says so: the caller's work is abandoned, nothing half-saved. */
function checkStopped(stopped: Stopped | undefined): void {
  if (stopped?.()) throw new Error('stopped: the store is closing');
}

/** A graph of every vector in `table` (a vec0 product table), read a page of products at a time. */
export function buildGraph(db: Database.Database, table: string, dim: number, shape: GraphShape, stopped?: Stopped): Graph {
  const count = db.prepare(`SELECT product_count FROM models WHERE product_table = ?`).pluck().get(table) as number | undefined;
  const graph = Graph.create(dim, count ?? 0, shape);
  // Pages by products' pk (a plain rowid table) and a point lookup of each one's vector: vec0 has no
  // range scan on rowid, and paging keeps no transaction open while the graph is built.
  const page = db.prepare(
    `SELECT p.pk AS pk, v.embedding AS embedding FROM (SELECT pk FROM products WHERE pk > ? ORDER BY pk LIMIT ?) p
     LEFT JOIN ${table} v ON v.rowid = p.pk`,
  );
  for (let after = 0; ;) {
    const rows = db.transaction(() => page.all(after, BUILD_PAGE) as { pk: number; embedding: Buffer | null }[]).deferred();
    for (const { pk, embedding } of rows) {
      checkStopped(stopped);
      if (embedding) graph.upsert(pk, fromBlob(embedding));
    }
    if (rows.length < BUILD_PAGE) return graph;
    after = rows[rows.length - 1].pk;
  }
}

/**
 * Applies up to `limit` logged changes of `table` after seq `after` to the graph. Returns the seq of
 * the last one applied (`after` when none) and whether more are logged.
 */
export function applyChanges(
  db: Database.Database,
  graph: Graph,
  table: string,
  after: number,
  limit: number,
  stopped?: Stopped,
): { last: number; applied: number; more: boolean } {
  const changes = db
    .prepare('SELECT seq, pk FROM vector_changes WHERE product_table = ? AND seq > ? ORDER BY seq LIMIT ?')
    .all(table, after, limit + 1) as { seq: number; pk: number }[];
  const more = changes.length > limit;
  if (more) changes.pop();
  const vectorOfPk = db.prepare(`SELECT embedding FROM ${table} WHERE rowid = ?`).pluck();
  for (const pk of new Set(changes.map((change) => change.pk))) {
    checkStopped(stopped);
    const embedding = vectorOfPk.get(BigInt(pk)) as Buffer | undefined;
    if (embedding) graph.upsert(pk, fromBlob(embedding));
    else graph.remove(pk);
  }
  return { last: changes.length > 0 ? changes[changes.length - 1].seq : after, applied: changes.length, more };
}

/** How many changes of `table` are logged after `after`, counted up to `limit + 1` (past that, it stops counting). */
export function pendingChanges(db: Database.Database, table: string, after: number, limit: number): number {
  return db
    .prepare('SELECT count(*) FROM (SELECT 1 FROM vector_changes WHERE product_table = ? AND seq > ? LIMIT ?)')
    .pluck()
    .get(table, after, limit + 1) as number;
}

/** Every change logged after `after`, applied a batch per read transaction; the seq of the last. */
export function applyAllChanges(
  db: Database.Database,
  graph: Graph,
  table: string,
  after: number,
  stopped?: Stopped,
): { last: number; applied: number } {
  let applied = 0;
  for (;;) {
    const batch = db.transaction(() => applyChanges(db, graph, table, after, 10_000, stopped)).deferred();
    applied += batch.applied;
    after = batch.last;
    if (!batch.more) return { last: after, applied };
  }
}
