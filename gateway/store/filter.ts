import type { ProductFilter } from './port';

/** What a ProductFilter asks, read the same way by every adapter before it writes the filter as SQL. */

/** True when the filter names at least one condition (an empty ids list is one: it matches nothing). */
export function hasConditions(filter: ProductFilter | undefined): filter is ProductFilter {
  if (!filter) return false;
  return filter.ids !== undefined || (filter.tags !== undefined && filter.tags.length > 0) || attributeEntries(filter).length > 0;
}

/** The attribute conditions that say something (a value of undefined is no condition, as in JSON). */
export function attributeEntries(filter: ProductFilter): [string, unknown][] {
  return Object.entries(filter.attributes ?? {}).filter(([, value]) => value !== undefined);
}

/** SQL conditions ANDed as a WHERE clause (nothing for none): the same in both dialects. */
export function where(conditions: readonly string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}
