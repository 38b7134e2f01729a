import { meanUnitVector } from '../../functions/clip';
import { ErrorCode } from '../common/errors';
import type { CatalogueStore, ChunkOutcome, FetchedUrl, JobChunk, JobError, ProductRow, ProductsWrite } from '../store';
import { failure, FieldError, storeCall } from './errors';
import type { Images } from './images';
import type { Labels } from './labels';
import type { ModelRoles } from './models';
import type { Products } from './products';

export interface ChunkParts {
  store: CatalogueStore;
  models: ModelRoles;
  labels: Labels;
  images: Images;
  products: Products;
  now: () => Date;
}

/** A product of a re-embedding chunk: its images' hashes and vectors, and its own vector; or why it failed. */
type Reembedded =
  | { ok: true; product: ProductRow; images: { hash: string; vector: Float32Array }[]; vector: Float32Array }
  | { ok: false; error: JobError };

/** The work of a tagging job's chunk (the runner in jobs.ts claims and completes it): its products' tags, and their vectors when it re-embeds. */
export class Chunks {
  constructor(private readonly parts: ChunkParts) {}

  /**
   * The automatic tags of a chunk's products, from their stored vectors and the current taxonomy
   * (no image is embedded). A product deleted since the chunk was cut counts as processed with
   * nothing to tag; one without a vector of this model fails alone. The products and their vectors
   * come in one read, as one block the tagging scores without copying them apart.
   */
  async tagChunk(productIds: readonly string[]): Promise<ChunkOutcome> {
    const { store, models, labels } = this.parts;
    const current = await labels.current();
    const { ids, vectors, withoutVector } = await storeCall(() => store.getProductVectorBlock(models.model, [...productIds]));
    const errors: JobError[] = withoutVector.map((id) => ({
      field: ['products', id],
      code: ErrorCode.NOT_FOUND,
      message: `products[${JSON.stringify(id)}] has no stored vector of model ${models.key}; upsert it again to embed its images.`,
    }));
    const gone = new Set(productIds).size - ids.length - withoutVector.length;
    const dim = models.model.dim;
    const tags = await labels.autoTagsMany(
      ids.map((productId, i) => ({ productId, vector: vectors.subarray(i * dim, (i + 1) * dim) })),
      current,
    );
    return { productIds: ids, tags, processed: ids.length + gone, failed: errors.length, errors };
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
    const { store, models, images } = this.parts;
    const { role } = await models.role();
    const products = await this.parts.products.get(chunk.productIds);
    const hashes = products.flatMap((p) => p.imageHashes);
    const urls = products.flatMap((p) => p.imageUrls.filter((u): u is string => u !== null));
    const revalidate = await images.lastFetches(urls);
    const [stored, kept] = await storeCall(() =>
      Promise.all([
        store.getImageVectors(models.model, [...hashes, ...[...revalidate.values()].map((f) => f.hash)]),
        store.getImageBytes(hashes),
      ]),
    );
    const fetchedUrls: FetchedUrl[] = [];
    const embed = images.embedOnce(stored, signal);
    const results = await Promise.all(
      products.map(async (product): Promise<Reembedded> => {
        const field = ['products', product.id];
        try {
          const vectors = await Promise.all(
            product.imageHashes.map(async (hash, i) => {
              const url = product.imageUrls[i];
              const name = `products[${JSON.stringify(product.id)}].images[${i}]`;
              const known = stored.get(hash);
              if (known && (chunk.changesModel || url === null)) return { hash, vector: known };
              // The bytes, and the hash they have: a fetch hashes what it got; kept bytes are stored by their hash.
              let read: { hash: string; bytes: Uint8Array };
              if (url !== null) {
                const got = await images.fetchUrl(url, [...field, 'images', String(i), 'url'], revalidate, signal);
                if (got.fetched) fetchedUrls.push(got.fetched);
                if (!got.bytes) return { hash: got.hash, vector: stored.get(got.hash)! };
                read = { hash: got.hash, bytes: got.bytes };
              } else {
                const found = kept.get(hash);
                if (!found)
                  throw new FieldError(
                    [...field, 'images', String(i)],
                    ErrorCode.NOT_FOUND,
                    `${name} was given inline before the catalogue kept image bytes, so it cannot be embedded again; upsert the product again.`,
                  );
                read = { hash, bytes: found };
              }
              try {
                return { hash: read.hash, vector: await embed(read.hash, read.bytes) };
              } catch (error) {
                throw failure([...field, 'images', String(i)], error);
              }
            }),
          );
          return { ok: true, product, images: vectors, vector: meanUnitVector(vectors.map((i) => i.vector)) };
        } catch (error) {
          const problem = failure(field, error);
          return { ok: false, error: { field: problem.field, code: problem.code, message: problem.message } };
        }
      }),
    );
    return this.outcome(chunk, products.length, results, stored, fetchedUrls, role === 'active');
  }

  /** What a re-embedding chunk writes with its completion, its tags (`tag`: when this model is the active one) and its counts. */
  private async outcome(
    chunk: Pick<JobChunk, 'productIds'>,
    found: number,
    results: Reembedded[],
    stored: Map<string, Float32Array>,
    fetchedUrls: FetchedUrl[],
    tag: boolean,
  ): Promise<ChunkOutcome> {
    const { models, labels } = this.parts;
    const now = this.parts.now().toISOString();
    const write: Omit<ProductsWrite, 'tags'> = {
      model: models.model,
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
    const current = tag ? await labels.current() : undefined;
    const gone = chunk.productIds.length - found;
    return {
      productIds: current ? done.map((d) => d.id) : [],
      tags: current
        ? await labels.autoTagsMany(
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
}
