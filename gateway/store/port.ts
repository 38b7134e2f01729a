/**
 * The catalogue's one port to persistent state: products, their vectors (per model), the taxonomy
 * and tags. Two adapters implement it (SQLite + sqlite-vec embedded, PostgreSQL + pgvector to
 * scale out) and one contract test suite runs against both. Nothing here knows GraphQL; nothing
 * above it writes SQL.
 */

/** The model that made a vector. Vectors of different models are never compared. */
export interface VectorModel {
  name: string;
  dim: number;
  /** Weights that made it (fp32, q8, ...): the same model name in another dtype gives other vectors. */
  dtype: string;
}

export interface ProductRow {
  /** The shop's own id: the idempotency key of an upsert. */
  id: string;
  title: string | null;
  description: string | null;
  /** A plain JSON object the shop can filter on (top-level keys, equality). */
  attributes: Record<string, unknown> | null;
  /** SHA-256 (hex) of each image's bytes, in the product's order. */
  imageHashes: string[];
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

export type FacetMode = 'single' | 'multi';

export interface FacetRow {
  name: string;
  labels: string[];
  templates: string[];
  /** single: softmax over the facet's labels, keep the best; multi: every label over `threshold`. */
  mode: FacetMode;
  threshold: number | null;
  /** Automatic tags scoring under this are marked for review. */
  reviewBelow: number | null;
}

export interface TaxonomyRow {
  /** 1, 2, 3, ...: each set makes a new version. */
  version: number;
  facets: FacetRow[];
  createdAt: string;
}

export type TagSource = 'auto' | 'manual';

export interface TagRow {
  productId: string;
  facet: string;
  label: string;
  score: number;
  similarity: number;
  source: TagSource;
  needsReview: boolean;
  /** The model key (`name|dtype`) whose vectors made it. */
  model: string;
  taxonomyVersion: number;
}

/** Products that match every condition given. */
export interface ProductFilter {
  ids?: string[];
  /** Every one must be a tag of the product (auto or manual). */
  tags?: { facet: string; label: string }[];
  /** Top-level attribute equality: `{ brand: "acme" }`. */
  attributes?: Record<string, unknown>;
}

/** A product and how well it matches: cosine similarity for search, tag score for labels. */
export interface Hit {
  productId: string;
  score: number;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  /** Opaque; pass as `after` for the next page. Undefined when `items` is empty. */
  endCursor?: string;
}

export type StoreErrorCode = 'DIMENSION_MISMATCH' | 'BAD_CURSOR' | 'STORE_UNAVAILABLE';

/** A store failure a caller can name: a vector of the wrong size, a bad cursor, a database gone or locked. */
export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface CatalogueStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or brings the schema up to date; idempotent, safe to run on every start and from several processes. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Inserts or replaces products by id, all in one transaction (createdAt of an existing product is kept). */
  upsertProducts(products: ProductRow[]): Promise<void>;
  /** The products that exist, in the order of `ids`. */
  getProducts(ids: string[]): Promise<ProductRow[]>;
  /** Deletes products with their tags and product vectors; returns the ids that existed. */
  deleteProducts(ids: string[]): Promise<string[]>;
  /** Products matching `filter`, ordered by id, `first` at a time after the cursor. */
  listProducts(filter: ProductFilter, first: number, after?: string): Promise<Page<ProductRow>>;

  /** Stores image vectors by content hash for `model` (a hash already stored is replaced). */
  putImageVectors(model: VectorModel, vectors: { hash: string; vector: Float32Array }[]): Promise<void>;
  /** The vectors of `model` held for these hashes; missing hashes are absent from the map. */
  getImageVectors(model: VectorModel, hashes: string[]): Promise<Map<string, Float32Array>>;

  /** Stores each product's search vector for `model` (unit length: the normalised mean of its images). */
  putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void>;
  getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined>;
  /**
   * The `k` products of `model` nearest to `query` by cosine similarity, best first, among those
   * matching `filter`: exactly min(k, number matching) hits, however selective the filter.
   */
  searchProducts(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]>;

  getTaxonomy(): Promise<TaxonomyRow | undefined>;
  /** Stores the facets as the next version and returns it. */
  setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow>;

  /**
   * Replaces the automatic tags of these products with `tags` (all of whose source is auto), in
   * one transaction. Manual tags are never touched, and an automatic tag for a (product, facet)
   * that has manual tags is not stored: manual tags are facts, automatic ones opinions.
   */
  replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void>;
  /** Replaces the manual tags of one product's facet (an empty list removes them). */
  setManualTags(productId: string, facet: string, tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[]): Promise<void>;
  /** Every tag of these products, by product id. */
  getTags(productIds: string[]): Promise<Map<string, TagRow[]>>;
  /** The `k` products with the highest score for this label, best first (index-backed, not a scan). */
  labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]>;
  /** Automatic tags marked for review, ordered by (productId, facet, label). */
  tagsForReview(first: number, after?: string): Promise<Page<TagRow>>;
}

/** How a model is named in stored rows: the same name in another dtype makes other vectors. */
export function modelKey(model: VectorModel): string {
  return `${model.name}|${model.dtype}`;
}
