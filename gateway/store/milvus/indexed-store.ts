import type { CatalogueStore } from '../catalogue-store';
import { ComposedStore, type StoreParts } from '../composed';
import {
  modelKey,
  type ChunkOutcome,
  type Hit,
  type JobChunk,
  type ProductFilter,
  type ProductRow,
  type ProductsWrite,
  type RescoredTags,
  type TagRow,
  type VectorModel,
} from '../port';
import { MilvusError, type MilvusVectors } from './client';
import type { MilvusIndexOptions } from './index-options';

export type { MilvusIndexOptions } from './index-options';
import { askable, milvusSearch } from './search';
import { ThrottledLog } from './throttled-log';
import { rebuildCollection, storeVectorCount } from './rebuild';
import { keyOf, MilvusBehind, syncProducts, VectorSync } from './sync';

/**
 * A catalogue store whose searches Milvus / Zilliz Cloud answers: products, tags and jobs stay in
 * the store it wraps (SQLite or PostgreSQL: Milvus has no transactions), and Milvus holds a
 * derived copy of each product's vector with what the catalogue filters on, one collection per model.
 *
 * Every method is the inner store's. The writes that change what Milvus holds for a product note
 * its id once they have committed, and a sync (sync.ts) makes Milvus hold the store's state for
 * it. A search waits until the writes noted before it are in Milvus (read-your-writes), then asks
 * Milvus with the catalogue's filter as a Milvus expression. Whenever Milvus cannot be trusted to
 * answer as the store would (its collection not yet checked or being rebuilt, Milvus failing or
 * behind, a filter Milvus cannot express), the inner store answers.
 */

/** What this store knows of a model's collection: being checked or rebuilt (searches go to the store), or current. */
interface KeptCollection {
  model: VectorModel;
  state: 'checking' | 'current';
  /** Ids synced to the other collections while this one was being checked: synced to it once it is current. */
  touched: Set<string>;
}

/** Every part of the port is the inner store's; MilvusIndexedStore overrides what it adds to. */
function partsOf(inner: CatalogueStore): StoreParts {
  return {
    lifecycle: inner,
    products: inner,
    vectors: inner,
    labelVectors: inner,
    models: inner,
    search: inner,
    tags: inner,
    jobs: inner,
    webhooks: inner,
    inbound: inner,
  };
}

const number = (n: number) => n.toLocaleString('en-US');

export class MilvusIndexedStore extends ComposedStore {
  /** Searches Milvus answered, and the inner store answered (for tests and metrics). */
  milvusSearches = 0;
  innerSearches = 0;

  readonly milvus: MilvusVectors;
  private readonly sync: VectorSync;
  private readonly log: (message: string) => void;
  private readonly rebuildFirst: boolean;
  private readonly syncWaitMs: number;
  private readonly drainMs: number;
  private readonly pageSize: number;
  private readonly warnings: ThrottledLog;
  private readonly retryPrepareMs: number;

  private readonly kept = new Map<string, KeptCollection>();
  /**
   * Models written or prepared here: the sync keeps their collections in step when they exist,
   * also while not kept current (a model change's target; the active model while Milvus was down at start).
   */
  private readonly followed = new Map<string, VectorModel>();
  private readonly preparing = new Map<string, Promise<void>>();
  /** Models whose next check rebuilds, and why (a rebuild or sync cut short). */
  private readonly mustRebuild = new Map<string, string>();
  private readonly rebuiltOnce = new Set<string>();
  private readonly lazyFailedAt = new Map<string, number>();
  private closing = false;

  constructor(
    readonly inner: CatalogueStore,
    options: MilvusIndexOptions,
  ) {
    super(inner.kind, partsOf(inner));
    this.milvus = options.milvus;
    this.log = options.log ?? (() => undefined);
    this.warnings = new ThrottledLog(this.log, options.logEveryMs ?? 60_000);
    this.rebuildFirst = options.rebuild ?? false;
    this.syncWaitMs = options.syncWaitMs ?? 5_000;
    this.drainMs = options.drainMs ?? 5_000;
    this.pageSize = options.pageSize ?? 1_000;
    this.retryPrepareMs = options.retryPrepareMs ?? 30_000;
    this.sync = new VectorSync({
      apply: (ids) => this.apply(ids),
      failed: (error, waiting, retryInMs) =>
        this.warnings.warn(
          'sync',
          `Milvus sync failed, ${number(waiting)} products waiting, next try in ${retryInMs} ms: ${messageOf(error)}`,
        ),
      recovered: (failures) => this.log(`Milvus sync recovered after ${failures} failed attempt${failures === 1 ? '' : 's'}`),
    });
  }

  /** Products written to the store whose state Milvus does not have yet. */
  get syncBacklog(): number {
    return this.sync.backlog;
  }

  /** Whether searches of `model` go to Milvus now. */
  answersFromMilvus(model: VectorModel): boolean {
    return this.kept.get(keyOf(model))?.state === 'current';
  }

  // Writes: the inner store's, then the products noted for the sync.

  override async upsertProducts(products: ProductRow[]): Promise<void> {
    await this.inner.upsertProducts(products);
    this.sync.note(idsOf(products));
  }

  override async saveProducts(write: ProductsWrite): Promise<void> {
    await this.inner.saveProducts(write);
    this.follow(write.model);
    this.sync.note([...idsOf(write.products), ...write.productVectors.map((v) => v.productId), ...(write.tags?.productIds ?? [])]);
  }

  override async deleteProducts(ids: string[]): Promise<string[]> {
    const deleted = await this.inner.deleteProducts(ids);
    // All the ids, not only those that existed: an entity left by an earlier failure goes too.
    this.sync.note(ids);
    return deleted;
  }

  override async putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void> {
    await this.inner.putProductVectors(model, rows);
    this.follow(model);
    this.sync.note(rows.map((r) => r.productId));
  }

  override async replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void> {
    await this.inner.replaceAutoTags(productIds, tags);
    this.sync.note(productIds);
  }

  override async setManualTags(
    productId: string,
    facet: string,
    tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[],
    rescored?: RescoredTags,
  ): Promise<void> {
    await this.inner.setManualTags(productId, facet, tags, rescored);
    this.sync.note([productId]);
  }

  override async completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean> {
    const done = await this.inner.completeJobChunk(chunk, outcome);
    if (done) {
      if (outcome.write) this.follow(outcome.write.model);
      this.sync.note([
        ...outcome.productIds,
        ...idsOf(outcome.write?.products ?? []),
        ...(outcome.write?.productVectors ?? []).map((v) => v.productId),
      ]);
    }
    return done;
  }

  // Search.

  override async searchProducts(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]> {
    const milvusFilter = askable(model, query, k, filter);
    if (milvusFilter === false) return this.innerSearch(model, query, k, filter);
    const kept = this.kept.get(keyOf(model));
    if (kept?.state !== 'current') {
      if (!kept) this.prepareLazily(model);
      return this.innerSearch(model, query, k, filter);
    }
    try {
      await this.sync.whenSynced(this.sync.noted, this.syncWaitMs);
      const hits = await milvusSearch(this.milvus, model, query, k, milvusFilter);
      this.milvusSearches++;
      return hits;
    } catch (error) {
      if (error instanceof MilvusError && error.milvusCode === 100) await this.lost(model, 'it was dropped');
      this.warnings.warn('search', `searches answered by the store, not Milvus: ${messageOf(error)}`);
      return this.innerSearch(model, query, k, filter);
    }
  }

  /**
   * Checks `model`'s collection and makes it current: created when missing, then rebuilt from the
   * store when it was missing, when its count differs from the store's, when a rebuild or sync was
   * cut short, or on the first check with `rebuild` set. Searches of the model go to the inner
   * store until it resolves. Called by the gateway at start, and on the first search of a model.
   */
  override prepareSearch(model: VectorModel): Promise<void> {
    const key = keyOf(model);
    const running = this.preparing.get(key);
    if (running) return running;
    // The inner store's own preparation too: SQLite, opened without its graph here, stops logging
    // changes for one it may have kept before (its failure is the inner store's, not Milvus's).
    const inner = this.inner.prepareSearch(model).catch(() => undefined);
    const check = Promise.all([this.check(model), inner])
      .then(() => undefined)
      .finally(() => this.preparing.delete(key));
    this.preparing.set(key, check);
    return check;
  }

  override async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      const synced = await this.sync.drain(this.drainMs);
      if (!synced)
        this.log(
          `Milvus: ${number(this.sync.backlog)} products written were not synced before closing; the next start finds the count differs, or not (see docs/catalogue.md)`,
        );
      this.sync.stop();
      await Promise.allSettled([...this.preparing.values()]);
    }
    await this.inner.close();
  }

  // ---------------------------------------------------------------------------------------------

  /** Keeps the model's collection in step from now on, where it exists (see apply). */
  private follow(model: VectorModel): void {
    const key = keyOf(model);
    if (!this.followed.has(key)) this.followed.set(key, { name: model.name, dtype: model.dtype, dim: model.dim });
  }

  /** One sync round: these products' state into every collection kept current (and those of models written, where they exist). */
  private async apply(ids: string[]): Promise<void> {
    const targets = [...this.kept.values()].filter((k) => k.state === 'current').map((k) => k.model);
    for (const [key, model] of this.followed) {
      if (this.kept.has(key)) continue;
      // A collection of a model not kept current here (a model change's target, one whose check
      // failed): kept in step when it exists, so that it is not stale when it is searched.
      if (await this.milvus.hasCollection(model)) targets.push(model);
    }
    for (const model of targets) {
      try {
        const { refused } = await syncProducts(this.inner, this.milvus, model, ids);
        for (const r of refused)
          this.log(
            `Milvus cannot hold product ${JSON.stringify(r.productId)} (${modelKey(model)}): ${r.reason}; searches through Milvus will not find it`,
          );
      } catch (error) {
        if (error instanceof MilvusError && error.milvusCode === 100) {
          // Dropped behind this store's back: rebuilt at its next check, searched in the store until then.
          this.lostWithinRound(model, 'it was dropped');
          continue;
        }
        if (!this.kept.has(keyOf(model)) && !(error instanceof MilvusError) && !isUnavailable(error)) {
          // A written model's collection of another schema or dim: not this store's to keep.
          this.followed.delete(keyOf(model));
          this.warnings.warn('sync', `Milvus collection of ${modelKey(model)} is not kept in step: ${messageOf(error)}`);
          continue;
        }
        throw error;
      }
    }
    for (const kept of this.kept.values()) if (kept.state === 'checking') for (const id of ids) kept.touched.add(id);
  }

  private innerSearch(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]> {
    this.innerSearches++;
    return this.inner.searchProducts(model, query, k, filter);
  }

  private prepareLazily(model: VectorModel): void {
    const key = keyOf(model);
    if (this.closing || this.preparing.has(key)) return;
    const failedAt = this.lazyFailedAt.get(key);
    if (failedAt !== undefined && Date.now() - failedAt < this.retryPrepareMs) return;
    this.prepareSearch(model).catch((error: unknown) => {
      this.lazyFailedAt.set(key, Date.now());
      this.warnings.warn(`prepare ${key}`, `Milvus collection of ${modelKey(model)} not ready, searched in the store: ${messageOf(error)}`);
    });
  }

  private async check(model: VectorModel): Promise<void> {
    const key = keyOf(model);
    const name = this.milvus.collectionName(model);
    const started = Date.now();
    const wasCurrent = this.kept.get(key)?.state === 'current';
    this.follow(model);
    try {
      const existed = await this.milvus.hasCollection(model);
      if (!existed) this.milvus.forgetCollection(model);
      await this.milvus.ensureCollection(model);
      let reason = !existed
        ? 'it was missing'
        : (this.mustRebuild.get(key) ?? (this.rebuildFirst && !this.rebuiltOnce.has(key) ? 'VECTOR_INDEX_REBUILD is set' : undefined));
      if (reason === undefined) {
        if (!wasCurrent) await this.sync.exclusive(() => this.startChecking(model));
        // Writes already noted reach Milvus first, so that the counts compare like with like.
        else await this.sync.drain(this.drainMs);
        const inMilvus = await this.milvus.count(model);
        const inStore = await storeVectorCount(this.inner, model, this.pageSize, () => this.closing);
        if (inMilvus !== inStore) reason = `it held ${number(inMilvus)} vectors where the store has ${number(inStore)}`;
        else if (!wasCurrent)
          this.log(`Milvus collection ${name} (${modelKey(model)}): current, ${number(inMilvus)} vectors as in the store`);
      }
      if (reason !== undefined) {
        await this.sync.exclusive(() => this.startChecking(model));
        const result = await rebuildCollection(this.inner, this.milvus, model, this.pageSize, () => this.closing);
        this.rebuiltOnce.add(key);
        this.mustRebuild.delete(key);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        this.log(
          `Milvus collection ${name} (${modelKey(model)}): rebuilt from the store because ${reason}: ${number(result.upserted)} vectors` +
            (result.deleted > 0 ? `, ${number(result.deleted)} stale ones deleted` : '') +
            ` in ${seconds} s`,
        );
        for (const r of result.refused)
          this.log(
            `Milvus cannot hold product ${JSON.stringify(r.productId)} (${modelKey(model)}): ${r.reason}; searches through Milvus will not find it`,
          );
      }
      await this.sync.exclusive(() => {
        const kept = this.kept.get(key);
        if (!kept) return;
        if (kept.touched.size > 0) this.sync.note(kept.touched);
        kept.touched = new Set();
        kept.state = 'current';
      });
      this.lazyFailedAt.delete(key);
    } catch (error) {
      // Not current: the store answers. Ids synced to the other collections while this one was
      // checked were not applied to it, so only a rebuild makes it trustworthy again.
      await this.sync.exclusive(() => {
        if (this.kept.get(key)?.state === 'checking') this.forget(key, 'a check or rebuild of it was cut short');
      });
      throw error;
    }
  }

  /** Searches of `model` go to the store while it is checked; ids synced meanwhile are recorded for it. */
  private startChecking(model: VectorModel): void {
    const key = keyOf(model);
    const kept = this.kept.get(key);
    if (kept) kept.state = 'checking';
    else this.kept.set(key, { model: { name: model.name, dtype: model.dtype, dim: model.dim }, state: 'checking', touched: new Set() });
  }

  /** The collection is no longer kept (and, with a reason, is rebuilt at its next check). */
  private forget(key: string, rebuildBecause: string | undefined): void {
    const kept = this.kept.get(key);
    this.kept.delete(key);
    if (rebuildBecause !== undefined) this.mustRebuild.set(key, rebuildBecause);
    if (kept) this.milvus.forgetCollection(kept.model);
  }

  /** A kept collection found gone during a search: searched in the store, and prepared again (a rebuild). */
  private async lost(model: VectorModel, why: string): Promise<void> {
    await this.sync.exclusive(() => this.forget(keyOf(model), why));
    this.lazyFailedAt.delete(keyOf(model));
    this.prepareLazily(model);
  }

  /** The same, found by a sync round (already exclusive). */
  private lostWithinRound(model: VectorModel, why: string): void {
    const key = keyOf(model);
    if (this.kept.has(key)) this.forget(key, why);
    else this.milvus.forgetCollection(model);
  }
}

function idsOf(products: readonly ProductRow[]): string[] {
  return products.map((p) => p.id);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failure to reach Milvus (rather than something Milvus or this store refused). */
function isUnavailable(error: unknown): boolean {
  return (
    error instanceof MilvusBehind ||
    (typeof error === 'object' && error !== null && (error as { code?: string }).code === 'STORE_UNAVAILABLE')
  );
}
