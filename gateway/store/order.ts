import type { Hit } from './port';

/** The orders every adapter answers in, whatever its engine compares natively. */

/** Product ids in the stores' order: by UTF-8 bytes, i.e. by code point (SQLite's BINARY, PostgreSQL's "C"; `<` compares UTF-16 units). */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A product at its cosine distance from a query (1 - cosine similarity). */
export interface Neighbour {
  productId: string;
  distance: number;
}

/** Nearest first, then by id: ties are broken the same way in every adapter, also across the k-th place. */
export function byDistanceThenId(a: Neighbour, b: Neighbour): number {
  return a.distance - b.distance || compareIds(a.productId, b.productId);
}

/** Neighbours as search hits: the score is the cosine similarity. */
export function hitsOf(neighbours: readonly Neighbour[]): Hit[] {
  return neighbours.map(({ productId, distance }) => ({ productId, score: 1 - distance }));
}

/** The last of each id, in the order of last occurrence: a batch naming one row twice means its last version. */
export function lastById<T>(rows: readonly T[], id: (row: T) => string): T[] {
  const byId = new Map<string, T>();
  for (const row of rows) {
    const key = id(row);
    byId.delete(key);
    byId.set(key, row);
  }
  return [...byId.values()];
}
