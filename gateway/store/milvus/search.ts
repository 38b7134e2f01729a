import type { Hit, ProductFilter, VectorModel } from '../port';
import { MAX_TOPK, type MilvusVectors } from './client';
import { filterExpression, type MilvusProductFilter } from './filter';

/** A search as Milvus answers it for the store: whether it can, and its k best with ties as the store breaks them. */

/** Whether Milvus can answer this search as the store would: its filter as Milvus's, or false. */
export function askable(
  model: VectorModel,
  query: Float32Array,
  k: number,
  filter?: ProductFilter,
): MilvusProductFilter | undefined | false {
  // Whatever the store refuses (its errors are the contract's) or answers without a search, it answers.
  if (typeof model !== 'object' || model === null || !Number.isInteger(model.dim)) return false;
  if (!Number.isInteger(k) || k < 1 || k >= MAX_TOPK) return false;
  if (!(query instanceof Float32Array) || query.length !== model.dim) return false;
  let nonZero = false;
  for (const x of query) {
    if (!Number.isFinite(x)) return false;
    if (x !== 0) nonZero = true;
  }
  if (!nonZero) return false;
  if (filter === undefined) return undefined;
  try {
    filterExpression(filter);
  } catch {
    return false; // a value Milvus cannot filter on (an object, an odd attribute name): the store can
  }
  return filter;
}

/**
 * Milvus's k best, ties at the k-th place broken by id as the store does: one more is asked for,
 * and when it ties with the k-th, more until the tie is whole (Milvus cuts equal scores in no set order).
 */
export async function milvusSearch(
  milvus: MilvusVectors,
  model: VectorModel,
  query: Float32Array,
  k: number,
  filter: MilvusProductFilter | undefined,
): Promise<Hit[]> {
  let limit = k + 1;
  for (;;) {
    const hits = await milvus.search(model, query, limit, filter, { missingCollection: 'error' });
    if (hits.length < limit || hits[k - 1].score !== hits[limit - 1].score || limit >= MAX_TOPK) return hits.slice(0, k);
    limit = Math.min(MAX_TOPK, limit * 4);
  }
}
