import { ErrorCode } from '../common/errors';
import type { CatalogueStore, ProductFilter, TagRow } from '../store';
import { readConnection, type Connection } from './cursor';
import type { Embedder } from './embedder';
import { failure, FieldError, storeCall } from './errors';
import type { ImageSource, Images } from './images';
import type { Labels } from './labels';
import { checkFilter, checkFirst, type CatalogueLimits } from './limits';
import type { ModelRoles } from './models';
import type { ProductHit, Products } from './products';

/** One search: exactly one of the three. */
export interface SearchQuery {
  text?: string | null;
  image?: ImageSource | null;
  productId?: string | null;
}

export interface SearchParts {
  store: CatalogueStore;
  embeddings: Embedder;
  models: ModelRoles;
  labels: Labels;
  images: Images;
  products: Products;
  limits: CatalogueLimits;
}

/** Finding products: nearest a query by vector, best for a label by tag score, and tags waiting for review. */
export class Search {
  constructor(private readonly parts: SearchParts) {}

  /** Products nearest a text, an image or another product (itself excluded), best first, among those matching `filter`. */
  async search(query: SearchQuery, filter: ProductFilter, first: number, signal?: AbortSignal): Promise<ProductHit[]> {
    const { store, embeddings, models, images, limits } = this.parts;
    checkFirst(first, limits);
    checkFilter(filter, limits);
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
    const { role, state } = await models.role();
    const searched = state.active ?? models.model;
    if (query.productId === undefined || query.productId === null) {
      if (role !== 'active') throw models.mismatch(['query'], state, 'search by text or image');
    }
    if (query.text !== undefined && query.text !== null) {
      try {
        vector = await embeddings.embedText(query.text, signal);
      } catch (error) {
        throw failure(['query', 'text'], error);
      }
    } else if (query.image) {
      const bytes = await images.bytesOf(query.image, ['query', 'image'], signal);
      try {
        vector = await embeddings.embedImage(bytes, signal);
      } catch (error) {
        throw failure(['query', 'image'], error);
      }
    } else {
      exclude = query.productId!;
      const found = await storeCall(() => store.getProductVector(searched, exclude!));
      if (!found)
        throw new FieldError(
          ['query', 'productId'],
          ErrorCode.NOT_FOUND,
          `query.productId: no product has the id ${JSON.stringify(exclude)}.`,
        );
      vector = found;
    }
    const hits = await storeCall(() => store.searchProducts(searched, vector, first + (exclude === undefined ? 0 : 1), filter));
    const kept = hits.filter((h) => h.productId !== exclude).slice(0, first);
    return this.parts.products.withProducts(kept);
  }

  /**
   * The products nearest one product (itself excluded), best first; none when the catalogue has
   * no vector for it under the active model (not stored, or not yet embedded by it).
   */
  async similarProducts(productId: string, first: number): Promise<ProductHit[]> {
    const { store, models, products, limits } = this.parts;
    checkFirst(first, limits);
    const { state } = await models.role();
    const searched = state.active ?? models.model;
    const vector = await storeCall(() => store.getProductVector(searched, productId));
    if (!vector) return [];
    const hits = await storeCall(() => store.searchProducts(searched, vector, first + 1, {}));
    return products.withProducts(hits.filter((h) => h.productId !== productId).slice(0, first));
  }

  /** The products with the highest score for one label of the taxonomy, best first; a facet or label it does not have is BAD_USER_INPUT. */
  async labelTopProducts(facet: string, label: string, first: number): Promise<ProductHit[]> {
    const { store, labels, products, limits } = this.parts;
    checkFirst(first, limits);
    await labels.requireLabel(facet, label);
    return products.withProducts(await storeCall(() => store.labelTopProducts(facet, label, first)));
  }

  /** Automatic tags marked for review, by (product, facet, label). */
  tagsForReview(first: number, after?: string): Promise<Connection<TagRow>> {
    const { store, limits } = this.parts;
    checkFirst(first, limits);
    return storeCall(() =>
      readConnection((n, a) => store.tagsForReview(n, a), first, after, { field: 'after', maxFirst: limits.maxFirst }),
    );
  }
}
