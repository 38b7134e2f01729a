// Catalogue arguments as clients write them, turned into what the CatalogueService takes.
import type { Connection, ProductFilter as StoreFilter } from '../../catalogue';
import { PageInfo } from './connection.type';
import type { ProductFilter } from './product.input';

export function storeFilter(filter: ProductFilter | null | undefined): StoreFilter {
  if (!filter) return {};
  return {
    ...(filter.ids ? { ids: filter.ids } : {}),
    ...(filter.tags ? { tags: filter.tags.map(({ facet, label }) => ({ facet, label })) } : {}),
    ...(filter.attributes ? { attributes: filter.attributes } : {}),
  };
}

export function pageInfo(connection: Connection<unknown>): PageInfo {
  return Object.assign(new PageInfo(), { hasNextPage: connection.hasNextPage, endCursor: connection.endCursor ?? null });
}
