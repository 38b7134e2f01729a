import { checkImageLists } from '../checks';
import type { FacetRow, ImportSource, JobError, ProductFilter, ProductRow, TagChangeRow, TagRow, VectorModel } from '../port';
import {
  jobOf,
  productOf,
  stateModel,
  tagChangeOf,
  tagOf,
  type JobColumns,
  type ProductColumns,
  type TagChangeColumns,
  type TagColumns,
} from '../rows';
import { canonicalJson } from './filters';

/** The SQLite tables' rows as they come out (JSON as text, booleans as 0/1) and go in, and the port's rows from them. */

export const PRODUCT_COLUMNS =
  'p.id, p.title, p.description, json(p.attributes) AS attributes, p.image_hashes, p.image_urls, p.created_at, p.updated_at';

/** A products row as it comes out: attributes and image lists as JSON text. */
export type ProductSqlRow = Omit<ProductColumns, 'attributes' | 'image_hashes' | 'image_urls'> & {
  attributes: string | null;
  image_hashes: string;
  image_urls: string;
};

/** A product's parameters for the upsert statement, checked before the transaction. */
export type ProductParams = [
  id: string,
  title: string | null,
  description: string | null,
  attributes: string | null,
  imageHashes: string,
  imageUrls: string,
  createdAt: string,
  updatedAt: string,
];

/** A tags row as it comes out: needs_review as 0 or 1. */
export type TagSqlRow = Omit<TagColumns, 'needs_review'> & { needs_review: number };

/** An outbox row as it comes out: label lists as JSON text. */
export type TagChangeSqlRow = Omit<TagChangeColumns, 'previous_labels' | 'labels'> & { previous_labels: string; labels: string };

export function tagChangeOfSql(row: TagChangeSqlRow): TagChangeRow {
  return tagChangeOf({ ...row, previous_labels: JSON.parse(row.previous_labels) as string[], labels: JSON.parse(row.labels) as string[] });
}

/** A jobs row as it comes out: errors and filter as JSON text, flags as 0 or 1. */
export type JobSqlRow = Omit<JobColumns, 'errors' | 'filter' | 'reembed' | 'changes_model' | 'exhausted' | 'taxonomy' | 'import_source'> & {
  taxonomy: string | null;
  import_source: string | null;
  errors: string;
  filter: string;
  reembed: number;
  changes_model: number;
  exhausted: number;
};

export function productOfSql(row: ProductSqlRow): ProductRow {
  return productOf({
    ...row,
    attributes: row.attributes === null ? null : (JSON.parse(row.attributes) as Record<string, unknown>),
    image_hashes: JSON.parse(row.image_hashes) as string[],
    image_urls: JSON.parse(row.image_urls) as (string | null)[],
  });
}

export function tagOfSql(row: TagSqlRow): TagRow {
  return tagOf({ ...row, needs_review: row.needs_review === 1 });
}

/** A job's columns decoded: JSON parsed, 0/1 as booleans. */
export function jobColumns(row: JobSqlRow): JobColumns {
  return {
    ...row,
    errors: JSON.parse(row.errors) as JobError[],
    filter: JSON.parse(row.filter) as ProductFilter,
    reembed: row.reembed === 1,
    changes_model: row.changes_model === 1,
    exhausted: row.exhausted === 1,
    taxonomy: row.taxonomy === null ? null : (JSON.parse(row.taxonomy) as FacetRow[]),
    import_source: row.import_source === null ? null : (JSON.parse(row.import_source) as ImportSource),
  };
}

export const jobOfSql = (row: JobSqlRow) => jobOf(jobColumns(row));

/** The active or target model, stored as JSON text. */
export function stateModelOfSql(json: string | null): VectorModel | null {
  return json === null ? null : stateModel(JSON.parse(json) as VectorModel);
}

/** Each product's upsert parameters; refuses attributes that are not a plain object or null, and image lists of two lengths. */
export function productParams(products: ProductRow[]): ProductParams[] {
  checkImageLists(products);
  return products.map((p, i) => {
    if (p.attributes !== null && (typeof p.attributes !== 'object' || Array.isArray(p.attributes))) {
      throw new TypeError(`products[${i}].attributes must be a plain object or null`);
    }
    return [
      p.id,
      p.title,
      p.description,
      p.attributes === null ? null : canonicalJson(p.attributes),
      JSON.stringify(p.imageHashes),
      JSON.stringify(p.imageUrls),
      p.createdAt,
      p.updatedAt,
    ];
  });
}
