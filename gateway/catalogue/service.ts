import { createHash } from 'node:crypto';

import { dot, meanUnitVector } from '../../functions/clip';
import { ErrorCode, GatewayError, InputError } from '../common/errors';
import type { EmbeddingService } from '../embedding/service';
import type { ImageIntake } from '../intake';
import {
  modelKey,
  type CatalogueStore,
  type ChunkOutcome,
  type FacetRow,
  type JobChunk,
  type JobError,
  type JobRow,
  type ModelState,
  type FetchedUrl,
  type ProductFilter,
  type ProductRow,
  type ProductsWrite,
  type TagRow,
  type TaxonomyRow,
  type VectorModel,
} from '../store/port';
import { readConnection, type Connection } from './cursor';
import { FieldError, fieldName, fromStoreError } from './errors';
import { tagsFor, tagsForMany, type ScoredFacet, type TaggingContext } from './tagging';
import { facetRows, taxonomyProblems, type FacetInput, type TaxonomyLimits } from './taxonomy';

/** One image as a caller gives it: exactly one of the two. */
export interface ImageSource {
  url?: string | null;
  base64?: string | null;
}

export interface ProductInput {
  id: string;
  title?: string | null;
  description?: string | null;
  images: ImageSource[];
  attributes?: Record<string, unknown> | null;
}

/** What one product of an upsert became: the stored product, or why it was not stored. */
export type UpsertResult = { ok: true; product: ProductRow } | { ok: false; error: FieldError };

/** One search: exactly one of the three. */
export interface SearchQuery {
  text?: string | null;
  image?: ImageSource | null;
  productId?: string | null;
}

export interface ProductHit {
  product: ProductRow;
  score: number;
}

export interface CatalogueLimits extends TaxonomyLimits {
  /** Most products in one upsert or delete, and most ids in a filter. */
  maxProducts: number;
  /** Most images of one product. */
  maxImagesPerProduct: number;
  /** Largest page or result list a caller may ask for. */
  maxFirst: number;
}

export const DEFAULT_CATALOGUE_LIMITS: CatalogueLimits = {
  maxFacets: 32,
  maxLabels: 1_000,
  maxTemplates: 32,
  maxProducts: 256,
  maxImagesPerProduct: 10,
  maxFirst: 500,
};

/**
 * Products re-tagged per store transaction after a taxonomy change: one matrix product and one
 * write each. Measured on SQLite, writing tags costs ~40 µs a product in pages of 200 and ~13 µs in
 * pages of 2000, for ~30 ms of write lock a page.
 */
const RETAG_PAGE = 2000;

/** What this gateway's model is to the catalogue: the one searched, the one a model change is building, or neither. */
type ModelRole = 'active' | 'target' | 'other';

/**
 * The product catalogue: products with their image vectors, the taxonomy, automatic tags from
 * stored vectors, manual tags, and vector search. Knows no GraphQL: inputs come as plain objects,
 * problems leave as FieldErrors naming the field.
 */
export class CatalogueService {
  readonly model: VectorModel;
  private readonly key: string;
  /** Label vectors of one taxonomy version (label prompts are embedded once per version). */
  private scored?: { version: number; facets: Promise<ScoredFacet[]> };
  /** Called when a tagging job is made, so that a runner starts on it at once. */
  private readonly jobListeners: (() => void)[] = [];

  constructor(
    private readonly store: CatalogueStore,
    private readonly embeddings: EmbeddingService,
    private readonly intake: ImageIntake,
    readonly limits: CatalogueLimits = DEFAULT_CATALOGUE_LIMITS,
    private readonly now: () => Date = () => new Date(),
  ) {
    const { name, dim, dtype } = embeddings.model.info;
    this.model = { name, dim, dtype };
    this.key = modelKey(this.model);
  }

  // ---- the catalogue's model ------------------------------------------------------------------

  /**
   * Run once at start. The first gateway on a store makes its model the active one. A gateway
   * whose model is neither the active one nor the target of a model change under way starts that
   * change: a job that embeds every product with this model beside the old vectors and switches
   * over when none is left (search keeps using the old vectors until then). Returns a sentence for
   * the log when the catalogue is not on this gateway's model.
   */
  async init(): Promise<string | undefined> {
    const state = await this.storeCall(() => this.store.claimActiveModel(this.model));
    const role = this.roleIn(state);
    if (role === 'active') return undefined;
    const active = modelKey(state.active!);
    if (role === 'other') {
      let job: JobRow;
      try {
        job = await this.startModelChange();
      } catch (error) {
        // Another change under way: this gateway serves what needs no embedding, and says why it changes nothing.
        if (error instanceof FieldError) return `catalogue: its vectors are of ${active}; ${error.message}`;
        throw error;
      }
      return `catalogue: its vectors are of ${active}, not of this gateway's ${this.key}; model change job ${job.id} embeds every product with ${this.key} and then switches over (until then, search by text or image needs a gateway serving ${active}).`;
    }
    return `catalogue: a model change from ${active} to this gateway's ${this.key} is under way; search by text or image needs a gateway serving ${active} until it completes.`;
  }

  /** Which models the catalogue uses, and this gateway's. */
  async models(): Promise<ModelState & { gateway: VectorModel }> {
    return { ...(await this.storeCall(() => this.store.getModelState())), gateway: this.model };
  }

  private roleIn(state: ModelState): ModelRole {
    if (state.active && modelKey(state.active) === this.key) return 'active';
    if (state.target && modelKey(state.target) === this.key) return 'target';
    return 'other';
  }

  private async role(): Promise<{ role: ModelRole; state: ModelState }> {
    const state = await this.storeCall(() => this.store.getModelState());
    return { role: this.roleIn(state), state };
  }

  /** Throws MODEL_MISMATCH (naming `field`) unless this gateway's model is the active one: `doing` compares with its vectors. */
  private async requireActive(field: string[], doing: string): Promise<void> {
    const { role, state } = await this.role();
    if (role !== 'active') throw this.mismatch(field, state, doing);
  }

  private mismatch(field: string[], state: ModelState, doing: string): FieldError {
    const active = state.active ? modelKey(state.active) : 'no model yet';
    const change = state.target ? `; a model change to ${modelKey(state.target)} is under way` : '';
    return new FieldError(
      field,
      ErrorCode.MODEL_MISMATCH,
      `This gateway embeds with ${this.key}, but the catalogue's vectors are of ${active}${change}: ${doing} needs a gateway serving ${active}.`,
    );
  }

  // ---- taxonomy -------------------------------------------------------------------------------

  getTaxonomy(): Promise<TaxonomyRow | undefined> {
    return this.storeCall(() => this.store.getTaxonomy());
  }

  /**
   * Checks the facets, embeds their label prompts, stores them as the next version, and re-tags
   * every product from its stored vector (no image is embedded again). Throws the first problem
   * as a FieldError; `taxonomyProblems` gives them all.
   */
  async setTaxonomy(facets: readonly FacetInput[]): Promise<TaxonomyRow> {
    const problems = taxonomyProblems(facets, this.limits);
    if (problems.length > 0) throw problems[0];
    await this.requireActive(['facets'], 'setting the taxonomy (its labels are scored against the stored vectors)');
    const rows = facetRows(facets);
    // Embedded before storing: a taxonomy whose labels cannot be embedded is never stored.
    const scored = await this.scoreFacets(rows);
    const taxonomy = await this.storeCall(() => this.store.setTaxonomy(rows));
    this.scored = { version: taxonomy.version, facets: Promise.resolve(scored) };
    await this.retagAll(taxonomy, scored);
    return taxonomy;
  }

  private async scoreFacets(facets: readonly FacetRow[]): Promise<ScoredFacet[]> {
    return Promise.all(
      facets.map(async (facet, f) => ({
        facet,
        labelVectors: await Promise.all(
          facet.labels.map(async (label, l) => {
            try {
              return meanUnitVector(
                await Promise.all(facet.templates.map((t) => this.embeddings.embedText(t.replaceAll('{}', () => label)))),
              );
            } catch (error) {
              throw failure(['facets', String(f), 'labels', String(l)], error);
            }
          }),
        ),
      })),
    );
  }

  /** The label vectors of the current taxonomy (undefined when none is set). */
  private async current(): Promise<{ taxonomy: TaxonomyRow; facets: ScoredFacet[] } | undefined> {
    const taxonomy = await this.getTaxonomy();
    if (!taxonomy) return undefined;
    if (this.scored?.version !== taxonomy.version) {
      const facets = this.scoreFacets(taxonomy.facets);
      this.scored = { version: taxonomy.version, facets };
      facets.catch(() => {
        if (this.scored?.facets === facets) this.scored = undefined;
      });
    }
    return { taxonomy, facets: await this.scored.facets };
  }

  private context(current: { taxonomy: TaxonomyRow }): TaggingContext {
    return { logitScale: this.embeddings.model.info.logitScale, model: this.key, taxonomyVersion: current.taxonomy.version };
  }

  private autoTags(
    productId: string,
    vector: Float32Array | undefined,
    current: { taxonomy: TaxonomyRow; facets: ScoredFacet[] } | undefined,
  ): TagRow[] {
    if (!vector || !current) return [];
    return tagsFor(productId, vector, current.facets, this.context(current));
  }

  /** autoTags of many products, from one matrix product. */
  private autoTagsMany(
    products: { productId: string; vector: Float32Array }[],
    current: { taxonomy: TaxonomyRow; facets: ScoredFacet[] } | undefined,
  ): Promise<TagRow[]> {
    if (!current) return Promise.resolve([]);
    return tagsForMany(products, current.facets, this.context(current));
  }

  private async retagAll(taxonomy: TaxonomyRow, facets: ScoredFacet[]): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.storeCall(() => this.store.listProducts({}, RETAG_PAGE, after));
      const ids = page.items.map((p) => p.id);
      const vectors = await this.storeCall(() => this.store.getProductVectors(this.model, ids));
      const tags = await this.autoTagsMany(
        [...vectors].map(([productId, vector]) => ({ productId, vector })),
        { taxonomy, facets },
      );
      if (ids.length > 0) await this.storeCall(() => this.store.replaceAutoTags(ids, tags));
      if (!page.hasNextPage || page.endCursor === undefined) return;
      after = page.endCursor;
    }
  }

  // ---- products -------------------------------------------------------------------------------

  /**
   * Stores products by id (an existing one is replaced), with their image vectors, their search
   * vector (the normalised mean of their images') and their automatic tags. An image whose bytes
   * already have a stored vector for this model is not embedded again. One product that fails
   * (a bad image, a repeated id) fails alone; the results are in input order.
   */
  async upsertProducts(inputs: readonly ProductInput[], signal?: AbortSignal): Promise<UpsertResult[]> {
    if (inputs.length > this.limits.maxProducts)
      throw new FieldError(
        ['products'],
        ErrorCode.INPUT_TOO_LARGE,
        `products has ${inputs.length} items; the limit is ${this.limits.maxProducts}.`,
      );
    // Vectors of this gateway's model are stored; tags only when they are the ones searched.
    const { role, state } = await this.role();
    if (role === 'other') throw this.mismatch(['products'], state, 'upserting products');
    const seen = new Map<string, number>();
    // 0. What each URL held when last fetched, and whether its vector is stored: a conditional fetch may then do.
    const urls = inputs.flatMap((input) => input.images.flatMap((image) => (image.url ? [image.url] : [])));
    const lastFetches = await this.storeCall(() => this.store.getFetchedUrls(urls));
    const revalidate = await this.revalidatable(lastFetches);
    // 1. Arguments and image bytes, product by product.
    const prepared = await Promise.all(
      inputs.map(async (input, p) => {
        try {
          const id = input.id.trim();
          if (id === '') throw new FieldError(['products', String(p), 'id'], ErrorCode.BAD_USER_INPUT, `products[${p}].id is empty.`);
          if (seen.has(id))
            throw new FieldError(
              ['products', String(p), 'id'],
              ErrorCode.BAD_USER_INPUT,
              `products[${p}].id repeats products[${seen.get(id)}].id (${JSON.stringify(id)}).`,
            );
          seen.set(id, p);
          if (input.images.length === 0)
            throw new FieldError(
              ['products', String(p), 'images'],
              ErrorCode.BAD_USER_INPUT,
              `products[${p}].images is empty; give at least one image.`,
            );
          if (input.images.length > this.limits.maxImagesPerProduct)
            throw new FieldError(
              ['products', String(p), 'images'],
              ErrorCode.INPUT_TOO_LARGE,
              `products[${p}].images has ${input.images.length} images; the limit is ${this.limits.maxImagesPerProduct}.`,
            );
          const images = await Promise.all(
            input.images.map(async (image, i) => {
              const field = ['products', String(p), 'images', String(i)];
              if (image.url && !image.base64)
                return { ...(await this.fetchUrl(image.url, [...field, 'url'], revalidate, signal)), url: image.url };
              const bytes = await this.imageBytes(image, field, signal);
              return { bytes: bytes as Uint8Array | null, hash: sha256(bytes), url: null, fetched: undefined };
            }),
          );
          return { input, id, images };
        } catch (error) {
          return failure(['products', String(p)], error);
        }
      }),
    );
    // 2. Vectors: stored ones by content hash; the others embedded, each distinct image once.
    const hashes = [...new Set(prepared.flatMap((p) => (p instanceof FieldError ? [] : p.images.map((i) => i.hash))))];
    const stored = await this.storeCall(() => this.store.getImageVectors(this.model, hashes));
    const embed = this.embedOnce(stored, signal);
    const withVectors = await Promise.all(
      prepared.map(async (p, index) => {
        if (p instanceof FieldError) return p;
        try {
          const vectors = await Promise.all(
            p.images.map(async ({ bytes, hash }, i) => {
              try {
                return await embed(hash, bytes);
              } catch (error) {
                throw failure(['products', String(index), 'images', String(i)], error);
              }
            }),
          );
          return { ...p, vectors, vector: meanUnitVector(vectors) };
        } catch (error) {
          return failure(['products', String(index)], error);
        }
      }),
    );
    // 3. Everything that succeeded, stored in one transaction.
    const good = withVectors.filter((p): p is Exclude<(typeof withVectors)[number], FieldError> => !(p instanceof FieldError));
    if (good.length > 0) {
      const now = this.now().toISOString();
      const write: ProductsWrite = {
        model: this.model,
        products: good.map((p) => ({
          id: p.id,
          title: p.input.title ?? null,
          description: p.input.description ?? null,
          attributes: p.input.attributes ?? null,
          imageHashes: p.images.map((i) => i.hash),
          imageUrls: p.images.map((i) => i.url),
          createdAt: now,
          updatedAt: now,
        })),
        imageVectors: [],
        imageBytes: [],
        fetchedUrls: [],
        productVectors: good.map((p) => ({ productId: p.id, imageHashes: p.images.map((i) => i.hash), vector: p.vector })),
      };
      const added = new Set<string>();
      for (const p of good) {
        p.images.forEach(({ hash, bytes, url, fetched }, i) => {
          if (fetched) write.fetchedUrls!.push(fetched);
          if (added.has(hash)) return;
          added.add(hash);
          if (!stored.has(hash)) write.imageVectors.push({ hash, vector: p.vectors[i] });
          // Inline images are kept: a later model change has no URL to fetch them from.
          if (url === null && bytes) write.imageBytes.push({ hash, bytes });
        });
      }
      if (role === 'active') {
        const current = await this.current();
        write.tags = { productIds: good.map((p) => p.id), tags: good.flatMap((p) => this.autoTags(p.id, p.vector, current)) };
      }
      await this.storeCall(() => this.store.saveProducts(write));
    }
    const products = new Map((await this.getProducts(good.map((p) => p.id))).map((row) => [row.id, row]));
    return withVectors.map((p) => {
      if (p instanceof FieldError) return { ok: false, error: p };
      const product = products.get(p.id);
      if (!product)
        throw new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, `product ${JSON.stringify(p.id)} was not found after it was stored.`);
      return { ok: true, product };
    });
  }

  /**
   * Each distinct image's vector once: a stored one as it is, the others embedded, concurrent asks
   * for one hash sharing one embedding. Bytes may be null only for a hash with a stored vector.
   */
  private embedOnce(
    stored: Map<string, Float32Array>,
    signal?: AbortSignal,
  ): (hash: string, bytes: Uint8Array | null) => Promise<Float32Array> {
    const embedded = new Map<string, Promise<Float32Array>>();
    return (hash, bytes) => {
      const known = stored.get(hash);
      if (known) return Promise.resolve(known);
      let pending = embedded.get(hash);
      if (!pending) {
        // Image vectors are never deleted, so a hash found with a vector a moment ago still has it.
        if (!bytes)
          return Promise.reject(new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, `the vector of image ${hash} is no longer stored.`));
        pending = this.embeddings.embedImage(bytes, signal);
        pending.catch(() => undefined);
        embedded.set(hash, pending);
      }
      return pending;
    };
  }

  /** The last fetches whose content has a stored vector of this model and whose server sent validators: these may be revalidated. */
  private async revalidatable(lastFetches: Map<string, FetchedUrl>): Promise<Map<string, FetchedUrl>> {
    const candidates = [...lastFetches.values()].filter((f) => f.etag !== null || f.lastModified !== null);
    if (candidates.length === 0) return new Map();
    const vectors = await this.storeCall(() =>
      this.store.getImageVectors(
        this.model,
        candidates.map((f) => f.hash),
      ),
    );
    return new Map(candidates.filter((f) => vectors.has(f.hash)).map((f) => [f.url, f]));
  }

  /**
   * An image URL's hash and bytes; only its hash (bytes null) when its server answers a conditional
   * request (HTTP 304) saying it still holds what it held at the last fetch, whose vector is stored:
   * such an image is neither downloaded, nor decoded, nor embedded again. `fetched` is the fetch to
   * record for next time.
   */
  private async fetchUrl(
    url: string,
    field: string[],
    revalidate: Map<string, FetchedUrl>,
    signal?: AbortSignal,
  ): Promise<{ hash: string; bytes: Uint8Array | null; fetched?: FetchedUrl }> {
    const known = revalidate.get(url);
    try {
      const result = await this.intake.fromUrlIfChanged(url, fieldName(field), known, signal);
      if (!result.modified) return { hash: known!.hash, bytes: null };
      const hash = sha256(result.bytes);
      return { hash, bytes: result.bytes, fetched: { url, hash, ...result.validators } };
    } catch (error) {
      throw failure(field, error);
    }
  }

  private async imageBytes(image: ImageSource, field: string[], signal?: AbortSignal): Promise<Uint8Array> {
    const url = image.url ?? undefined;
    const base64 = image.base64 ?? undefined;
    if ((url === undefined) === (base64 === undefined)) {
      throw new FieldError(
        field,
        ErrorCode.BAD_USER_INPUT,
        `${fieldName(field)}: set exactly one of url, base64; ${url === undefined ? 'none is set' : 'url and base64 are set'}.`,
      );
    }
    if (url !== undefined) {
      try {
        return await this.intake.fromUrl(url, fieldName([...field, 'url']), signal);
      } catch (error) {
        throw failure([...field, 'url'], error);
      }
    }
    try {
      return this.intake.fromBase64(base64!);
    } catch (error) {
      throw failure([...field, 'base64'], error);
    }
  }

  /** The products that exist, in the order of `ids`. */
  getProducts(ids: readonly string[]): Promise<ProductRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.storeCall(() => this.store.getProducts([...ids]));
  }

  /** Deletes products with their tags and vectors; returns the ids that existed. */
  deleteProducts(ids: readonly string[]): Promise<string[]> {
    if (ids.length > this.limits.maxProducts)
      throw new FieldError(['ids'], ErrorCode.INPUT_TOO_LARGE, `ids has ${ids.length} items; the limit is ${this.limits.maxProducts}.`);
    if (ids.length === 0) return Promise.resolve([]);
    return this.storeCall(() => this.store.deleteProducts([...ids]));
  }

  /** Products matching `filter`, by id, `first` at a time. */
  listProducts(filter: ProductFilter, first: number, after?: string): Promise<Connection<ProductRow>> {
    this.checkFirst(first);
    this.checkFilter(filter);
    return this.storeCall(() =>
      readConnection((n, a) => this.store.listProducts(filter, n, a), first, after, { field: 'after', maxFirst: this.limits.maxFirst }),
    );
  }

  /** Every tag of these products, by product id. */
  getTags(productIds: readonly string[]): Promise<Map<string, TagRow[]>> {
    return this.storeCall(() => this.store.getTags([...productIds]));
  }

  /**
   * Replaces the manual tags of one product's facet (an empty list removes them, and the facet's
   * automatic tag comes back at the next re-tagging). A manual tag scores 1; its similarity is the
   * product vector's with the label's.
   */
  async setManualTags(productId: string, facetName: string, labels: readonly string[]): Promise<ProductRow> {
    const [product] = await this.getProducts([productId]);
    if (!product)
      throw new FieldError(['productId'], ErrorCode.NOT_FOUND, `productId: no product has the id ${JSON.stringify(productId)}.`);
    await this.requireActive(['productId'], 'setting tags (their similarity is the stored vector against the label)');
    const current = await this.current();
    const f = current?.taxonomy.facets.findIndex((facet) => facet.name === facetName) ?? -1;
    if (!current || f < 0)
      throw new FieldError(['facet'], ErrorCode.BAD_USER_INPUT, `facet: the taxonomy has no facet named ${JSON.stringify(facetName)}.`);
    const { facet, labelVectors } = current.facets[f];
    const unique = [...new Set(labels.map((l) => l.trim()))];
    if (facet.mode === 'single' && unique.length > 1)
      throw new FieldError(
        ['labels'],
        ErrorCode.BAD_USER_INPUT,
        `labels: facet ${JSON.stringify(facet.name)} is SINGLE and takes one label, not ${unique.length}.`,
      );
    const missing = unique.findIndex((l) => !facet.labels.includes(l));
    if (missing >= 0)
      throw new FieldError(
        ['labels', String(missing)],
        ErrorCode.BAD_USER_INPUT,
        `labels[${missing}]: facet ${JSON.stringify(facet.name)} has no label ${JSON.stringify(unique[missing])}.`,
      );
    const vector = await this.storeCall(() => this.store.getProductVector(this.model, productId));
    await this.storeCall(() =>
      this.store.setManualTags(
        productId,
        facet.name,
        unique.map((label) => ({
          label,
          score: 1,
          similarity: vector ? dot(vector, labelVectors[facet.labels.indexOf(label)]) : 0,
          needsReview: false,
          model: this.key,
          taxonomyVersion: current.taxonomy.version,
        })),
      ),
    );
    return product;
  }

  // ---- tagging jobs ---------------------------------------------------------------------------

  /** Calls `listener` whenever a tagging job is made. */
  onJobStarted(listener: () => void): void {
    this.jobListeners.push(listener);
  }

  /**
   * Makes a job that works through the products matching `filter` in the background (see jobs.ts):
   * without `reembed`, re-tags them from their stored vectors; with it, embeds their images again
   * (URLs fetched again, so images changed at the same URL are picked up) and re-tags them. On a
   * gateway whose model is not the catalogue's, `reembed` is a model change instead, over the
   * whole catalogue (see init). The same idempotency key returns the job it made first.
   */
  async startTaggingJob(filter: ProductFilter, reembed: boolean, idempotencyKey?: string | null): Promise<JobRow> {
    this.checkFilter(filter);
    if (idempotencyKey !== undefined && idempotencyKey !== null && (idempotencyKey.trim() === '' || idempotencyKey.length > 200))
      throw new FieldError(['idempotencyKey'], ErrorCode.BAD_USER_INPUT, 'idempotencyKey must be 1 to 200 characters, not blank.');
    const { role, state } = await this.role();
    if (reembed && role !== 'active') {
      if (Object.values(filter).some((v) => v !== undefined))
        throw new FieldError(
          ['filter'],
          ErrorCode.BAD_USER_INPUT,
          `filter: this gateway's model ${this.key} is not the catalogue's, so reembed is a model change, which covers the whole catalogue; leave filter out.`,
        );
      return this.startModelChange(idempotencyKey);
    }
    // A tagging job is the active model's: gateways serving it take its chunks.
    const model = reembed ? this.model : (state.active ?? this.model);
    const { job, created } = await this.storeCall(() =>
      this.store.createJob({ filter, reembed, model, idempotencyKey: idempotencyKey ?? null }),
    );
    if (created) for (const listener of this.jobListeners) listener();
    return job;
  }

  private async startModelChange(idempotencyKey?: string | null): Promise<JobRow> {
    const { job, created } = await this.storeCall(() =>
      this.store.createJob({ filter: {}, reembed: true, model: this.model, idempotencyKey: idempotencyKey ?? null }),
    );
    if (job.changesModel && job.model !== this.key && (job.status === 'QUEUED' || job.status === 'RUNNING'))
      throw new FieldError(
        ['reembed'],
        ErrorCode.BAD_USER_INPUT,
        `reembed: a model change to ${job.model} is under way (job ${job.id}); cancel it before changing to ${this.key}.`,
      );
    if (created) for (const listener of this.jobListeners) listener();
    return job;
  }

  getTaggingJob(id: string): Promise<JobRow | undefined> {
    return this.storeCall(() => this.store.getJob(id));
  }

  /** The newest tagging jobs, newest first. */
  listTaggingJobs(first: number): Promise<JobRow[]> {
    this.checkFirst(first);
    return this.storeCall(() => this.store.listJobs(first));
  }

  /** Cancels a QUEUED or RUNNING job; a finished one is returned as it is. */
  async cancelTaggingJob(id: string): Promise<JobRow> {
    const job = await this.storeCall(() => this.store.cancelJob(id));
    if (!job) throw new FieldError(['id'], ErrorCode.NOT_FOUND, `id: no tagging job has the id ${JSON.stringify(id)}.`);
    return job;
  }

  /**
   * The automatic tags of a chunk's products, from their stored vectors and the current taxonomy
   * (no image is embedded). A product deleted since the chunk was cut counts as processed with
   * nothing to tag; one without a vector of this model fails alone.
   */
  async tagChunk(productIds: readonly string[]): Promise<ChunkOutcome> {
    const current = await this.current();
    const existing = new Set((await this.getProducts(productIds)).map((p) => p.id));
    const vectors = await this.storeCall(() => this.store.getProductVectors(this.model, [...productIds]));
    const tagged: string[] = [];
    const errors: JobError[] = [];
    let gone = 0;
    for (const id of productIds) {
      if (!existing.has(id)) gone++;
      else if (vectors.has(id)) tagged.push(id);
      else
        errors.push({
          field: ['products', id],
          code: ErrorCode.NOT_FOUND,
          message: `products[${JSON.stringify(id)}] has no stored vector of model ${this.key}; upsert it again to embed its images.`,
        });
    }
    const tags = await this.autoTagsMany(
      tagged.map((productId) => ({ productId, vector: vectors.get(productId)! })),
      current,
    );
    return { productIds: tagged, tags, processed: tagged.length + gone, failed: errors.length, errors };
  }

  /**
   * A re-embedding job's chunk: each product's images embedded with this gateway's model, its
   * vector, and (when this model is the active one) its tags. An image whose stored bytes already
   * have a vector of this model is not embedded again; URL images are fetched again unless that
   * vector is there for a model change (a refresh wants to see changed images). A product whose
   * fetched images differ from the stored ones is stored with the new hashes. A product that fails
   * fails alone; one deleted since the cut counts as processed.
   */
  async embedChunk(chunk: Pick<JobChunk, 'productIds' | 'changesModel'>, signal?: AbortSignal): Promise<ChunkOutcome> {
    const { role } = await this.role();
    const products = await this.getProducts(chunk.productIds);
    const hashes = products.flatMap((p) => p.imageHashes);
    const urls = products.flatMap((p) => p.imageUrls.filter((u): u is string => u !== null));
    const revalidate = await this.revalidatable(await this.storeCall(() => this.store.getFetchedUrls(urls)));
    const [stored, kept] = await this.storeCall(() =>
      Promise.all([
        this.store.getImageVectors(this.model, [...hashes, ...[...revalidate.values()].map((f) => f.hash)]),
        this.store.getImageBytes(hashes),
      ]),
    );
    const fetchedUrls: FetchedUrl[] = [];
    const embed = this.embedOnce(stored, signal);
    const results = await Promise.all(
      products.map(async (product) => {
        const field = ['products', product.id];
        try {
          const images = await Promise.all(
            product.imageHashes.map(async (hash, i) => {
              const url = product.imageUrls[i];
              const name = `products[${JSON.stringify(product.id)}].images[${i}]`;
              const known = stored.get(hash);
              if (known && (chunk.changesModel || url === null)) return { hash, vector: known };
              let bytes: Uint8Array;
              if (url !== null) {
                const got = await this.fetchUrl(url, [...field, 'images', String(i), 'url'], revalidate, signal);
                if (got.fetched) fetchedUrls.push(got.fetched);
                if (!got.bytes) return { hash: got.hash, vector: stored.get(got.hash)! };
                bytes = got.bytes;
              } else {
                const found = kept.get(hash);
                if (!found)
                  throw new FieldError(
                    [...field, 'images', String(i)],
                    ErrorCode.NOT_FOUND,
                    `${name} was given inline before the catalogue kept image bytes, so it cannot be embedded again; upsert the product again.`,
                  );
                bytes = found;
              }
              const fresh = sha256(bytes);
              try {
                return { hash: fresh, vector: await embed(fresh, bytes) };
              } catch (error) {
                throw failure([...field, 'images', String(i)], error);
              }
            }),
          );
          return { ok: true as const, product, images, vector: meanUnitVector(images.map((i) => i.vector)) };
        } catch (error) {
          const problem = failure(field, error);
          return { ok: false as const, error: { field: problem.field, code: problem.code, message: problem.message } };
        }
      }),
    );
    const now = this.now().toISOString();
    const write: Omit<ProductsWrite, 'tags'> = {
      model: this.model,
      products: [],
      imageVectors: [],
      imageBytes: [],
      fetchedUrls,
      productVectors: [],
    };
    const errors: JobError[] = [];
    const done: { id: string; vector: Float32Array }[] = [];
    const added = new Set(stored.keys());
    for (const result of results) {
      if (!result.ok) {
        errors.push(result.error);
        continue;
      }
      const { product, images, vector } = result;
      const imageHashes = images.map((i) => i.hash);
      if (imageHashes.some((h, i) => h !== product.imageHashes[i])) write.products.push({ ...product, imageHashes, updatedAt: now });
      for (const { hash, vector: v } of images) {
        if (!added.has(hash)) write.imageVectors.push({ hash, vector: v });
        added.add(hash);
      }
      write.productVectors.push({ productId: product.id, imageHashes, vector });
      done.push({ id: product.id, vector });
    }
    const current = role === 'active' ? await this.current() : undefined;
    const gone = chunk.productIds.length - products.length;
    return {
      productIds: current ? done.map((d) => d.id) : [],
      tags: current
        ? await this.autoTagsMany(
            done.map((d) => ({ productId: d.id, vector: d.vector })),
            current,
          )
        : [],
      write,
      processed: done.length + gone,
      failed: errors.length,
      errors,
    };
  }

  // ---- search ---------------------------------------------------------------------------------

  /** Products nearest a text, an image or another product (itself excluded), best first, among those matching `filter`. */
  async search(query: SearchQuery, filter: ProductFilter, first: number, signal?: AbortSignal): Promise<ProductHit[]> {
    this.checkFirst(first);
    this.checkFilter(filter);
    const set = (['text', 'image', 'productId'] as const).filter((k) => query[k] !== undefined && query[k] !== null);
    if (set.length !== 1)
      throw new FieldError(
        ['query'],
        ErrorCode.BAD_USER_INPUT,
        `query: set exactly one of text, image, productId; ${set.length === 0 ? 'none is set' : `${set.join(' and ')} are set`}.`,
      );
    let vector: Float32Array;
    let exclude: string | undefined;
    // Search runs on the active model's vectors; a text or an image must be embedded by that model.
    const { role, state } = await this.role();
    const searched = state.active ?? this.model;
    if (query.productId === undefined || query.productId === null) {
      if (role !== 'active') throw this.mismatch(['query'], state, 'search by text or image');
    }
    if (query.text !== undefined && query.text !== null) {
      try {
        vector = await this.embeddings.embedText(query.text, signal);
      } catch (error) {
        throw failure(['query', 'text'], error);
      }
    } else if (query.image) {
      const bytes = await this.imageBytes(query.image, ['query', 'image'], signal);
      try {
        vector = await this.embeddings.embedImage(bytes, signal);
      } catch (error) {
        throw failure(['query', 'image'], error);
      }
    } else {
      exclude = query.productId!;
      const found = await this.storeCall(() => this.store.getProductVector(searched, exclude!));
      if (!found)
        throw new FieldError(
          ['query', 'productId'],
          ErrorCode.NOT_FOUND,
          `query.productId: no product has the id ${JSON.stringify(exclude)}.`,
        );
      vector = found;
    }
    const hits = await this.storeCall(() => this.store.searchProducts(searched, vector, first + (exclude === undefined ? 0 : 1), filter));
    const kept = hits.filter((h) => h.productId !== exclude).slice(0, first);
    return this.withProducts(kept);
  }

  /**
   * The products nearest one product (itself excluded), best first; none when the catalogue has
   * no vector for it under the active model (not stored, or not yet embedded by it).
   */
  async similarProducts(productId: string, first: number): Promise<ProductHit[]> {
    this.checkFirst(first);
    const { state } = await this.role();
    const searched = state.active ?? this.model;
    const vector = await this.storeCall(() => this.store.getProductVector(searched, productId));
    if (!vector) return [];
    const hits = await this.storeCall(() => this.store.searchProducts(searched, vector, first + 1, {}));
    return this.withProducts(hits.filter((h) => h.productId !== productId).slice(0, first));
  }

  /** The products with the highest score for one label, best first. */
  async labelTopProducts(facet: string, label: string, first: number): Promise<ProductHit[]> {
    this.checkFirst(first);
    return this.withProducts(await this.storeCall(() => this.store.labelTopProducts(facet, label, first)));
  }

  /** Automatic tags marked for review, by (product, facet, label). */
  tagsForReview(first: number, after?: string): Promise<Connection<TagRow>> {
    this.checkFirst(first);
    return this.storeCall(() =>
      readConnection((n, a) => this.store.tagsForReview(n, a), first, after, { field: 'after', maxFirst: this.limits.maxFirst }),
    );
  }

  private async withProducts(hits: { productId: string; score: number }[]): Promise<ProductHit[]> {
    const products = new Map((await this.getProducts(hits.map((h) => h.productId))).map((p) => [p.id, p]));
    // A product deleted between the two reads is left out.
    return hits.flatMap((h) => {
      const product = products.get(h.productId);
      return product ? [{ product, score: h.score }] : [];
    });
  }

  private checkFirst(first: number): void {
    if (!Number.isInteger(first) || first < 1 || first > this.limits.maxFirst)
      throw new FieldError(['first'], ErrorCode.BAD_USER_INPUT, `first must be from 1 to ${this.limits.maxFirst}: ${first}.`);
  }

  private checkFilter(filter: ProductFilter): void {
    const ids = filter.ids?.length ?? 0;
    if (ids > this.limits.maxProducts)
      throw new FieldError(
        ['filter', 'ids'],
        ErrorCode.INPUT_TOO_LARGE,
        `filter.ids has ${ids} items; the limit is ${this.limits.maxProducts}.`,
      );
  }

  /** Runs a store call, turning its failures into errors a client can read. */
  private async storeCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw fromStoreError(error);
    }
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Any failure of one field's work as a FieldError naming that field (a more precise one is kept). */
function failure(field: string[], error: unknown): FieldError {
  if (error instanceof FieldError) return error;
  const name = fieldName(field);
  if (error instanceof InputError) return new FieldError(field, error.code, `${name}: ${error.reason}`, { cause: error.cause });
  if (error instanceof GatewayError) return new FieldError(field, error.code, `${name}: ${error.message}`, { cause: error.cause ?? error });
  return new FieldError(field, ErrorCode.INTERNAL_SERVER_ERROR, `${name} could not be processed because of an internal error.`, {
    cause: error,
  });
}
