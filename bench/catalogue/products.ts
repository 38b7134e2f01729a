// Synthetic products, their vectors and their tags, written through the store's port.
import { seeded } from '../lib';
import { modelKey, type CatalogueStore, type ProductRow, type TagRow, type VectorModel } from '../../gateway/store';
import { progress } from './options';
import { BRANDS, SHELVES, TAG_FACET, TAG_LABELS, type ClusteredVectors } from './vectors';

export const idOf = (i: number) => `p${String(i).padStart(7, '0')}`;
export const indexOf = (id: string) => Number(id.slice(1));

export function productRows(from: number, to: number, now: string): ProductRow[] {
  const rows: ProductRow[] = [];
  for (let i = from; i < to; i++) {
    rows.push({
      id: idOf(i),
      title: null,
      description: null,
      attributes: { brand: `b${i % BRANDS}`, shelf: `s${i % SHELVES}` },
      imageHashes: [],
      imageUrls: [],
      createdAt: now,
      updatedAt: now,
    });
  }
  return rows;
}

/** Writes products [from, to) and their vectors through the port, `batch` per transaction; returns ms. */
export async function fill(store: CatalogueStore, model: VectorModel, data: ClusteredVectors, from: number, to: number, batch: number) {
  const now = new Date().toISOString();
  const t0 = performance.now();
  let last = t0;
  for (let start = from; start < to; start += batch) {
    const end = Math.min(to, start + batch);
    await store.upsertProducts(productRows(start, end, now));
    const rows = [];
    for (let i = start; i < end; i++) rows.push({ productId: idOf(i), vector: data.vector(i) });
    await store.putProductVectors(model, rows);
    if (performance.now() - last > 10_000) {
      progress(`  ${store.kind}: ${end} / ${to} products`);
      last = performance.now();
    }
  }
  return performance.now() - t0;
}

/** Automatic tags, one per product (the label of its cluster, a random score), through replaceAutoTags in pages; returns ms. */
export async function writeTags(store: CatalogueStore, model: VectorModel, data: ClusteredVectors, n: number, page: number) {
  const random = seeded(11);
  const t0 = performance.now();
  for (let start = 0; start < n; start += page) {
    const ids: string[] = [];
    const tags: TagRow[] = [];
    for (let i = start; i < Math.min(n, start + page); i++) {
      ids.push(idOf(i));
      const score = random();
      tags.push({
        productId: idOf(i),
        facet: TAG_FACET,
        label: `c${data.clusters[i] % TAG_LABELS}`,
        score,
        similarity: score,
        source: 'auto',
        needsReview: false,
        model: modelKey(model),
        taxonomyVersion: 1,
      });
    }
    await store.replaceAutoTags(ids, tags);
  }
  return performance.now() - t0;
}
