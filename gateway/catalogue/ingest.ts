import { meanUnitVector } from '../../functions/clip';
import { ErrorCode, GatewayError } from '../common/errors';
import type { CatalogueStore, ProductRow, ProductsWrite } from '../store';
import { failure, FieldError, storeCall } from './errors';
import type { ImageSource, Images, ReadImage } from './images';
import type { Labels } from './labels';
import type { CatalogueLimits } from './limits';
import type { ModelRoles } from './models';
import type { Products } from './products';

export interface ProductInput {
  id: string;
  title?: string | null;
  description?: string | null;
  images: ImageSource[];
  attributes?: Record<string, unknown> | null;
}

/** What one product of an upsert became: the stored product, or why it was not stored. */
export type UpsertResult = { ok: true; product: ProductRow } | { ok: false; error: FieldError };

/** A product whose input is sound and whose images are read. */
interface Prepared {
  input: ProductInput;
  id: string;
  images: ReadImage[];
}

/** A prepared product with each image's vector and its own (their normalised mean). */
interface Embedded extends Prepared {
  vectors: Float32Array[];
  vector: Float32Array;
}

export interface IngestParts {
  store: CatalogueStore;
  models: ModelRoles;
  labels: Labels;
  images: Images;
  products: Products;
  limits: CatalogueLimits;
  now: () => Date;
}

/** Products coming in: checked, their images read and embedded, and stored with their vectors and tags in one transaction. */
export class Ingest {
  constructor(private readonly parts: IngestParts) {}

  /**
   * Stores products by id (an existing one is replaced), with their image vectors, their search
   * vector (the normalised mean of their images') and their automatic tags. An image whose bytes
   * already have a stored vector for this model is not embedded again. One product that fails
   * (a bad image, a repeated id) fails alone; the results are in input order.
   */
  async upsertProducts(inputs: readonly ProductInput[], signal?: AbortSignal): Promise<UpsertResult[]> {
    const { models, limits, images } = this.parts;
    if (inputs.length > limits.maxProducts)
      throw new FieldError(
        ['products'],
        ErrorCode.INPUT_TOO_LARGE,
        `products has ${inputs.length} items; the limit is ${limits.maxProducts}.`,
      );
    // Vectors of this gateway's model are stored; tags only when they are the ones searched.
    const { role, state } = await models.role();
    if (role === 'other') throw models.mismatch(['products'], state, 'upserting products');
    // 0. What each URL held when last fetched, and whether its vector is stored: a conditional fetch may then do.
    const urls = inputs.flatMap((input) => input.images.flatMap((image) => (image.url ? [image.url] : [])));
    const revalidate = await images.lastFetches(urls);
    // 1. Arguments and image bytes, product by product.
    const seen = new Map<string, number>();
    const prepared = await Promise.all(
      inputs.map(async (input, p) => {
        try {
          const id = this.checkInput(input, p, seen);
          const read = await Promise.all(
            input.images.map((image, i) => images.read(image, ['products', String(p), 'images', String(i)], revalidate, signal)),
          );
          return { input, id, images: read };
        } catch (error) {
          return failure(['products', String(p)], error);
        }
      }),
    );
    // 2. Vectors: stored ones by content hash; the others embedded, each distinct image once.
    const { withVectors, stored } = await this.embed(prepared, signal);
    // 3. Everything that succeeded, stored in one transaction.
    const good = withVectors.filter((p): p is Embedded => !(p instanceof FieldError));
    if (good.length > 0) await this.save(good, stored, role === 'active');
    const products = new Map((await this.parts.products.get(good.map((p) => p.id))).map((row) => [row.id, row]));
    return withVectors.map((p) => {
      if (p instanceof FieldError) return { ok: false, error: p };
      const product = products.get(p.id);
      if (!product)
        throw new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, `product ${JSON.stringify(p.id)} was not found after it was stored.`);
      return { ok: true, product };
    });
  }

  /** The product's id, trimmed, once its id and image count are sound; `seen` holds the ids before it. */
  private checkInput(input: ProductInput, p: number, seen: Map<string, number>): string {
    const { limits } = this.parts;
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
    if (input.images.length > limits.maxImagesPerProduct)
      throw new FieldError(
        ['products', String(p), 'images'],
        ErrorCode.INPUT_TOO_LARGE,
        `products[${p}].images has ${input.images.length} images; the limit is ${limits.maxImagesPerProduct}.`,
      );
    return id;
  }

  /** Each product's vectors; `stored` are those found in the store, which need no writing. */
  private async embed(
    prepared: (Prepared | FieldError)[],
    signal?: AbortSignal,
  ): Promise<{ withVectors: (Embedded | FieldError)[]; stored: Map<string, Float32Array> }> {
    const { store, models, images } = this.parts;
    const hashes = [...new Set(prepared.flatMap((p) => (p instanceof FieldError ? [] : p.images.map((i) => i.hash))))];
    const stored = await storeCall(() => store.getImageVectors(models.model, hashes));
    const embed = images.embedOnce(stored, signal);
    const withVectors = await Promise.all(
      prepared.map(async (p, index) => {
        if (p instanceof FieldError) return p;
        try {
          const vectors = await Promise.all(
            p.images.map(async ({ bytes, hash, source }, i) => {
              try {
                return await embed(hash, bytes);
              } catch (error) {
                throw failure(['products', String(index), 'images', String(i), source], error);
              }
            }),
          );
          return { ...p, vectors, vector: meanUnitVector(vectors) };
        } catch (error) {
          return failure(['products', String(index)], error);
        }
      }),
    );
    return { withVectors, stored };
  }

  /** The products, their new image vectors, kept inline bytes and URL fetches, and (`tag`: when this model is the active one) their tags. */
  private async save(good: Embedded[], stored: Map<string, Float32Array>, tag: boolean): Promise<void> {
    const { store, models, labels } = this.parts;
    const now = this.parts.now().toISOString();
    const write: ProductsWrite = {
      model: models.model,
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
    if (tag) {
      const current = await labels.current();
      const tags = await labels.autoTags(
        good.map((p) => ({ productId: p.id, vector: p.vector })),
        current,
      );
      write.tags = { productIds: good.map((p) => p.id), tags };
    }
    await storeCall(() => store.saveProducts(write));
  }
}
