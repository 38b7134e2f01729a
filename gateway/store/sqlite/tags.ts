import { check, nonNegativeInt } from '../../../functions/options';
import { checkAutoTags, checkManualTags, checkRescoredTags } from '../checks';
import { decodeKeyCursor, pageOf } from '../cursor';
import type { ChangeSource, FacetRow, Hit, Page, RescoredTags, TagChangeRow, TagRow, TaxonomyRow } from '../port';
import { TAG_CHANGE_COLUMNS, TAG_COLUMNS } from '../rows';
import { autoTagDiff } from '../auto-tag-diff';
import { checkTagChangesArgs, tagChangesBetween, type LabelRow, type NewTagChange } from '../tag-changes';
import { Part } from '../composed';
import type { Connection } from './connection';
import { tagChangeOfSql, tagOfSql, type TagChangeSqlRow, type TagSqlRow } from './rows';

const INSERT_CHANGES = 'INSERT INTO tag_changes (product_id, facet, previous_labels, labels, source, model, changed_at) VALUES';
/** Outbox rows a statement (7 parameters each, far under SQLite's 32,766). */
const CHANGES_PER_INSERT = 256;
const ONE_CHANGE = '(?, ?, ?, ?, ?, ?, ?)';
const MANY_CHANGES = Array<string>(CHANGES_PER_INSERT).fill(ONE_CHANGE).join(', ');

/** The taxonomy's versions, and tags: automatic ones (opinions, replaced by each tagging) and manual ones (facts). */
export class Tags extends Part<Connection> {
  async getTaxonomy(): Promise<TaxonomyRow | undefined> {
    return this.c.run('getTaxonomy', 'read', () => {
      const row = this.c.sql('SELECT version, facets, created_at FROM taxonomies ORDER BY version DESC LIMIT 1').get() as
        { version: number; facets: string; created_at: string } | undefined;
      return row && { version: row.version, facets: JSON.parse(row.facets) as FacetRow[], createdAt: row.created_at };
    });
  }

  async setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow> {
    const text = JSON.stringify(facets);
    return this.c.run('setTaxonomy', 'write', () => {
      const version = this.c.sql('SELECT coalesce(max(version), 0) + 1 FROM taxonomies').pluck().get() as number;
      const createdAt = this.c.now().toISOString();
      this.c.sql('INSERT INTO taxonomies (version, facets, created_at) VALUES (?, ?, ?)').run(version, text, createdAt);
      return { version, facets: JSON.parse(text) as FacetRow[], createdAt };
    });
  }

  /** Tags of products that do not exist are skipped, as are tags for a (product, facet) with manual tags. */
  async replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void> {
    checkAutoTags(productIds, tags);
    return this.c.run('replaceAutoTags', 'write', () => this.writeAutoTags(new Set(productIds), tags));
  }

  /**
   * replaceAutoTags' writes and the changes they make (see tag-changes.ts), inside the caller's
   * transaction; `source` is the changes'. Only the rows that differ are written (auto-tag-diff.ts),
   * from one read of the products' tags.
   */
  writeAutoTags(named: Set<string>, tags: TagRow[], source: Exclude<ChangeSource, 'manual'> = 'auto'): void {
    const ids = JSON.stringify([...named]);
    // Rows as arrays (TAG_COLUMNS' order): a re-tagging chunk reads thousands. The statement is
    // cached by its text and raw() stays set on it, so its text (the alias) is this read's alone.
    const rows = this.c
      .sql(
        `SELECT ${TAG_COLUMNS} FROM tags AS before_write WHERE product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, facet, label`,
      )
      .raw(true)
      .all(ids) as [string, string, string, TagRow['source'], number, number, number, string, number][];
    const before = rows.map(([productId, facet, label, source, score, similarity, needsReview, model, taxonomyVersion]): TagRow => ({
      productId,
      facet,
      label,
      source,
      score,
      similarity,
      needsReview: needsReview === 1,
      model,
      taxonomyVersion,
    }));
    const present =
      tags.length === 0
        ? new Set<string>()
        : new Set(this.c.sql('SELECT id FROM products WHERE id IN (SELECT value FROM json_each(?))').pluck().all(ids) as string[]);
    const { inserts, updates, restamps, deletes, changes } = autoTagDiff(before, present, tags);
    const key = "WHERE product_id = ? AND facet = ? AND label = ? AND source = 'auto'";
    const remove = this.c.sql(`DELETE FROM tags ${key}`);
    for (const t of deletes) remove.run(t.productId, t.facet, t.label);
    const update = this.c.sql(`UPDATE tags SET score = ?, similarity = ?, needs_review = ?, model = ?, taxonomy_version = ? ${key}`);
    for (const t of updates)
      update.run(t.score, t.similarity, t.needsReview ? 1 : 0, t.model, t.taxonomyVersion, t.productId, t.facet, t.label);
    // Columns no index holds: SQLite leaves the indexes alone.
    const restamp = this.c.sql(`UPDATE tags SET similarity = ?, model = ?, taxonomy_version = ? ${key}`);
    for (const t of restamps) restamp.run(t.similarity, t.model, t.taxonomyVersion, t.productId, t.facet, t.label);
    const insert = this.c.sql(`INSERT INTO tags (${TAG_COLUMNS}) VALUES (?, ?, ?, 'auto', ?, ?, ?, ?, ?)`);
    for (const t of inserts)
      insert.run(t.productId, t.facet, t.label, t.score, t.similarity, t.needsReview ? 1 : 0, t.model, t.taxonomyVersion);
    this.recordChanges(changes, source);
  }

  /** Every label of these products (a JSON array of ids), in (product, facet, label) order: one read of the primary key. */
  private labelsOf(ids: string): LabelRow[] {
    return this.c
      .sql(
        'SELECT product_id, facet, label FROM tags WHERE product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, facet, label',
      )
      .all(ids) as LabelRow[];
  }

  private recordChanges(changes: NewTagChange[], source: ChangeSource): void {
    if (changes.length === 0) return;
    const now = this.c.now().toISOString();
    // A re-tagging records thousands: CHANGES_PER_INSERT rows a statement, the rest one by one.
    const params = (from: number, n: number) => {
      const out: unknown[] = new Array(n * 7);
      for (let i = 0, at = 0; i < n; i++) {
        const c = changes[from + i];
        out[at++] = c.product_id;
        out[at++] = c.facet;
        out[at++] = JSON.stringify(c.previous_labels);
        out[at++] = JSON.stringify(c.labels);
        out[at++] = source;
        out[at++] = c.model;
        out[at++] = now;
      }
      return out;
    };
    let at = 0;
    if (changes.length >= CHANGES_PER_INSERT) {
      const many = this.c.sql(`${INSERT_CHANGES} ${MANY_CHANGES}`);
      for (; at + CHANGES_PER_INSERT <= changes.length; at += CHANGES_PER_INSERT) many.run(params(at, CHANGES_PER_INSERT));
    }
    const one = this.c.sql(`${INSERT_CHANGES} ${ONE_CHANGE}`);
    for (; at < changes.length; at++) one.run(params(at, 1));
  }

  /** Setting manual tags on a facet drops its automatic ones; tags for a product that does not exist are skipped. */
  async setManualTags(
    productId: string,
    facet: string,
    tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[],
    rescored?: RescoredTags,
  ): Promise<void> {
    checkManualTags(tags);
    if (rescored) checkRescoredTags(productId, rescored);
    return this.c.run('setManualTags', 'write', () => {
      const ids = JSON.stringify([productId]);
      const before = this.labelsOf(ids);
      const sources = tags.length > 0 ? "('auto', 'manual')" : "('manual')";
      this.c.sql(`DELETE FROM tags WHERE product_id = ? AND facet = ? AND source IN ${sources}`).run(productId, facet);
      const insert = this.c.sql(
        `INSERT INTO tags (${TAG_COLUMNS})
         SELECT ?, ?, ?, 'manual', ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM products WHERE id = ?)
         ON CONFLICT (product_id, facet, label) DO UPDATE SET score = excluded.score, similarity = excluded.similarity,
           needs_review = excluded.needs_review, model = excluded.model, taxonomy_version = excluded.taxonomy_version`,
      );
      for (const t of tags) {
        insert.run(productId, facet, t.label, t.score, t.similarity, t.needsReview ? 1 : 0, t.model, t.taxonomyVersion, productId);
      }
      if (rescored) this.replaceRescored(productId, rescored);
      const written = [...tags.map((t) => ({ productId, facet, model: t.model })), ...(rescored?.tags ?? [])];
      this.recordChanges(tagChangesBetween(before, this.labelsOf(ids), written), 'manual');
    });
  }

  /** The product's automatic tags in the rescored facets replaced, inside setManualTags' transaction; facets with manual tags keep them. */
  private replaceRescored(productId: string, { facets, tags }: RescoredTags): void {
    this.c
      .sql("DELETE FROM tags WHERE product_id = ? AND source = 'auto' AND facet IN (SELECT value FROM json_each(?))")
      .run(productId, JSON.stringify(facets));
    const insert = this.c.sql(
      `INSERT INTO tags (${TAG_COLUMNS})
       SELECT ?, ?, ?, 'auto', ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM products WHERE id = ?)
         AND NOT EXISTS (SELECT 1 FROM tags WHERE product_id = ? AND facet = ? AND source = 'manual')`,
    );
    for (const t of tags) {
      insert.run(
        productId,
        t.facet,
        t.label,
        t.score,
        t.similarity,
        t.needsReview ? 1 : 0,
        t.model,
        t.taxonomyVersion,
        productId,
        productId,
        t.facet,
      );
    }
  }

  async tagChanges(after: number | undefined, first: number): Promise<TagChangeRow[]> {
    const args = checkTagChangesArgs(after, first);
    return this.c.run('tagChanges', 'read', () =>
      (
        this.c
          .sql(`SELECT ${TAG_CHANGE_COLUMNS} FROM tag_changes WHERE seq > ? ORDER BY seq LIMIT ?`)
          .all(args.after, args.first) as TagChangeSqlRow[]
      ).map(tagChangeOfSql),
    );
  }

  async lastTagChangeSeq(): Promise<number> {
    return this.c.run(
      'lastTagChangeSeq',
      'read',
      () => this.c.sql('SELECT coalesce(max(seq), 0) FROM tag_changes').pluck().get() as number,
    );
  }

  async getTags(productIds: string[]): Promise<Map<string, TagRow[]>> {
    return this.c.run('getTags', 'read', () => {
      const rows = this.c
        .sql(`SELECT ${TAG_COLUMNS} FROM tags WHERE product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, facet, label`)
        .all(JSON.stringify(productIds)) as TagSqlRow[];
      const byProduct = new Map<string, TagRow[]>();
      for (const row of rows) {
        const list = byProduct.get(row.product_id) ?? [];
        list.push(tagOfSql(row));
        byProduct.set(row.product_id, list);
      }
      return byProduct;
    });
  }

  /** The label's entries of tags_of_label (in product order, each with its score), the best k kept by SQLite's sorter. */
  async labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]> {
    check('k', k, nonNegativeInt);
    return this.c.run(
      'labelTopProducts',
      'read',
      () =>
        this.c
          .sql(
            'SELECT product_id AS productId, score FROM tags INDEXED BY tags_of_label WHERE facet = ? AND label = ? ORDER BY score DESC, product_id LIMIT ?',
          )
          .all(facet, label, k) as Hit[],
    );
  }

  async tagsForReview(first: number, after?: string): Promise<Page<TagRow>> {
    check('first', first, nonNegativeInt);
    return this.c.run('tagsForReview', 'read', () => {
      const params: unknown[] = [];
      let keyset = '';
      if (after !== undefined) {
        keyset = 'AND (product_id, facet, label) > (?, ?, ?)';
        params.push(...decodeKeyCursor(after, 3));
      }
      const rows = this.c
        .sql(
          `SELECT ${TAG_COLUMNS} FROM tags INDEXED BY tags_for_review WHERE source = 'auto' AND needs_review = 1 ${keyset}
         ORDER BY product_id, facet, label LIMIT ?`,
        )
        .all(...params, first + 1) as TagSqlRow[];
      return pageOf(rows.map(tagOfSql), first, (t) => [t.productId, t.facet, t.label]);
    });
  }
}
