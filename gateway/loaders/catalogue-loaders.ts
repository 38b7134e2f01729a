import DataLoader from 'dataloader';

import type { ProductRow, TagRow } from '../store';

/** What the catalogue loaders read: the catalogue's batched lookups by id. */
export interface CatalogueReads {
  /** Stored products among `ids` (absent ones left out), in any order. */
  getProducts(ids: readonly string[]): Promise<ProductRow[]>;
  /** Each product's tags by its id (a product without tags may be absent). */
  getTags(productIds: readonly string[]): Promise<Map<string, TagRow[]>>;
}

/** Per-operation loader of products' tags: one store call for all products an operation resolves. */
export type TagLoader = DataLoader<string, TagRow[]>;

/** Per-operation loader of stored products by id (null: none stored): one store call for every reference an operation resolves. */
export type ProductLoader = DataLoader<string, ProductRow | null>;

export function createTagLoader(catalogue: Pick<CatalogueReads, 'getTags'>): TagLoader {
  return new DataLoader<string, TagRow[]>(async (ids) => {
    const tags = await catalogue.getTags(ids);
    return ids.map((id) => tags.get(id) ?? []);
  });
}

export function createProductLoader(catalogue: Pick<CatalogueReads, 'getProducts'>): ProductLoader {
  return new DataLoader<string, ProductRow | null>(async (ids) => {
    const rows = new Map((await catalogue.getProducts(ids)).map((row) => [row.id, row]));
    return ids.map((id) => rows.get(id) ?? null);
  });
}
