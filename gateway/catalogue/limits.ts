import { ErrorCode } from '../common/errors';
import type { ProductFilter } from '../store';
import { FieldError } from './errors';
import type { TaxonomyLimits } from './taxonomy';

export interface CatalogueLimits extends TaxonomyLimits {
  /** Most products in one upsert or delete, and most ids in a filter. */
  maxProducts: number;
  /** Most images of one product. */
  maxImagesPerProduct: number;
  /** Largest page or result list a caller may ask for. */
  maxFirst: number;
  /**
   * Largest file productsImport reads, in bytes (env CATALOGUE_MAX_IMPORT_BYTES). Default 256 MiB:
   * a Shopify export of some 100,000 products. The file is spooled to disk as it arrives; its
   * products are held in memory while the request reads them into the job.
   */
  maxImportBytes: number;
  /** The folder of Shopify's attribute files that attribute facets come from (attributes.json, attribute_values.json, verticals/). Default the shipped taxonomies/shopify-2025-08. */
  attributeTaxonomyDir?: string;
}

export const DEFAULT_CATALOGUE_LIMITS: CatalogueLimits = {
  maxFacets: 32,
  maxLabels: 1_000,
  maxTemplates: 32,
  // Shopify's whole taxonomy (10,595 categories) with room for a shop's own additions.
  maxTreeNodes: 20_000,
  maxProducts: 256,
  maxImagesPerProduct: 10,
  maxFirst: 500,
  maxImportBytes: 256 * 1024 * 1024,
};

export function checkFirst(first: number, limits: Pick<CatalogueLimits, 'maxFirst'>): void {
  if (!Number.isInteger(first) || first < 1 || first > limits.maxFirst)
    throw new FieldError(['first'], ErrorCode.BAD_USER_INPUT, `first must be from 1 to ${limits.maxFirst}: ${first}.`);
}

export function checkFilter(filter: ProductFilter, limits: Pick<CatalogueLimits, 'maxProducts'>): void {
  const ids = filter.ids?.length ?? 0;
  if (ids > limits.maxProducts)
    throw new FieldError(['filter', 'ids'], ErrorCode.INPUT_TOO_LARGE, `filter.ids has ${ids} items; the limit is ${limits.maxProducts}.`);
}
