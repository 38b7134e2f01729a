import type { InboundStore } from './inbound';
import type {
  ChunkOutcome,
  FacetRow,
  FetchedUrl,
  Hit,
  JobChunk,
  JobRow,
  ModelState,
  NewJob,
  Page,
  ProductFilter,
  ProductRow,
  ProductsWrite,
  RescoredTags,
  TagChangeRow,
  TagRow,
  TaxonomyRow,
  VectorModel,
} from './port';
import type { WebhookStore } from './webhooks';

// The store's port: what the catalogue asks of a store, whatever the engine (the rows it deals in
// are in port.ts). Each adapter (sqlite/, postgres/) composes its parts into one (composed.ts).

/** The label-vector methods of CatalogueStore. */
export interface LabelVectorStore {
  /**
   * The vectors of label prompts stored for `model`, by exact prompt text (a label put into a
   * template); texts never stored are absent from the map. Any number of texts: they are read a
   * chunk at a time. DIMENSION_MISMATCH when the model's key holds vectors of another dim.
   */
  getLabelVectors(model: VectorModel, texts: string[]): Promise<Map<string, Float32Array>>;
  /**
   * Stores label prompts' vectors for `model` (a text already stored is replaced; the last of a
   * text given twice wins), so that a prompt is embedded once per model, across restarts and
   * taxonomy versions. Every row is checked before anything is written (DIMENSION_MISMATCH for a
   * vector of the wrong length); then they are written a chunk at a time, each chunk its own
   * transaction: a failure part-way keeps the chunks before it, each row a whole vector of its text.
   */
  putLabelVectors(model: VectorModel, rows: { text: string; vector: Float32Array }[]): Promise<void>;
}

export interface CatalogueStore extends WebhookStore, InboundStore, LabelVectorStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or brings the schema up to date; idempotent, safe to run on every start and from several processes. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /**
   * Inserts or replaces products by id, all in one transaction (createdAt of an existing product is
   * kept). A product whose image hashes change loses its product vectors of every model: they
   * described the old images.
   */
  upsertProducts(products: ProductRow[]): Promise<void>;
  /** One upsert's rows, vectors, image bytes and tags, in one transaction: all written or none. */
  saveProducts(write: ProductsWrite): Promise<void>;
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

  /** The bytes kept for these hashes (images given inline); missing hashes are absent from the map. */
  getImageBytes(hashes: string[]): Promise<Map<string, Uint8Array>>;
  /** The last fetch recorded for each of these URLs; URLs never recorded are absent from the map. */
  getFetchedUrls(urls: string[]): Promise<Map<string, FetchedUrl>>;

  /** Stores each product's search vector for `model` (unit length: the normalised mean of its images). */
  putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void>;
  getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined>;
  /** The product vectors of `model` held for these products; products without one are absent from the map. */
  getProductVectors(model: VectorModel, productIds: string[]): Promise<Map<string, Float32Array>>;
  /**
   * Which of these products exist and their vectors of `model`, in one read (a tagging chunk's):
   * the ones with a vector in the order given, their vectors one after another in one block, and
   * the ones without; products that do not exist are in neither.
   */
  getProductVectorBlock(model: VectorModel, productIds: string[]): Promise<ProductVectorBlock>;

  getModelState(): Promise<ModelState>;
  /**
   * Makes `model` the active one when none is, and returns the state. A store holding product
   * vectors from before models were tracked makes the model with the most of them active instead.
   */
  claimActiveModel(model: VectorModel): Promise<ModelState>;
  /**
   * The `k` products of `model` nearest to `query` by cosine similarity, best first, among those
   * matching `filter`: exactly min(k, number matching) hits, however selective the filter.
   */
  searchProducts(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]>;
  /**
   * Makes ready what searches of `model` use beyond the vectors themselves, and resolves once it is
   * (the embedded store's HNSW graph, made in the background on first need otherwise; nothing for
   * PostgreSQL, whose index the database keeps). Searches are answered meanwhile, by another path.
   */
  prepareSearch(model: VectorModel): Promise<void>;

  getTaxonomy(): Promise<TaxonomyRow | undefined>;
  /** Stores the facets as the next version and returns it. */
  setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow>;

  /**
   * Replaces the automatic tags of these products with `tags` (all of whose source is auto), in
   * one transaction. Manual tags are never touched, and an automatic tag for a (product, facet)
   * that has manual tags is not stored: manual tags are facts, automatic ones opinions.
   */
  replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void>;
  /**
   * Replaces the manual tags of one product's facet (an empty list removes them). With `rescored`,
   * in the same transaction, the product's automatic tags in `rescored.facets` are replaced by
   * `rescored.tags` (as replaceAutoTags would, facets with manual tags kept), and their changes are
   * recorded as the manual change's: a manual category re-scores the attributes it gates.
   */
  setManualTags(
    productId: string,
    facet: string,
    tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[],
    rescored?: RescoredTags,
  ): Promise<void>;
  /** Every tag of these products, by product id. */
  getTags(productIds: string[]): Promise<Map<string, TagRow[]>>;
  /** The `k` products with the highest score for this label, best first (index-backed, not a scan). */
  labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]>;
  /** Automatic tags marked for review, ordered by (productId, facet, label). */
  tagsForReview(first: number, after?: string): Promise<Page<TagRow>>;
  /** The outbox: at most `first` tag changes with a seq greater than `after` (all when undefined), in seq order. */
  tagChanges(after: number | undefined, first: number): Promise<TagChangeRow[]>;
  /** The seq of the newest tag change committed, 0 when there is none: where a reader wanting only changes from now on starts. */
  lastTagChangeSeq(): Promise<number>;

  // Jobs: rows of the store, so a killed process loses nothing and several gateways share one job.

  /**
   * Makes a QUEUED job over the products matching `job.filter` (total counted now). With an
   * idempotency key already used, returns that job instead (`created` false): one job per key.
   *
   * A re-embedding job for a model that is not the active one is a model change: it covers every
   * product without a vector of that model (the filter must be empty), makes the model the
   * target, and there is at most one open at a time: while one is QUEUED or RUNNING, creating
   * another returns it (`created` false).
   */
  createJob(job: NewJob): Promise<{ job: JobRow; created: boolean }>;
  getJob(id: string): Promise<JobRow | undefined>;
  /** The newest `first` jobs, newest first (by creation time, then id). */
  listJobs(first: number): Promise<JobRow[]>;
  /**
   * A QUEUED or RUNNING job becomes CANCELLED; others are returned as they are. Cancelling a model
   * change also clears the target. Undefined when there is none.
   */
  cancelJob(id: string): Promise<JobRow | undefined>;
  /**
   * In one transaction, claims the next chunk of work of the oldest active job: a chunk whose claim
   * was released (see reclaimStaleJobChunks), else a new one of at most `chunkSize` products cut
   * from the job's keyset cursor. A job with nothing left to cut and no chunk left undone becomes
   * SUCCEEDED; one whose chunk reached JOB_CHUNK_MAX_ATTEMPTS becomes FAILED. Two claimers never
   * get the same chunk. Undefined when there is no work.
   *
   * `model` is the claimer's: it gets chunks of re-embedding jobs of that model, and of tagging
   * jobs only while that model is the active one. A model change whose chunks are all done
   * finishes as JobRow.changesModel says: FAILED when some product failed, another pass when
   * products without a vector are left (added meanwhile), else the switch-over.
   */
  claimJobChunk(worker: string, chunkSize: number, model: VectorModel, tagChunkSize?: number): Promise<JobChunk | undefined>;
  /**
   * In one transaction: the outcome's writes (as saveProducts) and automatic tags (as replaceAutoTags), the chunk marked done,
   * the job's counts and errors, and SUCCEEDED when it was the last. Only under the chunk's current
   * claim of a RUNNING job: otherwise (done already, reclaimed, cancelled) nothing is written and
   * false is returned, so a chunk done twice tags nothing twice.
   */
  completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean>;
  /** Releases claims made before `claimedBefore` (ISO 8601; their worker died), to be claimed again. Returns how many. */
  reclaimStaleJobChunks(claimedBefore: string): Promise<number>;
}

/** Products' vectors of one model as getProductVectorBlock reads them. */
export interface ProductVectorBlock {
  /** The products found with a vector, in the order asked. */
  ids: string[];
  /** Their vectors, ids.length × the model's dim values, product after product. */
  vectors: Float32Array;
  /** The products found without a vector of the model, in the order asked. */
  withoutVector: string[];
}
