import { check, nonNegativeInt } from '../../functions/options';
import type { TagRow } from './port';

/**
 * The outbox's rows, worked out the same way in every adapter: a tag write reads the labels of the
 * products it touches once before and once after (inside its transaction), and each (product,
 * facet) whose sorted labels differ becomes one change.
 */

/** One tag as the before and after reads return it, ordered by (product_id, facet, label) in the store's order (code point). */
export interface LabelRow {
  product_id: string;
  facet: string;
  label: string;
}

/** A change to insert: its seq and time are the store's. */
export interface NewTagChange {
  product_id: string;
  facet: string;
  previous_labels: string[];
  labels: string[];
  model: string | null;
}

const keyOf = (productId: string, facet: string) => `${productId}\0${facet}`;

/** Labels by (product, facet), each list in the order read, which is already sorted. */
function labelsByFacet(rows: readonly LabelRow[]): Map<string, { productId: string; facet: string; labels: string[] }> {
  const byFacet = new Map<string, { productId: string; facet: string; labels: string[] }>();
  for (const row of rows) {
    const key = keyOf(row.product_id, row.facet);
    const entry = byFacet.get(key) ?? { productId: row.product_id, facet: row.facet, labels: [] };
    entry.labels.push(row.label);
    byFacet.set(key, entry);
  }
  return byFacet;
}

/**
 * The changes between two reads of the same products' tags, in the order met (the before read's,
 * then facets that only the after read has). `written` are the tags the write gave, for each
 * change's model: that of its own (product, facet)'s tags, else the write's first, else null.
 */
export function tagChangesBetween(
  before: readonly LabelRow[],
  after: readonly LabelRow[],
  written: readonly Pick<TagRow, 'productId' | 'facet' | 'model'>[],
): NewTagChange[] {
  const was = labelsByFacet(before);
  const is = labelsByFacet(after);
  const models = new Map<string, string>();
  for (const t of written) if (!models.has(keyOf(t.productId, t.facet))) models.set(keyOf(t.productId, t.facet), t.model);
  const fallback = written[0]?.model ?? null;
  const changes: NewTagChange[] = [];
  for (const [key, { productId, facet }] of new Map([...was, ...is])) {
    const previous = was.get(key)?.labels ?? [];
    const labels = is.get(key)?.labels ?? [];
    if (previous.length === labels.length && previous.every((label, i) => label === labels[i])) continue;
    changes.push({ product_id: productId, facet, previous_labels: previous, labels, model: models.get(key) ?? fallback });
  }
  return changes;
}

/** The arguments of tagChanges, checked. */
export function checkTagChangesArgs(after: number | undefined, first: number): { after: number; first: number } {
  return { after: after === undefined ? 0 : check('after', after, nonNegativeInt), first: check('first', first, nonNegativeInt) };
}
