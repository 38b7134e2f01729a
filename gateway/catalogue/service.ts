import type { Format } from '../imports';
import type { ImageIntake } from '../intake';
import type {
  CatalogueStore,
  ChunkOutcome,
  JobChunk,
  JobRow,
  ModelState,
  ProductFilter,
  ProductRow,
  TagChangeRow,
  TagRow,
  TaxonomyRow,
  VectorModel,
} from '../store';
import { AttributeFacets } from './attribute-facets';
import { Chunks } from './chunks';
import type { Connection, Edge } from './cursor';
import type { Embedder } from './embedder';
import { Images } from './images';
import { ImportJobs, type ImportFile } from './import-jobs';
import { Ingest, type ProductInput, type UpsertResult } from './ingest';
import { JobRequests } from './job-requests';
import { JobSignals } from './job-signals';
import { Labels } from './labels';
import { DEFAULT_CATALOGUE_LIMITS, type CatalogueLimits } from './limits';
import { ModelRoles } from './models';
import { Products, type ProductHit } from './products';
import { Search, type SearchQuery } from './search';
import { TagChanges } from './tag-changes';
import type { FacetInput } from './taxonomy';
import { TaxonomyJobs } from './taxonomy-jobs';
import { taxonomySet, TaxonomyWaits, type TaxonomyChange } from './taxonomy-wait';

export { DEFAULT_CATALOGUE_LIMITS, type CatalogueLimits } from './limits';
export type { ImageSource } from './images';
export type { ProductInput, UpsertResult } from './ingest';
export type { ProductHit } from './products';
export type { SearchQuery } from './search';
export type { TaxonomyChange } from './taxonomy-wait';

/**
 * The product catalogue: products with their image vectors, the taxonomy, automatic tags from
 * stored vectors, manual tags, vector search and tagging jobs. Knows no GraphQL: inputs come as
 * plain objects, problems leave as FieldErrors naming the field. This class only composes the
 * parts, each in a file of its own: models, labels, images, products, ingest, chunks, search and
 * job requests.
 */
export class CatalogueService {
  /** This gateway's model. */
  readonly model: VectorModel;
  private readonly roles: ModelRoles;
  private readonly products: Products;
  private readonly labels: Labels;
  private readonly ingest: Ingest;
  private readonly chunks: Chunks;
  private readonly finder: Search;
  private readonly jobs: JobRequests;
  private readonly changes: TagChanges;
  private readonly attributeFacets: AttributeFacets;
  private readonly signals = new JobSignals();
  private readonly taxonomyJobs: TaxonomyJobs;
  private readonly importJobs: ImportJobs;
  private readonly taxonomyWaits: TaxonomyWaits;

  constructor(
    store: CatalogueStore,
    embeddings: Embedder,
    intake: ImageIntake,
    readonly limits: CatalogueLimits = DEFAULT_CATALOGUE_LIMITS,
    now: () => Date = () => new Date(),
  ) {
    const { name, dim, dtype } = embeddings.model.info;
    const models = new ModelRoles(store, { name, dim, dtype });
    const images = new Images(store, embeddings, intake, models.model);
    const products = new Products(store, limits);
    const labels = new Labels(store, embeddings, models, products, limits);
    this.model = models.model;
    this.roles = models;
    this.products = products;
    this.labels = labels;
    this.ingest = new Ingest({ store, models, labels, images, products, limits, now });
    this.chunks = new Chunks({ store, models, labels, images, products, now });
    this.finder = new Search({ store, embeddings, models, labels, images, products, limits });
    this.jobs = new JobRequests(store, models, limits, this.signals);
    this.taxonomyJobs = new TaxonomyJobs({ store, embeddings, models, labels, jobs: this.jobs });
    this.taxonomyWaits = new TaxonomyWaits(store, this.signals);
    this.importJobs = new ImportJobs({ jobs: this.jobs, ingest: this.ingest });
    this.changes = new TagChanges(store, limits);
    this.attributeFacets = new AttributeFacets(limits, limits.attributeTaxonomyDir);
  }

  // ---- the catalogue's model (models.ts) ------------------------------------------------------

  /** Run once at start; see ModelRoles.init. Returns a sentence for the log when the catalogue is not on this gateway's model. */
  init(): Promise<string | undefined> {
    return this.roles.init(() => this.jobs.startModelChange());
  }

  /** Which models the catalogue uses, and this gateway's. */
  models(): Promise<ModelState & { gateway: VectorModel }> {
    return this.roles.models();
  }

  // ---- taxonomy and tags (labels.ts) ----------------------------------------------------------

  getTaxonomy(): Promise<TaxonomyRow | undefined> {
    return this.labels.getTaxonomy();
  }

  /**
   * Sets the facets as the next taxonomy version through a taxonomy job (see changeTaxonomy) and
   * waits for it and its re-tagging to end: the taxonomy set, or the job's first error as a
   * FieldError (a prompt names its facet and label). The work is the job runners'.
   */
  async setTaxonomy(facets: readonly FacetInput[], signal?: AbortSignal): Promise<TaxonomyRow> {
    return taxonomySet(await this.changeTaxonomy(facets, true, signal));
  }

  /**
   * Checks the facets (a FieldError) and makes a taxonomy job: the runners embed the prompts the
   * store lacks, then set the facets as the next version and re-tag every product from its stored
   * vector. With `wait`, follows it and its re-tagging until they end or `signal`'s deadline nears
   * (taxonomy-wait.ts); without, returns the job at once.
   */
  async changeTaxonomy(facets: readonly FacetInput[], wait: boolean, signal?: AbortSignal): Promise<TaxonomyChange> {
    const job = await this.taxonomyJobs.start(await this.attributeFacets.expand(facets));
    return wait ? this.taxonomyWaits.follow(job, signal) : this.taxonomyWaits.outcome(job);
  }

  /** Replaces the manual tags of one product's facet; see Labels.setManualTags. */
  setManualTags(productId: string, facetName: string, labels: readonly string[]): Promise<ProductRow> {
    return this.labels.setManualTags(productId, facetName, labels);
  }

  // ---- the feed of tag changes (tag-changes.ts) -----------------------------------------------

  /** Tag changes in the order they were committed, `first` at a time after the cursor. */
  tagChanges(first: number, after?: string): Promise<Connection<TagChangeRow>> {
    return this.changes.page(first, after);
  }

  /** Tag changes after the cursor (without one, from now on), then each as it is committed; see TagChanges.follow. */
  followTagChanges(after: string | undefined, signal?: AbortSignal): AsyncIterableIterator<Edge<TagChangeRow>> {
    return this.changes.follow(after, signal);
  }

  // ---- products (ingest.ts, products.ts) ------------------------------------------------------

  /** Stores products by id with their vectors and tags; one that fails fails alone. See Ingest.upsertProducts. */
  upsertProducts(inputs: readonly ProductInput[], signal?: AbortSignal): Promise<UpsertResult[]> {
    return this.ingest.upsertProducts(inputs, signal);
  }

  /** The products that exist, in the order of `ids`. */
  getProducts(ids: readonly string[]): Promise<ProductRow[]> {
    return this.products.get(ids);
  }

  /** Deletes products with their tags and vectors; returns the ids that existed. */
  deleteProducts(ids: readonly string[]): Promise<string[]> {
    return this.products.delete(ids);
  }

  /** Products matching `filter`, by id, `first` at a time. */
  listProducts(filter: ProductFilter, first: number, after?: string): Promise<Connection<ProductRow>> {
    return this.products.list(filter, first, after);
  }

  /** Every tag of these products, by product id. */
  getTags(productIds: readonly string[]): Promise<Map<string, TagRow[]>> {
    return this.products.tags(productIds);
  }

  // ---- tagging jobs (job-requests.ts, chunks.ts) ----------------------------------------------

  /** Calls `listener` whenever a job is made (or there is job work to look for at once). */
  onJobStarted(listener: () => void): void {
    this.signals.onWork(listener);
  }

  /** The runner did a step: whoever waits here on a job reads it again (see JobSignals). */
  jobProgressed(): void {
    this.signals.progressed();
  }

  /** Makes a background job re-tagging (or re-embedding) the products matching `filter`; see JobRequests.start. */
  startTaggingJob(filter: ProductFilter, reembed: boolean, idempotencyKey?: string | null): Promise<JobRow> {
    return this.jobs.start(filter, reembed, idempotencyKey);
  }

  getTaggingJob(id: string): Promise<JobRow | undefined> {
    return this.jobs.get(id);
  }

  /** The newest tagging jobs, newest first. */
  listTaggingJobs(first: number): Promise<JobRow[]> {
    return this.jobs.list(first);
  }

  /** Cancels a QUEUED or RUNNING job; one that has ended is a FieldError naming its final status. */
  cancelTaggingJob(id: string): Promise<JobRow> {
    return this.jobs.cancel(id);
  }

  /** The automatic tags of a chunk's products from their stored vectors; see Chunks.tagChunk. */
  tagChunk(productIds: readonly string[]): Promise<ChunkOutcome> {
    return this.chunks.tagChunk(productIds);
  }

  /** A taxonomy job's chunk of label prompts; see TaxonomyJobs.embedChunk. */
  embedPromptChunk(chunk: Pick<JobChunk, 'jobId' | 'texts'>): Promise<ChunkOutcome> {
    return this.taxonomyJobs.embedChunk(chunk);
  }

  /** Reads a shop's export file (or a file of the project's formats) into an import job; see ImportJobs.start. */
  startImportJob(open: () => Promise<ImportFile>, format: Format, idempotencyKey?: string | null): Promise<JobRow> {
    return this.importJobs.start(open, format, idempotencyKey);
  }

  /** An import job's chunk of the file's products; see ImportJobs.importChunk. */
  importChunk(chunk: Pick<JobChunk, 'entries'>): Promise<ChunkOutcome> {
    return this.importJobs.importChunk(chunk);
  }

  /** A re-embedding job's chunk; see Chunks.embedChunk. */
  embedChunk(chunk: Pick<JobChunk, 'productIds' | 'changesModel'>, signal?: AbortSignal): Promise<ChunkOutcome> {
    return this.chunks.embedChunk(chunk, signal);
  }

  // ---- search (search.ts) ---------------------------------------------------------------------

  /** Products nearest a text, an image or another product (itself excluded), best first, among those matching `filter`. */
  search(query: SearchQuery, filter: ProductFilter, first: number, signal?: AbortSignal): Promise<ProductHit[]> {
    return this.finder.search(query, filter, first, signal);
  }

  /** The products nearest one product (itself excluded), best first; none without a vector for it under the active model. */
  similarProducts(productId: string, first: number): Promise<ProductHit[]> {
    return this.finder.similarProducts(productId, first);
  }

  /** The products with the highest score for one label, best first; an unknown facet or label is a FieldError naming the known ones. */
  labelTopProducts(facet: string, label: string, first: number): Promise<ProductHit[]> {
    return this.finder.labelTopProducts(facet, label, first);
  }

  /** Automatic tags marked for review, by (product, facet, label). */
  tagsForReview(first: number, after?: string): Promise<Connection<TagRow>> {
    return this.finder.tagsForReview(first, after);
  }
}
