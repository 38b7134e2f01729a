import { check, integer, nonEmpty } from '../../functions/options';
import { modelKey, StoreError, type ProductsWrite, type RescoredTags, type TagRow, type VectorModel } from './port';

/**
 * What every adapter checks of its arguments before a transaction begins, in one place so that
 * both refuse the same things with the same words: models, vectors, and the parts of a write.
 */

/** Checks a model's description before a store uses it; `maxDim` is the adapter's own limit. */
export function checkVectorModel(model: VectorModel, maxDim = Number.MAX_SAFE_INTEGER): void {
  check('model.name', model?.name, nonEmpty);
  check('model.dtype', model.dtype, nonEmpty);
  check('model.dim', model.dim, integer(1, maxDim));
}

/**
 * Refuses a vector that is not `model.dim` finite numbers (DIMENSION_MISMATCH for the wrong
 * length), and, when it is to be searched (a product vector, a query), the zero vector: cosine
 * similarity is undefined for it (SQLite gives a NULL distance, pgvector NaN, and either would sort
 * the product first).
 */
export function checkVector(model: VectorModel, vector: Float32Array, what: string, searched: boolean): void {
  if (!(vector instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
  if (vector.length !== model.dim) {
    throw new StoreError(
      'DIMENSION_MISMATCH',
      `${what} has ${vector.length} values, but model ${modelKey(model)} makes vectors of ${model.dim}.`,
    );
  }
  let zero = true;
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) throw new TypeError(`${what} must hold finite numbers, got ${vector[i]} at index ${i}`);
    if (vector[i] !== 0) zero = false;
  }
  if (searched && zero) throw new TypeError(`${what} is the zero vector: cosine similarity is undefined for it, so it cannot be searched`);
}

/** checkVector for each row of a batch, named `${name}[i].vector`: one bad vector refuses the whole batch. */
export function checkVectors(model: VectorModel, rows: readonly { vector: Float32Array }[], name: string, searched: boolean): void {
  rows.forEach((row, i) => checkVector(model, row.vector, `${name}[${i}].vector`, searched));
}

/** Checks tags meant to replace the automatic tags of `productIds`: automatic ones, of those products only. */
export function checkAutoTags(productIds: readonly string[], tags: readonly TagRow[]): void {
  const named = new Set(productIds);
  tags.forEach((t, i) => {
    if (t.source !== 'auto') throw new TypeError(`tags[${i}].source must be auto, got ${JSON.stringify(t.source)}`);
    if (!named.has(t.productId)) throw new TypeError(`tags[${i}].productId ${JSON.stringify(t.productId)} is not one of productIds`);
  });
}

/** Checks the automatic tags a manual change brings (RescoredTags): automatic ones, of that product and of the facets named. */
export function checkRescoredTags(productId: string, rescored: RescoredTags): void {
  checkAutoTags([productId], rescored.tags);
  const facets = new Set(rescored.facets);
  rescored.tags.forEach((t, i) => {
    if (!facets.has(t.facet)) throw new TypeError(`rescored.tags[${i}].facet ${JSON.stringify(t.facet)} is not one of rescored.facets`);
  });
}

/** Checks manual tags before their transaction: a label, and a score and a similarity that are finite numbers. */
export function checkManualTags(tags: readonly Pick<TagRow, 'label' | 'score' | 'similarity'>[]): void {
  tags.forEach((t, i) => {
    check(`tags[${i}].label`, t.label, nonEmpty);
    for (const key of ['score', 'similarity'] as const) {
      if (!Number.isFinite(t[key])) throw new TypeError(`tags[${i}].${key} must be a finite number, got ${t[key]}`);
    }
  });
}

/** Checks everything of a write before its transaction: its model, its products' images, its vectors and its tags. */
export function checkProductsWrite(write: ProductsWrite, maxDim?: number): void {
  checkVectorModel(write.model, maxDim);
  checkImageLists(write.products);
  checkVectors(write.model, write.imageVectors, 'imageVectors', false);
  checkVectors(write.model, write.productVectors, 'productVectors', true);
  if (write.tags) checkAutoTags(write.tags.productIds, write.tags.tags);
}

/** Each product has one URL (or null) per image hash. */
export function checkImageLists(products: readonly { imageHashes: string[]; imageUrls: (string | null)[] }[]): void {
  products.forEach((p, i) => {
    if (p.imageUrls.length !== p.imageHashes.length)
      throw new TypeError(`products[${i}] has ${p.imageHashes.length} image hashes but ${p.imageUrls.length} image URLs`);
  });
}
