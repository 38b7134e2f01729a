import type { CatalogueStore } from '../catalogue-store';
import { modelKey, type VectorModel } from '../port';
import type { MilvusVectors, VectorEntry } from './client';

/**
 * Keeping Milvus's copy of the catalogue's vectors in step with the store, after the store's writes.
 *
 * Milvus has no transactions to join, so a write commits in the store first; the ids of the
 * products it touched are then noted here, and a sync reads what the store holds for them now and
 * makes Milvus hold the same (upserts, or deletes for a product gone or without a vector). Reading
 * the state rather than replaying the write makes a sync idempotent and order-free: ids noted
 * twice are synced once, and a sync that runs late writes the newest state, never an older one.
 *
 * Noted ids stay in memory until Milvus has them: a failed sync keeps them and tries again with
 * backoff, and never fails the write, which has committed. What memory does not survive is a
 * process killed between a write and its sync: see docs/catalogue.md (Milvus / Zilliz Cloud).
 */

/** Ids synced per round (each model's vectors and the products' tags are read for them at once). */
export const SYNC_BATCH = 1_000;
/** Backoff after a failed round: doubling from the first to the last. */
const FIRST_RETRY_MS = 200;
const LAST_RETRY_MS = 30_000;

/** Raised to a search waiting for its writes to reach Milvus when they cannot: it is answered by the store instead. */
export class MilvusBehind extends Error {
  override readonly name = 'MilvusBehind';
}

export interface VectorSyncOptions {
  /** Syncs these ids into every model's collection that is kept; throws when Milvus fails. */
  apply: (ids: string[]) => Promise<void>;
  /** Told of each failed round (the ids are kept and tried again). */
  failed: (error: unknown, ids: number, retryInMs: number) => void;
  /** Told once a round succeeds after failures. */
  recovered: (failures: number) => void;
}

type Waiter = { through: number; resolve: () => void; reject: (error: Error) => void; timer?: NodeJS.Timeout };

export class VectorSync {
  /** Noted ids not yet synced, each with the sequence number of its latest note. */
  private readonly pending = new Map<string, number>();
  /** The ids of the round under way. */
  private readonly inFlight = new Map<string, number>();
  private seq = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private driving: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  /** Rounds and whatever must not interleave with one (a rebuild's hand-over) run one at a time. */
  private lock: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: VectorSyncOptions) {}

  /** The ids noted so far: a search waits for everything up to it (see whenSynced). */
  get noted(): number {
    return this.seq;
  }

  /** How many ids are waiting for Milvus (noted and not yet synced). */
  get backlog(): number {
    return new Set([...this.pending.keys(), ...this.inFlight.keys()]).size;
  }

  /** True after a failed round, until one succeeds. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Notes products whose state in the store changed (after the write committed), and starts a sync. */
  note(ids: Iterable<string>): void {
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      this.pending.delete(id); // re-inserted at the end: the map stays in note order
      this.pending.set(id, ++this.seq);
    }
    if (this.pending.size > 0 && !this.stopped && this.retryTimer === undefined) this.drive();
  }

  /**
   * Resolves once every id noted up to `through` has reached Milvus. Rejects with MilvusBehind at
   * once while Milvus is failing, or after `timeoutMs`: the caller then reads the store instead
   * of a Milvus that does not yet hold its writes.
   */
  whenSynced(through: number, timeoutMs: number): Promise<void> {
    if (this.oldestUnsynced() > through) return Promise.resolve();
    if (this.failing) return Promise.reject(new MilvusBehind(`Milvus is failing, with ${this.backlog} products not yet synced`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { through, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new MilvusBehind(`the products written before this search were not in Milvus within ${timeoutMs} ms`));
      }, timeoutMs);
      waiter.timer.unref?.();
      this.waiters.push(waiter);
    });
  }

  /** Runs `fn` between rounds: no round is under way while it runs. */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Syncs what is noted now, waiting at most `timeoutMs`; false when ids are left (Milvus failing, or slow). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.backlog === 0) return true;
    if (this.failing) {
      // One more try now rather than at the end of the backoff.
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.drive();
    }
    const deadline = Date.now() + timeoutMs;
    while (this.backlog > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, deadline - Date.now()))));
      if (this.failing && this.retryTimer !== undefined && this.driving === undefined) break;
    }
    return this.backlog === 0;
  }

  /** Stops retrying (the store is closing); what is still noted stays unsynced. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new MilvusBehind('the store is closing'));
    }
  }

  private oldestUnsynced(): number {
    let oldest = Infinity;
    for (const seq of this.pending.values()) if (seq < oldest) oldest = seq;
    for (const seq of this.inFlight.values()) if (seq < oldest) oldest = seq;
    return oldest;
  }

  private drive(): void {
    if (this.driving) return;
    this.driving = (async () => {
      try {
        while (this.pending.size > 0 && !this.stopped) {
          const ok = await this.exclusive(() => this.round());
          if (!ok) return;
        }
      } finally {
        this.driving = undefined;
      }
      // Noted while the last round finished: go on.
      if (this.pending.size > 0 && !this.stopped && this.retryTimer === undefined) this.drive();
    })();
  }

  /** One batch: true when it reached Milvus. */
  private async round(): Promise<boolean> {
    for (const [id, seq] of this.pending) {
      if (this.inFlight.size >= SYNC_BATCH) break;
      this.inFlight.set(id, seq);
    }
    for (const id of this.inFlight.keys()) this.pending.delete(id);
    const ids = [...this.inFlight.keys()];
    try {
      await this.options.apply(ids);
    } catch (error) {
      // Kept: an id noted again meanwhile is in pending with its newer number already.
      for (const [id, seq] of this.inFlight) if (!this.pending.has(id)) this.pending.set(id, seq);
      this.inFlight.clear();
      this.failures++;
      const retryInMs = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.failures - 1));
      this.options.failed(error, this.backlog, retryInMs);
      for (const waiter of this.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new MilvusBehind(`Milvus is failing, with ${this.backlog} products not yet synced`));
      }
      if (!this.stopped) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.drive();
        }, retryInMs);
        this.retryTimer.unref?.();
      }
      return false;
    }
    this.inFlight.clear();
    if (this.failures > 0) this.options.recovered(this.failures);
    this.failures = 0;
    const oldest = this.oldestUnsynced();
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.through >= oldest) return true;
      clearTimeout(waiter.timer);
      waiter.resolve();
      return false;
    });
    return true;
  }
}

/**
 * Makes `model`'s collection hold what the store holds for these products: an entity for each that
 * exists with a vector of the model (its vector, tags and attributes), none for the others. Returns
 * the entries that Milvus cannot hold (refused by MilvusVectors' checks: a tag or attribute over
 * Milvus's limits), which are deleted there instead, with why.
 */
export async function syncProducts(
  inner: CatalogueStore,
  milvus: MilvusVectors,
  model: VectorModel,
  ids: readonly string[],
): Promise<{ upserted: number; deleted: number; refused: { productId: string; reason: string }[] }> {
  const unique = [...new Set(ids)];
  const entries = await entriesOf(inner, model, unique);
  const kept = new Set(entries.map((e) => e.productId));
  const refused: { productId: string; reason: string }[] = [];
  try {
    await milvus.upsert(model, entries);
  } catch (error) {
    // A check of MilvusVectors (TypeError, RangeError), not Milvus failing: find the entries it
    // refuses, one by one, and send the others.
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    const fit: VectorEntry[] = [];
    for (const entry of entries) {
      try {
        milvus.checkEntry(model, entry);
        fit.push(entry);
      } catch (e) {
        if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
        refused.push({ productId: entry.productId, reason: e.message });
        kept.delete(entry.productId);
      }
    }
    await milvus.upsert(model, fit);
  }
  const gone = unique.filter((id) => !kept.has(id));
  await milvus.delete(model, gone);
  return { upserted: kept.size, deleted: gone.length, refused };
}

/** The entries of these products for `model`: those that exist and have a vector of it, in the order given. */
export async function entriesOf(inner: CatalogueStore, model: VectorModel, ids: readonly string[]): Promise<VectorEntry[]> {
  if (ids.length === 0) return [];
  const vectors = await inner.getProductVectors(model, [...ids]);
  if (vectors.size === 0) return [];
  const withVector = ids.filter((id) => vectors.has(id));
  // One after the other: a store on one connection (PGlite in tests) must not interleave them.
  const products = await inner.getProducts(withVector);
  const tags = await inner.getTags(withVector);
  return products
    .filter((p) => vectors.has(p.id))
    .map((p) => ({
      productId: p.id,
      vector: vectors.get(p.id)!,
      tags: (tags.get(p.id) ?? []).map((t) => ({ facet: t.facet, label: t.label })),
      attributes: p.attributes,
    }));
}

/** The key a model's state is kept under. */
export const keyOf = (model: VectorModel): string => `${modelKey(model)}|${model.dim}`;
