import type { CatalogueStore } from '../catalogue-store';
import type { VectorModel } from '../port';
import type { IdRange, MilvusVectors, VectorEntry } from './client';

/**
 * A model's collection made again from the store, for when it is missing or cannot be trusted:
 * every product with a vector of the model is upserted (pages of the store, in id order), then
 * the entities of products the store no longer holds a vector for are deleted.
 *
 * Finding those entities without listing the whole collection into memory: Milvus returns a
 * query's rows in no set order, so ids cannot be paged with a cursor. Instead the id space is
 * split into ranges (by a median of a sample of the range's ids) until a range holds few enough
 * entities to be read whole, and each such range is checked against the store.
 */

export interface RebuildResult {
  /** Entities written. */
  upserted: number;
  /** Entities removed (products gone from the store, or without a vector of the model). */
  deleted: number;
  /** Products Milvus cannot hold (over its limits), with why: left out of the collection. */
  refused: { productId: string; reason: string }[];
}

/** Entities read whole from one range at most (Milvus answers a query with at most 16,384 rows). */
const RANGE_READ = 5_000;
/** Ids checked against the store per read, and per delete request. */
const CHECK_BATCH = 1_000;

/** Products of the store with a vector of `model`, counted a page at a time. */
export async function storeVectorCount(
  inner: CatalogueStore,
  model: VectorModel,
  pageSize: number,
  stopped: () => boolean,
): Promise<number> {
  let count = 0;
  for await (const page of productPages(inner, pageSize, stopped)) {
    const vectors = await inner.getProductVectors(
      model,
      page.map((p) => p.id),
    );
    count += vectors.size;
  }
  return count;
}

export async function rebuildCollection(
  inner: CatalogueStore,
  milvus: MilvusVectors,
  model: VectorModel,
  pageSize: number,
  stopped: () => boolean,
): Promise<RebuildResult> {
  const result: RebuildResult = { upserted: 0, deleted: 0, refused: [] };
  for await (const page of productPages(inner, pageSize, stopped)) {
    const ids = page.map((p) => p.id);
    const vectors = await inner.getProductVectors(model, ids);
    if (vectors.size === 0) continue;
    const withVector = page.filter((p) => vectors.has(p.id));
    const tags = await inner.getTags(withVector.map((p) => p.id));
    const entries: VectorEntry[] = [];
    for (const p of withVector) {
      const entry: VectorEntry = {
        productId: p.id,
        vector: vectors.get(p.id)!,
        tags: (tags.get(p.id) ?? []).map((t) => ({ facet: t.facet, label: t.label })),
        attributes: p.attributes,
      };
      try {
        milvus.checkEntry(model, entry);
        entries.push(entry);
      } catch (error) {
        if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
        result.refused.push({ productId: p.id, reason: error.message });
      }
    }
    await milvus.upsert(model, entries);
    result.upserted += entries.length;
  }
  result.deleted = await deleteStrays(inner, milvus, model, new Set(result.refused.map((r) => r.productId)), stopped);
  return result;
}

/**
 * Deletes the entities of `model` whose product has no vector of it in the store (or is in
 * `alsoDelete`); returns how many.
 */
export async function deleteStrays(
  inner: CatalogueStore,
  milvus: MilvusVectors,
  model: VectorModel,
  alsoDelete: ReadonlySet<string>,
  stopped: () => boolean,
): Promise<number> {
  let deleted = 0;
  const ranges: { range: IdRange; count?: number }[] = [{ range: {} }];
  while (ranges.length > 0) {
    if (stopped()) throw new Error('the store is closing');
    const { range, count: known } = ranges.pop()!;
    const count = known ?? (await milvus.countRange(model, range));
    if (count === 0) continue;
    const ids = await milvus.idsInRange(model, range, RANGE_READ);
    if (count <= RANGE_READ) {
      for (let i = 0; i < ids.length; i += CHECK_BATCH) {
        const batch = ids.slice(i, i + CHECK_BATCH);
        const vectors = await inner.getProductVectors(model, batch);
        const gone = batch.filter((id) => !vectors.has(id) || alsoDelete.has(id));
        await milvus.delete(model, gone);
        deleted += gone.length;
      }
      continue;
    }
    // Milvus compares VarChar keys by their bytes (Go strings): so does this sort, so that the
    // median splits the range in two parts that each hold part of the sample.
    ids.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const pivot = ids[Math.floor(ids.length / 2)];
    const low = { after: range.after, upTo: pivot };
    const high = { after: pivot, upTo: range.upTo };
    const lowCount = await milvus.countRange(model, low);
    if (lowCount === 0 || lowCount >= count)
      throw new Error(
        `cannot split Milvus ids between ${JSON.stringify(range.after ?? '')} and ${JSON.stringify(range.upTo ?? '')} (${count} entities): the collection changed while it was read`,
      );
    ranges.push({ range: low, count: lowCount }, { range: high });
  }
  return deleted;
}

/** The store's products, `pageSize` at a time, in id order. */
async function* productPages(
  inner: CatalogueStore,
  pageSize: number,
  stopped: () => boolean,
): AsyncGenerator<Awaited<ReturnType<CatalogueStore['listProducts']>>['items']> {
  let after: string | undefined;
  for (;;) {
    if (stopped()) throw new Error('the store is closing');
    const page = await inner.listProducts({}, pageSize, after);
    if (page.items.length > 0) yield page.items;
    if (!page.hasNextPage || page.endCursor === undefined) return;
    after = page.endCursor;
  }
}
