import type { PoolClient } from 'pg';

import { check, nonNegativeInt } from '../../../functions/options';
import { decodeKeyCursor, pageOf } from '../cursor';
import { lastById } from '../order';
import type { ChangeSource, FacetRow, Hit, Page, RescoredTags, TagChangeRow, TagRow, TaxonomyRow } from '../port';
import { TAG_CHANGE_COLUMNS, TAG_COLUMNS, tagChangeOf, tagOf, type TagChangeColumns, type TagColumns } from '../rows';
import { autoTagDiff } from '../auto-tag-diff';
import { checkTagChangesArgs, tagChangesBetween, type LabelRow, type NewTagChange } from '../tag-changes';
import { checkManualTags, checkRescoredTags } from '../checks';
import { Part } from '../composed';
import type { Connection } from './connection';
import { Params } from './filters';

interface TaxonomyColumns {
  version: number;
  facets: FacetRow[];
  created_at: string;
}

/** A tag's columns past its product and facet, as jsonb_to_recordset reads them. */
function labelColumns(t: Omit<TagRow, 'productId' | 'facet' | 'source'>) {
  return {
    label: t.label,
    score: t.score,
    similarity: t.similarity,
    needs_review: t.needsReview,
    model: t.model,
    taxonomy_version: t.taxonomyVersion,
  };
}

/** The taxonomy's versions, and tags: automatic ones (opinions, replaced by each tagging) and manual ones (facts). */
export class Tags extends Part<Connection> {
  async getTaxonomy(): Promise<TaxonomyRow | undefined> {
    const [row] = await this.c.rows<TaxonomyColumns>(
      `SELECT version, facets, created_at FROM ${this.c.names.taxonomies} ORDER BY version DESC LIMIT 1`,
    );
    return row ? { version: row.version, facets: row.facets, createdAt: row.created_at } : undefined;
  }

  async setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow> {
    const createdAt = new Date().toISOString();
    const taxonomies = this.c.names.taxonomies;
    const row = await this.c.transaction(async (client) => {
      // Two gateways setting a taxonomy at once get versions n and n + 1, not the same n twice.
      await client.query(`LOCK TABLE ${taxonomies} IN EXCLUSIVE MODE`);
      return (
        await client.query<TaxonomyColumns>(
          `INSERT INTO ${taxonomies} (version, facets, created_at)
           SELECT coalesce(max(version), 0) + 1, $1::jsonb, $2 FROM ${taxonomies}
           RETURNING version, facets, created_at`,
          [JSON.stringify(facets), createdAt],
        )
      ).rows[0];
    });
    return { version: row.version, facets: row.facets, createdAt: row.created_at };
  }

  /** Tags of products not named are dropped, not refused (unlike SQLite's adapter, which checks them with checkAutoTags). */
  async replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void> {
    if (productIds.length === 0) return;
    await this.c.transaction((client) => this.writeAutoTags(client, productIds, tags));
  }

  /**
   * replaceAutoTags' writes and the changes they make (see tag-changes.ts), inside the caller's
   * transaction; `source` is the changes'. Only the rows that differ are written (auto-tag-diff.ts),
   * from one read of the products' tags: a tag written again as it was is not rewritten.
   */
  async writeAutoTags(
    client: PoolClient,
    productIds: string[],
    tags: TagRow[],
    source: Exclude<ChangeSource, 'manual'> = 'auto',
  ): Promise<void> {
    if (productIds.length === 0) return;
    const named = new Set(productIds);
    const written = tags.filter((t) => named.has(t.productId));
    const n = this.c.names;
    // Locks the products, in one order, so that setManualTags cannot slip a manual tag in between
    // the read below and the writes (and two calls cannot deadlock).
    const present = new Set(
      (
        await client.query<{ id: string }>(`SELECT id FROM ${n.products} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [productIds])
      ).rows.map((r) => r.id),
    );
    const before = (
      await client.query<TagColumns>(
        `SELECT ${TAG_COLUMNS} FROM ${n.tags} WHERE product_id = ANY($1::text[]) ORDER BY product_id, facet, label`,
        [productIds],
      )
    ).rows.map(tagOf);
    const { inserts, updates, restamps, deletes, changes } = autoTagDiff(before, present, written);
    const rowsOf = (list: TagRow[]) => JSON.stringify(list.map((t) => ({ product_id: t.productId, facet: t.facet, ...labelColumns(t) })));
    const recordset = `jsonb_to_recordset($1::jsonb) AS r(product_id text, facet text, label text, score float8, similarity float8,
                                                          needs_review boolean, model text, taxonomy_version integer)`;
    const matches = `t.product_id = r.product_id AND t.facet = r.facet AND t.label = r.label AND t.source = 'auto'`;
    if (deletes.length > 0) await client.query(`DELETE FROM ${n.tags} t USING ${recordset} WHERE ${matches}`, [rowsOf(deletes)]);
    if (updates.length + restamps.length > 0)
      await client.query(
        `UPDATE ${n.tags} t SET score = r.score, similarity = r.similarity, needs_review = r.needs_review, model = r.model,
           taxonomy_version = r.taxonomy_version
         FROM ${recordset} WHERE ${matches}`,
        [rowsOf([...updates, ...restamps])],
      );
    if (inserts.length > 0)
      await client.query(
        `INSERT INTO ${n.tags} (${TAG_COLUMNS})
         SELECT r.product_id, r.facet, r.label, 'auto', r.score, r.similarity, r.needs_review, r.model, r.taxonomy_version FROM ${recordset}`,
        [rowsOf(inserts)],
      );
    await this.recordChanges(client, changes, source);
  }

  /** Every label of these products, in (product, facet, label) order: one read of the primary key. */
  private async labelsOf(client: PoolClient, productIds: string[]): Promise<LabelRow[]> {
    const result = await client.query<LabelRow>(
      `SELECT product_id, facet, label FROM ${this.c.names.tags} WHERE product_id = ANY($1::text[]) ORDER BY product_id, facet, label`,
      [productIds],
    );
    return result.rows;
  }

  /**
   * Inserts the changes under a lock on the outbox held until commit: a seq is taken when a row is
   * inserted, not when it commits, so without it a reader could see seq 11 committed, move its
   * cursor past it, and never see seq 10 committed a moment later. Writers of tag changes take
   * turns from here to their commit; readers are not blocked (EXCLUSIVE lets SELECT through).
   */
  private async recordChanges(client: PoolClient, changes: NewTagChange[], source: ChangeSource): Promise<void> {
    if (changes.length === 0) return;
    const n = this.c.names;
    await client.query(`LOCK TABLE ${n.tagChanges} IN EXCLUSIVE MODE`);
    await client.query(
      `INSERT INTO ${n.tagChanges} (product_id, facet, previous_labels, labels, source, model, changed_at)
       SELECT r.product_id, r.facet, r.previous_labels, r.labels, $2, r.model, $3
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (product_id text, facet text, previous_labels jsonb, labels jsonb, model text))
         WITH ORDINALITY AS r(product_id, facet, previous_labels, labels, model, i)
       ORDER BY r.i`,
      [JSON.stringify(changes), source, new Date().toISOString()],
    );
  }

  async setManualTags(
    productId: string,
    facet: string,
    tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[],
    rescored?: RescoredTags,
  ): Promise<void> {
    checkManualTags(tags);
    if (rescored) checkRescoredTags(productId, rescored);
    const rows = lastById(tags, (t) => t.label).map(labelColumns);
    const n = this.c.names;
    await this.c.transaction(async (client) => {
      const exists = await client.query(`SELECT 1 FROM ${n.products} WHERE id = $1 FOR UPDATE`, [productId]);
      if (exists.rowCount === 0) return; // no product, nothing to tag
      const before = await this.labelsOf(client, [productId]);
      // Manual tags replace the facet's automatic ones too: a (product, facet) has one kind or the other.
      await client.query(`DELETE FROM ${n.tags} WHERE product_id = $1 AND facet = $2 AND (source = 'manual' OR $3::boolean)`, [
        productId,
        facet,
        rows.length > 0,
      ]);
      if (rows.length > 0) {
        await client.query(
          `INSERT INTO ${n.tags} (${TAG_COLUMNS})
           SELECT $1, $2, r.label, 'manual', r.score, r.similarity, r.needs_review, r.model, r.taxonomy_version
           FROM jsonb_to_recordset($3::jsonb) AS r(label text, score float8, similarity float8, needs_review boolean, model text, taxonomy_version integer)`,
          [productId, facet, JSON.stringify(rows)],
        );
      }
      if (rescored) await this.replaceRescored(client, productId, rescored);
      const written = [...tags.map((t) => ({ productId, facet, model: t.model })), ...(rescored?.tags ?? [])];
      await this.recordChanges(client, tagChangesBetween(before, await this.labelsOf(client, [productId]), written), 'manual');
    });
  }

  /** The product's automatic tags in the rescored facets replaced, inside setManualTags' transaction; facets with manual tags keep them. */
  private async replaceRescored(client: PoolClient, productId: string, { facets, tags }: RescoredTags): Promise<void> {
    const n = this.c.names;
    await client.query(`DELETE FROM ${n.tags} WHERE product_id = $1 AND source = 'auto' AND facet = ANY($2::text[])`, [productId, facets]);
    const rows = lastById(tags, (t) => JSON.stringify([t.facet, t.label])).map((t) => ({ facet: t.facet, ...labelColumns(t) }));
    if (rows.length === 0) return;
    await client.query(
      `INSERT INTO ${n.tags} (${TAG_COLUMNS})
       SELECT $1, r.facet, r.label, 'auto', r.score, r.similarity, r.needs_review, r.model, r.taxonomy_version
       FROM jsonb_to_recordset($2::jsonb) AS r(facet text, label text, score float8, similarity float8, needs_review boolean,
                                               model text, taxonomy_version integer)
       WHERE NOT EXISTS (SELECT 1 FROM ${n.tags} m WHERE m.product_id = $1 AND m.facet = r.facet AND m.source = 'manual')`,
      [productId, JSON.stringify(rows)],
    );
  }

  async tagChanges(after: number | undefined, first: number): Promise<TagChangeRow[]> {
    const args = checkTagChangesArgs(after, first);
    if (args.first === 0) return [];
    const rows = await this.c.rows<Omit<TagChangeColumns, 'seq'> & { seq: string }>(
      `SELECT ${TAG_CHANGE_COLUMNS} FROM ${this.c.names.tagChanges} WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [args.after, args.first],
    );
    // bigint comes out as text; a seq stays far below 2^53.
    return rows.map((row) => tagChangeOf({ ...row, seq: Number(row.seq) }));
  }

  async lastTagChangeSeq(): Promise<number> {
    // Writers commit in seq order (see recordChanges), so no change below the newest committed one is still to come.
    const [row] = await this.c.rows<{ seq: string }>(`SELECT coalesce(max(seq), 0) AS seq FROM ${this.c.names.tagChanges}`);
    return Number(row.seq);
  }

  async getTags(productIds: string[]): Promise<Map<string, TagRow[]>> {
    const result = new Map<string, TagRow[]>(productIds.map((id) => [id, []]));
    if (productIds.length === 0) return result;
    const rows = await this.c.rows<TagColumns>(
      `SELECT ${TAG_COLUMNS} FROM ${this.c.names.tags} WHERE product_id = ANY($1::text[]) ORDER BY product_id, facet, label`,
      [productIds],
    );
    for (const row of rows) result.get(row.product_id)?.push(tagOf(row));
    return result;
  }

  async labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]> {
    check('k', k, nonNegativeInt);
    if (k === 0) return [];
    return this.c.rows<Hit>(
      `SELECT product_id AS "productId", score FROM ${this.c.names.tags} WHERE facet = $1 AND label = $2
       ORDER BY score DESC, product_id LIMIT $3`,
      [facet, label, k],
    );
  }

  async tagsForReview(first: number, after?: string): Promise<Page<TagRow>> {
    check('first', first, nonNegativeInt);
    const key = after === undefined ? undefined : decodeKeyCursor(after, 3);
    const params = new Params();
    const from = key ? `AND (product_id, facet, label) > (${params.add(key[0])}, ${params.add(key[1])}, ${params.add(key[2])})` : '';
    const rows = await this.c.rows<TagColumns>(
      `SELECT ${TAG_COLUMNS} FROM ${this.c.names.tags} WHERE needs_review AND source = 'auto' ${from}
       ORDER BY product_id, facet, label LIMIT ${params.add(first + 1)}`,
      params.values,
    );
    return pageOf(rows.map(tagOf), first, (t) => [t.productId, t.facet, t.label]);
  }
}
