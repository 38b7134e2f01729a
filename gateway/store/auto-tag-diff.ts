import type { TagRow } from './port';
import { tagChangesBetween, type LabelRow, type NewTagChange } from './tag-changes';

/**
 * What replacing some products' automatic tags writes, worked out in the same way by every
 * adapter from one read of those products' tags (inside the write's transaction): only the rows
 * that differ. Re-tagging a catalogue after a taxonomy change mostly gives products the tags they
 * already have; such a product costs no write and no outbox row. A write of tags in random places
 * of the by-label index is what re-tagging spends most on (each touches its own page of it).
 */
export interface AutoTagDiff {
  /** Automatic tags the products do not have yet. */
  inserts: TagRow[];
  /** Automatic tags they have with another score or review mark (what the by-score and review indexes hold). */
  updates: TagRow[];
  /**
   * Automatic tags they have with the same score and review mark but another similarity, model or
   * taxonomy version (a new taxonomy version giving the same tags): written without touching an index.
   */
  restamps: TagRow[];
  /** Automatic tags they have that the write no longer gives. */
  deletes: TagRow[];
  /** The outbox's rows: each (product, facet) whose labels changed (see tag-changes.ts). */
  changes: NewTagChange[];
}

const keyOf = (productId: string, facet: string) => `${productId}\0${facet}`;
const tagKeyOf = (t: Pick<TagRow, 'productId' | 'facet' | 'label'>) => `${t.productId}\0${t.facet}\0${t.label}`;

/**
 * The diff that makes `tags` the automatic tags of the products read in `before` (every tag of the
 * products the write names, manual ones too, in (product, facet, label) order). Tags of products
 * not in `present` are left out, as are tags of a (product, facet) that has manual tags; when the
 * write gives one label twice, the last one counts.
 */
export function autoTagDiff(before: readonly TagRow[], present: ReadonlySet<string>, tags: readonly TagRow[]): AutoTagDiff {
  const manual = new Set<string>();
  const stored = new Map<string, TagRow>();
  for (const t of before) {
    if (t.source === 'manual') manual.add(keyOf(t.productId, t.facet));
    else stored.set(tagKeyOf(t), t);
  }
  const wanted = new Map<string, TagRow>();
  for (const t of tags) {
    if (present.has(t.productId) && !manual.has(keyOf(t.productId, t.facet))) wanted.set(tagKeyOf(t), t);
  }
  const diff: AutoTagDiff = { inserts: [], updates: [], restamps: [], deletes: [], changes: [] };
  const touched = new Set<string>();
  for (const [key, t] of stored) {
    if (wanted.has(key)) continue;
    diff.deletes.push(t);
    touched.add(keyOf(t.productId, t.facet));
  }
  for (const [key, t] of wanted) {
    const was = stored.get(key);
    if (!was) {
      diff.inserts.push(t);
      touched.add(keyOf(t.productId, t.facet));
    } else if (was.score !== t.score || was.needsReview !== t.needsReview) diff.updates.push(t);
    else if (was.similarity !== t.similarity || was.model !== t.model || was.taxonomyVersion !== t.taxonomyVersion) diff.restamps.push(t);
  }
  if (touched.size === 0) return diff;
  // The labels before and after, of the (product, facet)s whose labels changed only: the others make no change.
  const gone = new Set(diff.deletes.map(tagKeyOf));
  const was: LabelRow[] = [];
  const is: LabelRow[] = [];
  for (const t of before) {
    if (!touched.has(keyOf(t.productId, t.facet))) continue;
    const row = { product_id: t.productId, facet: t.facet, label: t.label };
    was.push(row);
    if (!gone.has(tagKeyOf(t))) is.push(row);
  }
  for (const t of diff.inserts) is.push({ product_id: t.productId, facet: t.facet, label: t.label });
  is.sort(storeOrder);
  diff.changes = tagChangesBetween(was, is, tags);
  return diff;
}

/** (product, facet, label) in the stores' order: code points, as SQLite's BINARY and PostgreSQL's "C" collation compare. */
function storeOrder(a: LabelRow, b: LabelRow): number {
  return compareCodePoints(a.product_id, b.product_id) || compareCodePoints(a.facet, b.facet) || compareCodePoints(a.label, b.label);
}

/**
 * Strings by code point. JavaScript's `<` compares UTF-16 code units, which agrees except where a
 * surrogate (a code point past U+FFFF) meets a unit at or past U+E000.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const surrogate = (u: number) => u >= 0xd800 && u <= 0xdfff;
    if (surrogate(x) !== surrogate(y) && Math.max(x, y) >= 0xe000) return surrogate(x) ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
