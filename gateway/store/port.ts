import { CodedError } from '../../functions/clip';

/**
 * The catalogue's one port to persistent state: products, their vectors (per model), the taxonomy
 * and tags. Here, the rows it deals in; its methods are CatalogueStore (catalogue-store.ts). Two
 * adapters implement it (SQLite + sqlite-vec embedded, PostgreSQL + pgvector to scale out) and one
 * contract test suite runs against both. Nothing here knows GraphQL; nothing above it writes SQL.
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
  /**
   * Where each image came from, in the same order: its URL, fetched again when the images are
   * embedded again, or null for an image given inline, whose bytes the store keeps (see
   * ProductsWrite.imageBytes).
   */
  imageUrls: (string | null)[];
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

export const FACET_MODES = ['single', 'multi', 'tree'] as const;
export type FacetMode = (typeof FACET_MODES)[number];

/**
 * A TREE facet's taxonomy: its nodes, parents first, as imported from a taxonomy file. The
 * facet's labels are the nodes' ids, and a product's tags in it are its path, one tag a level.
 */
export interface FacetTreeRow {
  /** Where the nodes came from: a bundled taxonomy's name (`shopify-2025-08`), or `text` for one given inline. */
  source: string;
  /** The file's format: `shopify` (categories.txt) or `google` (taxonomy-with-ids). */
  format: string;
  /** The subtree taken (the id of its root), or null for the whole taxonomy. */
  root: string | null;
  /** Levels kept from the top, or null for all. */
  depth: number | null;
  /** Every node: its id (the tag's label), its name (what prompts say) and its parent's index (-1 for a top node). */
  nodes: { id: string; name: string; parent: number }[];
  /** Candidates kept at each level when tagging. */
  beamWidth: number;
  /** How a node's prompts name it with its parent (`{name}`, `{parent}`); null: by its name alone. */
  contextTemplate: string | null;
}

export interface FacetRow {
  name: string;
  labels: string[];
  templates: string[];
  /** single: softmax over the facet's labels, keep the best; multi: every label over `threshold`; tree: a path down `tree`. */
  mode: FacetMode;
  threshold: number | null;
  /** Automatic tags scoring under this are marked for review. */
  reviewBelow: number | null;
  /** A TREE facet's taxonomy (its labels are the nodes' ids); absent or null for the others. */
  tree?: FacetTreeRow | null;
  /**
   * Each label's prompt texts, in label order, used instead of `templates` × label when present: an
   * attribute facet's values are prompted by Shopify's value words (`a photo of something red.`),
   * not by their labels (value GIDs). Absent or null: `templates` × label.
   */
  labelPrompts?: string[][] | null;
  /** Each label's name for people, in label order, where the labels are ids (an attribute facet's value GIDs); absent or null otherwise. */
  labelNames?: string[] | null;
  /**
   * Gates the facet by a TREE facet: only products whose category (the deepest label of their path in
   * `facet`, or of their manual tags there) is one of `categories` are tagged in it. Absent or null:
   * every product is.
   */
  under?: FacetGateRow | null;
  /** The Shopify attribute an attribute facet scores; absent or null for other facets. */
  attribute?: FacetAttributeRow | null;
}

/** Which products a gated facet tags: those in one of `categories` of the TREE facet `facet`. */
export interface FacetGateRow {
  /** The TREE facet's name. */
  facet: string;
  /** Category ids (that facet's labels) whose products the facet tags. */
  categories: string[];
}

/** A Shopify taxonomy attribute, as an attribute facet records it. */
export interface FacetAttributeRow {
  /** `gid://shopify/TaxonomyAttribute/1`. */
  id: string;
  /** `color`. */
  handle: string;
  /** `Color`. */
  name: string;
}

/** Automatic tags a manual change brings with it: those of `facets` for the one product, replaced by `tags`. */
export interface RescoredTags {
  facets: string[];
  /** Each of source auto, for the product and one of `facets`. */
  tags: TagRow[];
}

export interface TaxonomyRow {
  /** 1, 2, 3, ...: each set makes a new version. */
  version: number;
  facets: FacetRow[];
  createdAt: string;
}

/** `auto`: made from the product's vector, replaced at every taxonomy change; `manual`: set by a person, never replaced. */
export const TAG_SOURCES = ['auto', 'manual'] as const;
export type TagSource = (typeof TAG_SOURCES)[number];

/**
 * What wrote a tag change: `auto`, the automatic tagging of an upsert or a taxonomy change; `job`, a
 * tagging job (re-tagging, re-embedding, a model change); `manual`, a person's tags.
 */
export const CHANGE_SOURCES = ['auto', 'manual', 'job'] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];

/** One facet's label on one product, with the score that made it (a manual tag's is 1) and its similarity. */
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

/**
 * A change of one product's labels in one facet, as the outbox records it: written in the same
 * transaction as the tags, only when the sorted set of labels changed (a score alone changing, or
 * the same labels written again, records nothing). Deleting a product records nothing: the shop
 * deleted it and knows.
 */
export interface TagChangeRow {
  /** 1, 2, 3, ...: the order changes were committed in, never reused. */
  seq: number;
  productId: string;
  facet: string;
  /** The labels before the write, sorted by code point; [] the first time the facet is tagged. */
  previousLabels: string[];
  /** The labels after it, sorted; [] when the write removed them. */
  labels: string[];
  /** Which write made the change: an upsert's or a taxonomy change's automatic tagging, a tagging job, or manual tags. */
  source: ChangeSource;
  /** The model key of the (product, facet)'s tags written, else of any tag of the write; null when the write held no tag. */
  model: string | null;
  /** ISO 8601. */
  changedAt: string;
}

/**
 * Which model's vectors the catalogue uses. Vectors of several models may be stored side by side;
 * search and tags use the active model's. A model change builds the target model's vectors beside
 * them and makes it active once every product has one.
 */
export interface ModelState {
  /** The model whose vectors search and tags use; null until a gateway first claims it. */
  active: VectorModel | null;
  /** The model a model change is building vectors for; null when none is under way. */
  target: VectorModel | null;
}

/** The last fetch of an image URL: the content it had and the validators its server sent, for a conditional fetch next time. */
export interface FetchedUrl {
  url: string;
  /** SHA-256 (hex) of the bytes fetched. */
  hash: string;
  etag: string | null;
  lastModified: string | null;
}

/** Everything one upsert writes, in one transaction: rows, vectors, kept image bytes and tags. */
export interface ProductsWrite {
  /** The model of every vector in this write. */
  model: VectorModel;
  /** Inserted or replaced as upsertProducts does (a product whose images change loses its vectors of every model first). */
  products: ProductRow[];
  imageVectors: { hash: string; vector: Float32Array }[];
  /** The bytes of images given inline, kept by content hash so that another model can embed them later. */
  imageBytes: { hash: string; bytes: Uint8Array }[];
  /** URLs fetched for this write (a URL stored before is replaced). */
  fetchedUrls?: FetchedUrl[];
  /**
   * Product vectors (unit length), each made from the images listed: it is written only if the
   * product still has exactly those images once `products` is written, so a vector made from
   * images replaced meanwhile is dropped rather than stored against the new ones.
   */
  productVectors: { productId: string; imageHashes: string[]; vector: Float32Array }[];
  /** Automatic tags replacing those of the products named (as replaceAutoTags); absent leaves tags untouched. */
  tags?: { productIds: string[]; tags: TagRow[] };
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

export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A problem a job met: with one product (`field` names it) or with the job itself. */
export interface JobError {
  field: string[] | null;
  message: string;
  code: string;
}

/** A tagging job: re-tags the products matching `filter`, a chunk at a time, by any gateway sharing the store. */
export interface JobRow {
  id: string;
  status: JobStatus;
  /** Products matching the filter when the job was made. */
  total: number;
  /** Products tagged so far (failed ones not included). */
  processed: number;
  failed: number;
  /** The first JOB_MAX_ERRORS problems, in the order met. */
  errors: JobError[];
  filter: ProductFilter;
  /** True: the job embeds the products' images again (fetching URLs again); false: it tags from stored vectors. */
  reembed: boolean;
  /**
   * The model key (`name|dtype`) of the job: the one whose vectors a re-embedding job makes, or
   * the active model when a tagging job was made. Only gateways serving it work on the job.
   */
  model: string;
  /**
   * A model change: the job embeds every product still without a vector of `model`, and when none
   * is left (and none failed) makes `model` the active one and queues a tagging job for it.
   */
  changesModel: boolean;
  /**
   * A taxonomy job's facets (NewJob.taxonomy), made the next taxonomy version once its prompts are
   * embedded; total and processed then count prompts. Null for other jobs.
   */
  taxonomy: FacetRow[] | null;
  /**
   * An import job's file (NewJob.import): its products are the job's chunks, upserted as they are
   * claimed; total and processed then count the file's products. Null for other jobs.
   */
  importSource: ImportSource | null;
  idempotencyKey: string | null;
  /** ISO 8601. */
  createdAt: string;
  /** When its first chunk was claimed. */
  startedAt: string | null;
  finishedAt: string | null;
}

export interface NewJob {
  filter: ProductFilter;
  reembed: boolean;
  /** The model of the gateway making the job. A re-embedding job for a model that is not active is a model change (see JobRow.changesModel). */
  model: VectorModel;
  /** A second create with the same key returns the first job instead of making another. */
  idempotencyKey?: string | null;
  /** Makes a taxonomy job (filter {}, reembed false): see TaxonomyJob. */
  taxonomy?: TaxonomyJob;
  /** Makes an import job (filter {}, reembed false): see ImportJob. */
  import?: ImportJob;
}

/** Which file an import job reads: its name as the client gave it, and its format. */
export interface ImportSource {
  file: string;
  format: string;
}

/**
 * An import job: a product file read when the job is made, whose products wait in the job's chunks
 * (cut once, in file order) to be upserted by whichever gateway claims them (see import-jobs.ts).
 */
export interface ImportJob {
  source: ImportSource;
  /** The file's entries in order, each an opaque string to the store (the catalogue's JSON of one product or one unreadable line). */
  entries: string[];
  /** Entries per chunk. */
  chunkSize: number;
}

/**
 * A taxonomy job: a taxonomy whose label prompts are not all embedded yet waits in a job whose chunks
 * are the prompts to embed, and becomes the next taxonomy version when the last chunk is done (see
 * taxonomy-jobs.ts).
 */
export interface TaxonomyJob {
  /** The taxonomy to set, as the store keeps it. */
  facets: FacetRow[];
  /** Prompt texts whose vectors the store does not hold yet, each once. */
  texts: string[];
  /** Texts per chunk. */
  chunkSize: number;
}

/**
 * A chunk of a job's work, claimed by one worker: the product ids of one keyset range (ids after
 * the previous chunk's last, in id order, matching the job's filter), fixed when the chunk is made.
 */
export interface JobChunk {
  jobId: string;
  /** 1, 2, 3, ... within the job. */
  seq: number;
  productIds: string[];
  /** This claim's own token: a completion under an older claim (the chunk was reclaimed since) writes nothing. */
  claim: string;
  filter: ProductFilter;
  reembed: boolean;
  /** The job's model key. */
  model: string;
  changesModel: boolean;
  /** How many times the chunk has been claimed, this claim included. */
  attempts: number;
  /** A taxonomy job's chunk: the prompt texts to embed (productIds is then empty); null for other jobs. */
  texts: string[] | null;
  /** An import job's chunk: its entries (ImportJob.entries), in file order (productIds is then empty); null for other jobs. */
  entries: string[] | null;
}

/** What a worker made of a chunk: the automatic tags of its products, and its counts. */
export interface ChunkOutcome {
  /** Products whose automatic tags are replaced by `tags` (those of the chunk that were tagged). */
  productIds: string[];
  tags: TagRow[];
  /** A re-embedding job's vectors (and products whose images changed), written with the chunk's completion. */
  write?: Omit<ProductsWrite, 'tags'>;
  processed: number;
  failed: number;
  errors: JobError[];
}

/** Most errors a job keeps. */
export const JOB_MAX_ERRORS = 20;
/** A chunk claimed this many times without completing fails its job. */
export const JOB_CHUNK_MAX_ATTEMPTS = 3;

export type StoreErrorCode = 'DIMENSION_MISMATCH' | 'BAD_CURSOR' | 'STORE_UNAVAILABLE';

/** The code a model change that could not embed every product ends with (in its errors). */
export const MODEL_CHANGE_INCOMPLETE = 'MODEL_CHANGE_INCOMPLETE';

/** A store failure a caller can name: a vector of the wrong size, a bad cursor, a database gone or locked. */
export class StoreError extends CodedError<StoreErrorCode> {
  override readonly name = 'StoreError';
}

/** The methods of outbound webhooks (endpoints, deliveries, dead letters) are in webhooks.ts. */
/** How a model is named in stored rows: the same name in another dtype makes other vectors. */
export function modelKey(model: VectorModel): string {
  return `${model.name}|${model.dtype}`;
}

/** The model a key and dim describe (dtypes hold no `|`; names may). */
export function modelOfKey(key: string, dim: number): VectorModel {
  const cut = key.lastIndexOf('|');
  return { name: key.slice(0, cut), dtype: key.slice(cut + 1), dim };
}
