import { check, nonNegativeInt } from '../../../functions/options';
import { checkAutoTags, checkManualTags, checkRescoredTags } from '../checks';
import { decodeKeyCursor, pageOf } from '../cursor';
import type { ChangeSource, FacetRow, Hit, Page, RescoredTags, TagChangeRow, TagRow, TaxonomyRow } from '../port';
import { TAG_CHANGE_COLUMNS, TAG_COLUMNS } from '../rows';
import { autoTagDiff } from '../auto-tag-diff';
import { checkTagChangesArgs, tagChangesBetween, type LabelRow, type NewTagChange } from '../tag-changes';
import { Part } from '../composed';
import type { Connection } from './connection';
import { runForRows, valuesRows, type ManyRows } from './many-rows';
import { tagChangeOfSql, tagOfSql, type TagChangeSqlRow, type TagSqlRow } from './rows';

const INSERT_CHANGES = 'INSERT INTO tag_changes (product_id, facet, previous_labels, labels, source, model, changed_at) VALUES';

/** A tag's key, the first three parameters of a VALUES row (column1, column2, column3). */
function putKey(t: TagRow, into: unknown[], at: number): void {
  into[at] = t.productId;
  into[at + 1] = t.facet;
  into[at + 2] = t.label;
}

/** An automatic tag's other columns after its key, in TAG_COLUMNS' order. */
function putScored(t: TagRow, into: unknown[], at: number): void {
  into[at] = t.score;
  into[at + 1] = t.similarity;
  into[at + 2] = t.needsReview ? 1 : 0;
  into[at + 3] = t.model;
  into[at + 4] = t.taxonomyVersion;
}

/** An automatic tag's key and other columns, in TAG_COLUMNS' order (source apart). */
function putTag(t: TagRow, into: unknown[], at: number): void {
  putKey(t, into, at);
  putScored(t, into, at + 3);
}

/** The automatic tags' rows of a VALUES list of `width` columns, the key first. */
const matching = (n: number, width: number) =>
  `FROM (VALUES ${valuesRows(`(${Array<string>(width).fill('?').join(', ')})`, n)}) AS v
   WHERE tags.product_id = v.column1 AND tags.facet = v.column2 AND tags.label = v.column3 AND tags.source = 'auto'`;

/**
 * writeAutoTags' four kinds of write, many rows a statement (many-rows.ts); updates and restamps
 * join a VALUES list on the primary key. A restamp sets columns no index holds: SQLite leaves the
 * indexes alone.
 */
export const AUTO_TAG_WRITES: Record<'deletes' | 'updates' | 'restamps' | 'inserts', ManyRows<TagRow>> = {
  deletes: {
    text: (n) => `DELETE FROM tags WHERE source = 'auto' AND (product_id, facet, label) IN (VALUES ${valuesRows('(?, ?, ?)', n)})`,
    width: 3,
    params: putKey,
  },
  updates: {
    text: (n) =>
      `UPDATE tags SET score = v.column4, similarity = v.column5, needs_review = v.column6, model = v.column7, taxonomy_version = v.column8 ${matching(n, 8)}`,
    width: 8,
    params: putTag,
  },
  restamps: {
    text: (n) => `UPDATE tags SET similarity = v.column4, model = v.column5, taxonomy_version = v.column6 ${matching(n, 6)}`,
    width: 6,
    params: (t, into, at) => {
      putKey(t, into, at);
      into[at + 3] = t.similarity;
      into[at + 4] = t.model;
      into[at + 5] = t.taxonomyVersion;
    },
  },
  inserts: {
    text: (n) => `INSERT INTO tags (${TAG_COLUMNS}) VALUES ${valuesRows("(?, ?, ?, 'auto', ?, ?, ?, ?, ?)", n)}`,
    width: 8,
    params: putTag,
  },
};

/** The outbox's statement for n rows (one function for every write: many-rows.ts makes each text once). */
const insertChanges = (n: number) => `${INSERT_CHANGES} ${valuesRows('(?, ?, ?, ?, ?, ?, ?)', n)}`;

/** The outbox's rows of one write: all of one source and time. */
const changeRows = (source: ChangeSource, now: string): ManyRows<NewTagChange> => ({
  text: insertChanges,
  width: 7,
  params: (c, into, at) => {
    into[at] = c.product_id;
    into[at + 1] = c.facet;
    into[at + 2] = JSON.stringify(c.previous_labels);
    into[at + 3] = JSON.stringify(c.labels);
    into[at + 4] = source;
    into[at + 5] = c.model;
    into[at + 6] = now;
  },
});

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
    runForRows(this.c, AUTO_TAG_WRITES.deletes, deletes);
    runForRows(this.c, AUTO_TAG_WRITES.updates, updates);
    runForRows(this.c, AUTO_TAG_WRITES.restamps, restamps);
    runForRows(this.c, AUTO_TAG_WRITES.inserts, inserts);
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
    if (changes.length > 0) runForRows(this.c, changeRows(source, this.c.now().toISOString()), changes);
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
