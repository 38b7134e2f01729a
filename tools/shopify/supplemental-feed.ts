// `merchant-supplemental`: the catalogue's tags as a Google Merchant Center supplemental feed, the text
// (TSV) form: a header row of attribute names, then one row per item. A supplemental feed adds or
// overrides attributes of items a primary feed already has, matched by `id`; it cannot add items,
// and a row whose id is in no primary feed is ignored. So each row's id must be the primary feed's
// item id:
// - by default the product's id, which is the item id of a product imported from a Merchant Center
//   feed without item_group_id, and the handle of one imported from Shopify (a Shopify store's own
//   Google channel uses other ids: shopify_<country>_<product>_<variant>);
// - with --id-attribute NAME, the ids kept in that attribute (a string or a list of strings), one
//   row each: for products grouping several feed items, whose own id is the group's. The Merchant
//   Center import keeps no item ids today, so its grouped products need this.
// Values holding a tab, a line break or a double quote are quoted, a quote doubled (Merchant Center's
// quoted fields, as gateway/imports/merchant-tsv.ts reads them); several labels of one facet are joined
// with `/`, the separator Google's color and material attributes take; an attribute facet's values
// go by their names (label-names.ts).
import { renameSync, writeFileSync } from 'node:fs';

import type { CatalogueStore, ProductRow, TagRow } from '../../gateway/store';
import type { GoogleMapping } from './google-mapping';
import { labelNamesOf, type LabelName } from './label-names';

export const SUPPLEMENTAL_COLUMNS = ['id', 'google_product_category', 'color', 'pattern', 'material'] as const;

export interface SupplementalOptions {
  store: CatalogueStore;
  out: string;
  mapping: GoogleMapping;
  /** Facets read for each column (defaults: category, color, pattern, material). */
  facets: { category: string; color: string; pattern: string; material: string };
  /** The attribute holding the primary feed's item ids of a product (default: none, the product's id). */
  idAttribute?: string;
  /** Products read at once (default 500). */
  pageSize?: number;
}

export interface SupplementalSummary {
  products: number;
  rows: number;
  /** What could not go into the feed as it is, per product. */
  notes: string[];
}

/** One TSV cell: quoted when it holds a tab, a line break or a quote. */
export function tsvCell(value: string): string {
  return /[\t\r\n"]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function idsOf(product: ProductRow, attribute: string | undefined, notes: string[]): string[] {
  if (attribute === undefined) return [product.id];
  const value = product.attributes?.[attribute];
  const ids =
    typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
  if (ids.length > 0) return ids;
  notes.push(`${product.id}: no ${attribute} attribute; its row has the product's own id.`);
  return [product.id];
}

/** The row values of one product (without id), or undefined when it has none of them. */
function valuesOf(
  product: ProductRow,
  tags: TagRow[],
  options: SupplementalOptions,
  nameOf: LabelName,
  notes: string[],
): string[] | undefined {
  const labels = (facet: string) => [...new Set(tags.filter((tag) => tag.facet === facet).map((tag) => tag.label))].sort();
  const named = (facet: string) => [...new Set(labels(facet).map((label) => nameOf(facet, label)))].sort();
  let category = '';
  const categories = labels(options.facets.category);
  if (categories.length > 1)
    notes.push(`${product.id}: ${categories.length} ${options.facets.category} labels; google_product_category left empty.`);
  else if (categories.length === 1) {
    category = options.mapping.googleId(categories[0]) ?? '';
    if (category === '') notes.push(`${product.id}: ${JSON.stringify(categories[0])} maps to no Google category.`);
  }
  const values = [
    category,
    ...[options.facets.color, options.facets.pattern, options.facets.material].map((facet) => named(facet).join('/')),
  ];
  return values.some((value) => value !== '') ? values : undefined;
}

export async function writeSupplementalFeed(options: SupplementalOptions): Promise<SupplementalSummary> {
  const pageSize = options.pageSize ?? 500;
  const summary: SupplementalSummary = { products: 0, rows: 0, notes: [] };
  const lines = [SUPPLEMENTAL_COLUMNS.join('\t')];
  const nameOf = await labelNamesOf(options.store);
  let after: string | undefined;
  for (;;) {
    const page = await options.store.listProducts({}, pageSize, after);
    const tags = await options.store.getTags(page.items.map((product) => product.id));
    for (const product of page.items) {
      const values = valuesOf(product, tags.get(product.id) ?? [], options, nameOf, summary.notes);
      if (!values) continue;
      summary.products++;
      for (const id of idsOf(product, options.idAttribute, summary.notes)) {
        lines.push([id, ...values].map(tsvCell).join('\t'));
        summary.rows++;
      }
    }
    if (!page.hasNextPage || page.endCursor === undefined) break;
    after = page.endCursor;
  }
  const temporary = `${options.out}.${process.pid}.tmp`;
  writeFileSync(temporary, `${lines.join('\n')}\n`);
  renameSync(temporary, options.out);
  return summary;
}
