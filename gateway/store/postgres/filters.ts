import { attributeEntries } from '../filter';
import type { ProductFilter } from '../port';

/** Product filters as PostgreSQL conditions, with numbered parameters. */

/** Collects parameter values and hands out their `$n` placeholders. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown, cast = ''): string {
    this.values.push(value);
    return `$${this.values.length}${cast}`;
  }
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

/**
 * The SQL conditions of a filter, ANDed by the caller; empty when it filters nothing.
 * `idColumn` is the product id column of the query (`p.id`, `v.product_id`); `attributesColumn` is
 * `p.attributes` of a products row joined to it, needed only when the filter has attributes.
 */
export function filterConditions(
  filter: ProductFilter,
  params: Params,
  names: { idColumn: string; attributesColumn: string; tags: string },
): string[] {
  const conditions: string[] = [];
  if (filter.ids) conditions.push(`${names.idColumn} = ANY(${params.add(filter.ids, '::text[]')})`);
  for (const t of filter.tags ?? []) {
    conditions.push(
      `EXISTS (SELECT 1 FROM ${names.tags} t WHERE t.product_id = ${names.idColumn} AND t.facet = ${params.add(t.facet)} AND t.label = ${params.add(t.label)})`,
    );
  }
  const attributes = attributeEntries(filter);
  if (attributes.length > 0) {
    // Containment finds the candidates through the GIN index and is equality for scalars; for an
    // array or object value it would also accept a superset, so those are compared whole as well.
    conditions.push(`${names.attributesColumn} @> ${params.add(JSON.stringify(Object.fromEntries(attributes)), '::jsonb')}`);
    for (const [key, value] of attributes) {
      if (!isScalar(value))
        conditions.push(`${names.attributesColumn} -> ${params.add(key)} = ${params.add(JSON.stringify(value), '::jsonb')}`);
    }
  }
  return conditions;
}
