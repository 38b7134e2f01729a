import { ErrorCode } from '../common/errors';
import type { CatalogueStore, ProductFilter, ProductRow, TagRow } from '../store';
import { readConnection, type Connection } from './cursor';
import { FieldError, storeCall } from './errors';
import { checkFilter, checkFirst, type CatalogueLimits } from './limits';

export interface ProductHit {
  product: ProductRow;
  score: number;
}

/** Products as stored, read and deleted: no vector is made here. */
export class Products {
  constructor(
    private readonly store: CatalogueStore,
    private readonly limits: CatalogueLimits,
  ) {}

  /** The products that exist, in the order of `ids`. */
  get(ids: readonly string[]): Promise<ProductRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return storeCall(() => this.store.getProducts([...ids]));
  }

  /** Deletes products with their tags and vectors; returns the ids that existed. */
  delete(ids: readonly string[]): Promise<string[]> {
    if (ids.length > this.limits.maxProducts)
      throw new FieldError(['ids'], ErrorCode.INPUT_TOO_LARGE, `ids has ${ids.length} items; the limit is ${this.limits.maxProducts}.`);
    if (ids.length === 0) return Promise.resolve([]);
    return storeCall(() => this.store.deleteProducts([...ids]));
  }

  /** Products matching `filter`, by id, `first` at a time. */
  list(filter: ProductFilter, first: number, after?: string): Promise<Connection<ProductRow>> {
    checkFirst(first, this.limits);
    checkFilter(filter, this.limits);
    return storeCall(() =>
      readConnection((n, a) => this.store.listProducts(filter, n, a), first, after, { field: 'after', maxFirst: this.limits.maxFirst }),
    );
  }

  /** Every tag of these products, by product id. */
  tags(productIds: readonly string[]): Promise<Map<string, TagRow[]>> {
    return storeCall(() => this.store.getTags([...productIds]));
  }

  /** Hits with their products, in order; a product deleted between the two reads is left out. */
  async withProducts(hits: { productId: string; score: number }[]): Promise<ProductHit[]> {
    const products = new Map((await this.get(hits.map((h) => h.productId))).map((p) => [p.id, p]));
    return hits.flatMap((h) => {
      const product = products.get(h.productId);
      return product ? [{ product, score: h.score }] : [];
    });
  }
}
