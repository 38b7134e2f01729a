import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import type { Connection } from '../connection';
import type { ModelTables } from '../vectors';
import { applyAllChanges, applyChanges, buildGraph, lastChange, pendingChanges } from './changes';
import { Graph, type GraphShape } from './graph';
import { indexDirOf, type RefreshOutcome, type RefreshRequest } from './refresh';
import type { RefreshWorkerData, RefreshWorkerReply } from './refresh-worker';

/**
 * The approximate indexes of the models' product vectors, in this process: derived data, which the
 * store's writes never wait for. Every write of a product vector logs its pk (vectors.ts, in the
 * write's transaction) once the model has an index; a search first applies the changes logged since
 * its graph was current, so it answers from the store as it is, whichever process wrote. A graph is
 * (re)made in a worker thread: the saved one loaded and caught up, or, when there is none or it is
 * unreadable, one built from every vector; then saved, registered in the store (which lets the log go
 * up to it) and swapped in. Until then searches take the store's other approximate path.
 */

export interface SearchIndexSettings {
  /** The database file, or null for an in-memory database, whose graphs are built in this thread and never saved. */
  dbPath: string | null;
  shape: GraphShape;
  log: (message: string) => void;
  /** False: no graph is made; current() always answers undefined. */
  enabled: boolean;
}

/**
 * The most logged changes a search applies before it answers (each costs about a graph insert,
 * ~1 ms at a million vectors); with more pending, the graph is remade in the background and the
 * search answered without it.
 */
const LIVE_CHANGES_MAX = 200;
/** A graph is saved again once this many changes were applied to it since it was (the log shrinks to the rest). */
const resaveAfter = (size: number) => Math.max(10_000, Math.floor(size / 10));
/** After a failed refresh, the next is tried no sooner than this. */
const RETRY_AFTER_MS = 60_000;
/** How long a closing store waits for a worker to stop between two vectors before terminating it. */
const WORKER_STOP_MS = 10_000;

interface ModelIndex {
  graph?: Graph;
  /** The last logged change the graph holds. */
  applied: number;
  /** The registered token the graph was loaded from (null in memory). */
  token: string | null;
  sinceSaved: number;
  refreshing?: Promise<void>;
  retryAt: number;
}

/** Where a store's saved indexes live: beside its file. */
export function indexRootOf(dbPath: string): string {
  return `${dbPath}-hnsw`;
}

export class SearchIndexes {
  private readonly models = new Map<string, ModelIndex>();
  /** Running workers and the flag that asks each to stop. */
  private readonly workers = new Map<Worker, Int32Array>();
  private closed = false;

  constructor(
    private readonly c: Connection,
    private readonly settings: SearchIndexSettings,
  ) {}

  /**
   * The model's graph, caught up with every change the store holds, or undefined while it is being
   * made (this call starts that). Called inside the search's read transaction, so the graph and the
   * vectors the search rescores are of the same moment.
   */
  current(tables: ModelTables, modelKey: string): Graph | undefined {
    if (!this.settings.enabled) return undefined;
    const index = this.indexOf(tables.product);
    const stale = index.graph && index.token !== tables.indexToken && index.applied < tables.indexSeq;
    if (!index.graph || stale) {
      // Another process saved a newer index and let go of the log this graph would catch up from.
      this.refresh(tables, modelKey);
      return undefined;
    }
    if (pendingChanges(this.c.db, tables.product, index.applied, LIVE_CHANGES_MAX) > LIVE_CHANGES_MAX) {
      this.refresh(tables, modelKey);
      return undefined;
    }
    const caught = applyChanges(this.c.db, index.graph, tables.product, index.applied, LIVE_CHANGES_MAX);
    index.applied = caught.last;
    index.sinceSaved += caught.applied;
    if (index.sinceSaved >= resaveAfter(index.graph.size)) this.refresh(tables, modelKey);
    return index.graph;
  }

  /** Resolves once the model's graph is made (or its making failed: then searches go without it). */
  async prepare(tables: ModelTables, modelKey: string): Promise<void> {
    if (!this.settings.enabled) {
      // A store that kept a graph before: its writes would go on logging changes nothing reads.
      if (tables.logged) await this.stopLogging(tables.product);
      return;
    }
    const index = this.indexOf(tables.product);
    await index.refreshing;
    const { graph, applied, token } = index;
    if (graph && !(token !== tables.indexToken && applied < tables.indexSeq)) {
      const pending = await this.c.run('preparing the search index', 'read', () =>
        pendingChanges(this.c.db, tables.product, applied, LIVE_CHANGES_MAX),
      );
      // Few enough for the next search to apply.
      if (pending <= LIVE_CHANGES_MAX) return;
    }
    this.refresh(tables, modelKey);
    await index.refreshing;
  }

  /** No more logging of the table's changes, and no registered graph (its files are left for a rebuild to replace). */
  private async stopLogging(table: string): Promise<void> {
    await this.c.run('turning the search index off', 'write', () => {
      this.c.sql('UPDATE models SET index_logged = 0, index_token = NULL, index_seq = 0 WHERE product_table = ?').run(table);
      this.c.sql('DELETE FROM vector_changes WHERE product_table = ?').run(table);
    });
  }

  /**
   * Stops the workers: each is asked to, and stops between two vectors; one still running after
   * WORKER_STOP_MS is terminated. A save they leave unfinished is never registered, and is removed
   * by the next refresh.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.workers].map(async ([worker, stop]) => {
        let late: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          worker.once('exit', () => resolve());
          Atomics.store(stop, 0, 1);
          // terminate() resolves at once for a thread that has already ended.
          late = setTimeout(() => void worker.terminate().then(() => resolve()), WORKER_STOP_MS);
        });
        clearTimeout(late);
      }),
    );
    await Promise.all([...this.models.values()].map((index) => index.refreshing));
  }

  private indexOf(table: string): ModelIndex {
    let index = this.models.get(table);
    if (!index) {
      index = { applied: 0, token: null, sinceSaved: 0, retryAt: 0 };
      this.models.set(table, index);
    }
    return index;
  }

  private refresh(tables: ModelTables, modelKey: string): void {
    const index = this.indexOf(tables.product);
    if (index.refreshing || this.closed || Date.now() < index.retryAt) return;
    index.refreshing = this.remake(tables, index)
      .then((note) => this.settings.log(`search index of model ${modelKey}: ${note}`))
      .catch((error: unknown) => {
        index.retryAt = Date.now() + RETRY_AFTER_MS;
        if (!this.closed) {
          this.settings.log(
            `search index of model ${modelKey} could not be made (${(error as Error)?.message ?? error}); searches go without it, next try in ${RETRY_AFTER_MS / 1000} s`,
          );
        }
      })
      .finally(() => {
        index.refreshing = undefined;
      });
  }

  /** Makes the graph current and swaps it in; says how. */
  private async remake(tables: ModelTables, index: ModelIndex): Promise<string> {
    const table = tables.product;
    const registered = await this.c.run('preparing the search index', 'write', () => {
      // From here on the table's changes are logged (the write's transaction commits them with the flag).
      this.c.sql('UPDATE models SET index_logged = 1 WHERE product_table = ?').run(table);
      return this.c.sql('SELECT index_token AS token, index_seq AS seq FROM models WHERE product_table = ?').get(table) as {
        token: string | null;
        seq: number;
      };
    });
    const { dbPath, shape } = this.settings;
    if (dbPath === null) return this.buildInMemory(tables, index);
    const dir = indexRootOf(dbPath);
    const loaded = await this.loadRegistered(dir, tables, index, registered);
    if (loaded !== undefined) return loaded;
    const outcome = await this.inWorker(dbPath, { dir, table, dim: tables.dim, shape, registered });
    const graph = await Graph.load(indexDirOf(dir, table, outcome.token), tables.dim);
    if (this.closed) throw new Error('the store was closed');
    const caught = await this.c.run('registering the search index', 'write', () => {
      if (this.registeredToken(table) !== registered.token) {
        // Another process registered an index meanwhile and let go of the log up to it: the changes
        // this one would catch up with may be gone. Its index is the one to load.
        return undefined;
      }
      this.c.sql('UPDATE models SET index_token = ?, index_seq = ? WHERE product_table = ?').run(outcome.token, outcome.seq, table);
      this.c.sql('DELETE FROM vector_changes WHERE product_table = ? AND seq <= ?').run(table, outcome.seq);
      // The changes committed while the worker ran.
      return applyAllChanges(this.c.db, graph, table, outcome.seq);
    });
    if (!caught) {
      await rm(indexDirOf(dir, table, outcome.token), { recursive: true, force: true });
      return this.remake({ ...tables, indexToken: null }, index);
    }
    Object.assign(index, { graph, applied: caught.last, token: outcome.token, sinceSaved: caught.applied });
    await this.removeOthers(dir, table, outcome.token);
    return describe(outcome);
  }

  /**
   * The registered graph loaded here, when its files are there (codes included) and no more changes
   * were logged since it was saved than a search applies: a restart then reads it once, where the
   * worker would load it, save it again unchanged, and have it loaded here after (at a million
   * vectors, some 20 s more). Undefined when it is not so, or when loading fails: the worker then
   * repairs or rebuilds it, and says why.
   */
  private async loadRegistered(
    dir: string,
    tables: ModelTables,
    index: ModelIndex,
    registered: { token: string | null; seq: number },
  ): Promise<string | undefined> {
    const started = performance.now();
    const table = tables.product;
    if (registered.token === null || !existsSync(indexDirOf(dir, table, registered.token))) return undefined;
    const pending = await this.c.run('preparing the search index', 'read', () =>
      pendingChanges(this.c.db, table, registered.seq, LIVE_CHANGES_MAX),
    );
    if (pending > LIVE_CHANGES_MAX) return undefined;
    let graph: Graph;
    try {
      graph = await Graph.load(indexDirOf(dir, table, registered.token), tables.dim, 'saved');
    } catch {
      return undefined;
    }
    if (this.closed) throw new Error('the store was closed');
    const caught = await this.c.run('preparing the search index', 'read', () => {
      // Another process registered a newer graph meanwhile, and may have let go of the log this one needs.
      if (this.registeredToken(table) !== registered.token) return undefined;
      return applyAllChanges(this.c.db, graph, table, registered.seq);
    });
    if (!caught) return undefined;
    Object.assign(index, { graph, applied: caught.last, token: registered.token, sinceSaved: caught.applied });
    await this.removeOthers(dir, table, registered.token);
    return describe({
      how: 'repaired',
      vectors: graph.size,
      changes: caught.applied,
      ms: performance.now() - started,
    });
  }

  /** The token of the table's registered graph (null: none), inside the caller's transaction. */
  private registeredToken(table: string): string | null {
    return this.c.sql('SELECT index_token FROM models WHERE product_table = ?').pluck().get(table) as string | null;
  }

  /** An in-memory store's graph: built here, in one read, and never saved (its log is let go up to it). */
  private async buildInMemory(tables: ModelTables, index: ModelIndex): Promise<string> {
    const started = performance.now();
    const { graph, seq } = await this.c.run('building the search index', 'read', () => ({
      seq: lastChange(this.c.db),
      graph: buildGraph(this.c.db, tables.product, tables.dim, this.settings.shape),
    }));
    await this.c.run('registering the search index', 'write', () => {
      this.c.sql('UPDATE models SET index_seq = ? WHERE product_table = ?').run(seq, tables.product);
      this.c.sql('DELETE FROM vector_changes WHERE product_table = ? AND seq <= ?').run(tables.product, seq);
    });
    Object.assign(index, { graph, applied: seq, token: null, sinceSaved: 0 });
    return `built from ${graph.size} vectors in memory in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  }

  private inWorker(dbPath: string, request: RefreshRequest): Promise<RefreshOutcome> {
    const { filename, eval: isCode } = workerEntry();
    const stop = new SharedArrayBuffer(4);
    const worker = new Worker(filename, { eval: isCode, workerData: { dbPath, request, stop } satisfies RefreshWorkerData });
    this.workers.set(worker, new Int32Array(stop));
    worker.once('exit', () => this.workers.delete(worker));
    return new Promise<RefreshOutcome>((resolve, reject) => {
      worker.once('message', (reply: RefreshWorkerReply) => ('outcome' in reply ? resolve(reply.outcome) : reject(new Error(reply.error))));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the index worker stopped (exit code ${code})`)));
    });
  }

  /** Saved indexes of the table other than the registered one: superseded, or left unfinished by a process that stopped. */
  private async removeOthers(dir: string, table: string, token: string): Promise<void> {
    const keep = indexDirOf(dir, table, token);
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (name.startsWith(`${table}.`) && path !== keep) await rm(path, { recursive: true, force: true });
    }
  }
}

function describe(outcome: Pick<RefreshOutcome, 'how' | 'why' | 'vectors' | 'changes' | 'ms'>): string {
  const seconds = (outcome.ms / 1000).toFixed(1);
  return outcome.how === 'repaired'
    ? `loaded the saved index and applied ${outcome.changes} changes logged since (${outcome.vectors} vectors) in ${seconds} s`
    : `rebuilt from the store because ${outcome.why}: ${outcome.vectors} vectors (${outcome.changes} changes during the build) in ${seconds} s`;
}

/**
 * The worker's entry: the compiled JavaScript beside this file, or, run from the sources (jest, tsx),
 * the TypeScript required through tsx's require hook, so a test runs the worker code it sees.
 */
function workerEntry(): { filename: string; eval: boolean } {
  const compiled = join(__dirname, 'refresh-worker.js');
  if (existsSync(compiled)) return { filename: compiled, eval: false };
  const source = join(__dirname, 'refresh-worker.ts');
  if (existsSync(source)) return { filename: `require('tsx/cjs/api').register(); require(${JSON.stringify(source)});`, eval: true };
  throw new Error(`The search index's worker is missing: neither ${compiled} nor ${source} exists.`);
}
