import type { JobRow, ProductRow, TagChangeRow, TagRow, VectorModel } from './port';

/**
 * The port's rows from table columns, once their engine has decoded them (JSON parsed, 0/1 as
 * booleans): the tables have the same columns in every adapter.
 */

/** A field's column name: `imageHashes` is stored as `image_hashes`. */
type Column<Field extends string> = Field extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${Column<Tail>}`
  : Field;

/** A port row as its table's columns: the same fields, named in snake case. */
type ColumnsOf<Row> = { [Field in keyof Row & string as Column<Field>]: Row[Field] };

export type ProductColumns = ColumnsOf<ProductRow>;
export type TagColumns = ColumnsOf<TagRow>;
export type TagChangeColumns = ColumnsOf<TagChangeRow>;
export type JobColumns = ColumnsOf<JobRow> & {
  /** The last product id cut into a chunk (keyset), and whether no product is left after it. */
  cursor: string | null;
  exhausted: boolean;
  /** A taxonomy job's: the taxonomy version when it was made (see taxonomy-jobs.ts). */
  base_version: number | null;
};

/** The tags table's columns, in the order of TagColumns. */
export const TAG_COLUMNS = 'product_id, facet, label, source, score, similarity, needs_review, model, taxonomy_version';

export function productOf(row: ProductColumns): ProductRow {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    attributes: row.attributes,
    imageHashes: row.image_hashes,
    imageUrls: row.image_urls,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function tagOf(row: TagColumns): TagRow {
  return {
    productId: row.product_id,
    facet: row.facet,
    label: row.label,
    score: row.score,
    similarity: row.similarity,
    source: row.source,
    needsReview: row.needs_review,
    model: row.model,
    taxonomyVersion: row.taxonomy_version,
  };
}

/** The outbox's columns, in the order of TagChangeColumns. */
export const TAG_CHANGE_COLUMNS = 'seq, product_id, facet, previous_labels, labels, source, model, changed_at';

export function tagChangeOf(row: TagChangeColumns): TagChangeRow {
  return {
    seq: row.seq,
    productId: row.product_id,
    facet: row.facet,
    previousLabels: row.previous_labels,
    labels: row.labels,
    source: row.source,
    model: row.model,
    changedAt: row.changed_at,
  };
}

export function jobOf(row: JobColumns): JobRow {
  return {
    id: row.id,
    status: row.status,
    total: row.total,
    processed: row.processed,
    failed: row.failed,
    errors: row.errors,
    filter: row.filter,
    reembed: row.reembed,
    model: row.model,
    changesModel: row.changes_model,
    taxonomy: row.taxonomy ?? null,
    importSource: row.import_source ?? null,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** A model as stored in the catalogue's state (active, target), with nothing else it may carry. */
export function stateModel(value: VectorModel | null): VectorModel | null {
  return value && { name: value.name, dtype: value.dtype, dim: value.dim };
}
