import type { CatalogueStore, ProductVectorBlock } from './catalogue-store';
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
import type { InboundResult, InboundWebhookRow, NewInboundWebhook } from './inbound';
import type { WebhookDeadLetterRow, WebhookDelivery, WebhookEndpointRow, WebhookOutcome } from './webhooks';

type Methods<K extends keyof CatalogueStore> = Pick<CatalogueStore, K>;

/**
 * What an engine provides, one concern a part (each adapter's folder has a file of the same name
 * for each): the port is their sum. Parts share the engine's connection, and call each other's
 * writes inside one transaction where a method writes several concerns at once.
 */
export interface StoreParts {
  lifecycle: Methods<'migrate' | 'close'>;
  products: Methods<'upsertProducts' | 'saveProducts' | 'getProducts' | 'deleteProducts' | 'listProducts'>;
  vectors: Methods<
    | 'putImageVectors'
    | 'getImageVectors'
    | 'getImageBytes'
    | 'getFetchedUrls'
    | 'putProductVectors'
    | 'getProductVector'
    | 'getProductVectors'
    | 'getProductVectorBlock'
  >;
  labelVectors: Methods<'getLabelVectors' | 'putLabelVectors'>;
  models: Methods<'getModelState' | 'claimActiveModel'>;
  /** prepareSearch only where the engine has something to prepare. */
  search: Methods<'searchProducts'> & Partial<Methods<'prepareSearch'>>;
  tags: Methods<
    | 'getTaxonomy'
    | 'setTaxonomy'
    | 'replaceAutoTags'
    | 'setManualTags'
    | 'getTags'
    | 'labelTopProducts'
    | 'tagsForReview'
    | 'tagChanges'
    | 'lastTagChangeSeq'
  >;
  jobs: Methods<'createJob' | 'getJob' | 'listJobs' | 'cancelJob' | 'claimJobChunk' | 'completeJobChunk' | 'reclaimStaleJobChunks'>;
  webhooks: Methods<
    | 'createWebhookEndpoint'
    | 'listWebhookEndpoints'
    | 'deleteWebhookEndpoint'
    | 'claimWebhookDelivery'
    | 'completeWebhookDelivery'
    | 'listWebhookDeadLetters'
    | 'redeliverWebhookDeadLetters'
  >;
  inbound: Methods<'recordInboundWebhook' | 'claimInboundWebhook' | 'finishInboundWebhook' | 'getInboundWebhook'>;
}

/** The port over an engine's parts: each method is its part's (see CatalogueStore for what each does). */
export class ComposedStore implements CatalogueStore {
  constructor(
    readonly kind: CatalogueStore['kind'],
    private readonly parts: StoreParts,
  ) {}

  migrate(): Promise<void> {
    return this.parts.lifecycle.migrate();
  }
  close(): Promise<void> {
    return this.parts.lifecycle.close();
  }

  upsertProducts(products: ProductRow[]): Promise<void> {
    return this.parts.products.upsertProducts(products);
  }
  saveProducts(write: ProductsWrite): Promise<void> {
    return this.parts.products.saveProducts(write);
  }
  getProducts(ids: string[]): Promise<ProductRow[]> {
    return this.parts.products.getProducts(ids);
  }
  deleteProducts(ids: string[]): Promise<string[]> {
    return this.parts.products.deleteProducts(ids);
  }
  listProducts(filter: ProductFilter, first: number, after?: string): Promise<Page<ProductRow>> {
    return this.parts.products.listProducts(filter, first, after);
  }

  putImageVectors(model: VectorModel, vectors: { hash: string; vector: Float32Array }[]): Promise<void> {
    return this.parts.vectors.putImageVectors(model, vectors);
  }
  getImageVectors(model: VectorModel, hashes: string[]): Promise<Map<string, Float32Array>> {
    return this.parts.vectors.getImageVectors(model, hashes);
  }
  getImageBytes(hashes: string[]): Promise<Map<string, Uint8Array>> {
    return this.parts.vectors.getImageBytes(hashes);
  }
  getFetchedUrls(urls: string[]): Promise<Map<string, FetchedUrl>> {
    return this.parts.vectors.getFetchedUrls(urls);
  }
  putProductVectors(model: VectorModel, rows: { productId: string; vector: Float32Array }[]): Promise<void> {
    return this.parts.vectors.putProductVectors(model, rows);
  }
  getProductVector(model: VectorModel, productId: string): Promise<Float32Array | undefined> {
    return this.parts.vectors.getProductVector(model, productId);
  }
  getProductVectors(model: VectorModel, productIds: string[]): Promise<Map<string, Float32Array>> {
    return this.parts.vectors.getProductVectors(model, productIds);
  }
  getProductVectorBlock(model: VectorModel, productIds: string[]): Promise<ProductVectorBlock> {
    return this.parts.vectors.getProductVectorBlock(model, productIds);
  }

  getLabelVectors(model: VectorModel, texts: string[]): Promise<Map<string, Float32Array>> {
    return this.parts.labelVectors.getLabelVectors(model, texts);
  }
  putLabelVectors(model: VectorModel, rows: { text: string; vector: Float32Array }[]): Promise<void> {
    return this.parts.labelVectors.putLabelVectors(model, rows);
  }

  getModelState(): Promise<ModelState> {
    return this.parts.models.getModelState();
  }
  claimActiveModel(model: VectorModel): Promise<ModelState> {
    return this.parts.models.claimActiveModel(model);
  }

  searchProducts(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]> {
    return this.parts.search.searchProducts(model, query, k, filter);
  }
  async prepareSearch(model: VectorModel): Promise<void> {
    await this.parts.search.prepareSearch?.(model);
  }

  getTaxonomy(): Promise<TaxonomyRow | undefined> {
    return this.parts.tags.getTaxonomy();
  }
  setTaxonomy(facets: FacetRow[]): Promise<TaxonomyRow> {
    return this.parts.tags.setTaxonomy(facets);
  }
  replaceAutoTags(productIds: string[], tags: TagRow[]): Promise<void> {
    return this.parts.tags.replaceAutoTags(productIds, tags);
  }
  setManualTags(
    productId: string,
    facet: string,
    tags: Omit<TagRow, 'productId' | 'facet' | 'source'>[],
    rescored?: RescoredTags,
  ): Promise<void> {
    return this.parts.tags.setManualTags(productId, facet, tags, rescored);
  }
  getTags(productIds: string[]): Promise<Map<string, TagRow[]>> {
    return this.parts.tags.getTags(productIds);
  }
  labelTopProducts(facet: string, label: string, k: number): Promise<Hit[]> {
    return this.parts.tags.labelTopProducts(facet, label, k);
  }
  tagsForReview(first: number, after?: string): Promise<Page<TagRow>> {
    return this.parts.tags.tagsForReview(first, after);
  }
  tagChanges(after: number | undefined, first: number): Promise<TagChangeRow[]> {
    return this.parts.tags.tagChanges(after, first);
  }
  lastTagChangeSeq(): Promise<number> {
    return this.parts.tags.lastTagChangeSeq();
  }

  createJob(job: NewJob): Promise<{ job: JobRow; created: boolean }> {
    return this.parts.jobs.createJob(job);
  }
  getJob(id: string): Promise<JobRow | undefined> {
    return this.parts.jobs.getJob(id);
  }
  listJobs(first: number): Promise<JobRow[]> {
    return this.parts.jobs.listJobs(first);
  }
  cancelJob(id: string): Promise<JobRow | undefined> {
    return this.parts.jobs.cancelJob(id);
  }
  claimJobChunk(worker: string, chunkSize: number, model: VectorModel, tagChunkSize?: number): Promise<JobChunk | undefined> {
    return this.parts.jobs.claimJobChunk(worker, chunkSize, model, tagChunkSize);
  }
  completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean> {
    return this.parts.jobs.completeJobChunk(chunk, outcome);
  }
  reclaimStaleJobChunks(claimedBefore: string): Promise<number> {
    return this.parts.jobs.reclaimStaleJobChunks(claimedBefore);
  }

  createWebhookEndpoint(endpoint: { url: string; secret: string }): Promise<WebhookEndpointRow> {
    return this.parts.webhooks.createWebhookEndpoint(endpoint);
  }
  listWebhookEndpoints(): Promise<WebhookEndpointRow[]> {
    return this.parts.webhooks.listWebhookEndpoints();
  }
  deleteWebhookEndpoint(id: string): Promise<boolean> {
    return this.parts.webhooks.deleteWebhookEndpoint(id);
  }
  claimWebhookDelivery(worker: string, now: string, leaseMs: number): Promise<WebhookDelivery | undefined> {
    return this.parts.webhooks.claimWebhookDelivery(worker, now, leaseMs);
  }
  completeWebhookDelivery(delivery: WebhookDelivery, outcome: WebhookOutcome): Promise<boolean> {
    return this.parts.webhooks.completeWebhookDelivery(delivery, outcome);
  }
  listWebhookDeadLetters(first: number, after?: number): Promise<WebhookDeadLetterRow[]> {
    return this.parts.webhooks.listWebhookDeadLetters(first, after);
  }
  redeliverWebhookDeadLetters(ids: number[]): Promise<number[]> {
    return this.parts.webhooks.redeliverWebhookDeadLetters(ids);
  }

  recordInboundWebhook(delivery: NewInboundWebhook): Promise<{ webhook: InboundWebhookRow; created: boolean }> {
    return this.parts.inbound.recordInboundWebhook(delivery);
  }
  claimInboundWebhook(worker: string, now: string, leaseMs: number): Promise<InboundWebhookRow | undefined> {
    return this.parts.inbound.claimInboundWebhook(worker, now, leaseMs);
  }
  finishInboundWebhook(webhookId: string, claim: string, result: InboundResult): Promise<boolean> {
    return this.parts.inbound.finishInboundWebhook(webhookId, claim, result);
  }
  getInboundWebhook(webhookId: string): Promise<InboundWebhookRow | undefined> {
    return this.parts.inbound.getInboundWebhook(webhookId);
  }
}

/**
 * A part of an engine: its connection `c`, and what it `uses` (the other parts it writes through
 * inside one transaction, its settings). Each adapter's index.ts wires its parts together.
 */
export abstract class Part<Connection, Uses extends object = object> {
  constructor(
    protected readonly c: Connection,
    protected readonly uses: Uses = {} as Uses,
  ) {}
}
