import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type Database from 'better-sqlite3';

import { applyAllChanges, buildGraph, lastChange, type Stopped } from './changes';
import { Graph, type GraphShape } from './graph';

/**
 * Making a saved index current: the one the store registered, loaded and caught up with the changes
 * logged since; or, when there is none or it cannot be read, one built from every vector. Either
 * way it is saved under a new token, in a directory of its own that nothing else writes: until the
 * store registers that token (indexes.ts), the one registered before stays the one to load, so a
 * process killed at any point leaves a usable index or none, never half of one.
 */

export interface RefreshRequest {
  /** Where indexes are saved: `<table>.<token>/` directories. */
  dir: string;
  /** The model's vec0 product table. */
  table: string;
  dim: number;
  shape: GraphShape;
  /** The index the store registered for the table (token null: none) and the last change it holds. */
  registered: { token: string | null; seq: number };
}

export interface RefreshOutcome {
  /** The new index's token: its directory is `<dir>/<table>.<token>`. */
  token: string;
  /** The last logged change the new index holds. */
  seq: number;
  /** `repaired`: the registered index, caught up; `built`: made from every vector, for the reason given. */
  how: 'repaired' | 'built';
  why?: string;
  vectors: number;
  /** Logged changes applied after loading or building. */
  changes: number;
  ms: number;
}

/** The directory of a table's index saved under `token`. */
export function indexDirOf(dir: string, table: string, token: string): string {
  return join(dir, `${table}.${token}`);
}

export async function refreshIndex(db: Database.Database, request: RefreshRequest, stopped?: Stopped): Promise<RefreshOutcome> {
  const started = performance.now();
  const { dir, table, dim, shape, registered } = request;
  let graph: Graph | undefined;
  let from = registered.seq;
  let why: string | undefined;
  const savedDir = registered.token === null ? undefined : indexDirOf(dir, table, registered.token);
  if (savedDir === undefined) why = 'no index was saved';
  else if (!existsSync(savedDir)) why = `the saved index ${savedDir} is missing`;
  else {
    try {
      graph = await Graph.load(savedDir, dim);
    } catch (error) {
      why = `the saved index could not be read (${(error as Error).message})`;
    }
  }
  if (!graph) {
    // Changes logged from here on are caught up below: one made while the vectors are read is read
    // twice at worst, which leaves the graph as the store is.
    from = db.transaction(() => lastChange(db)).deferred();
    graph = buildGraph(db, table, dim, shape, stopped);
  }
  const caughtUp = applyAllChanges(db, graph, table, from, stopped);
  const token = randomUUID();
  const saved = indexDirOf(dir, table, token);
  await mkdir(saved, { recursive: true });
  try {
    await graph.save(saved);
    await writeFile(join(saved, 'index.json'), JSON.stringify({ table, dim, ...shape, seq: caughtUp.last, vectors: graph.size }) + '\n');
  } catch (error) {
    await rm(saved, { recursive: true, force: true });
    throw error;
  }
  return {
    token,
    seq: caughtUp.last,
    how: why === undefined ? 'repaired' : 'built',
    why,
    vectors: graph.size,
    changes: caughtUp.applied,
    ms: performance.now() - started,
  };
}
