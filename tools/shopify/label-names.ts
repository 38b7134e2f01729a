// Labels as the shop reads them. An attribute facet's labels are Shopify's value ids
// (gid://shopify/TaxonomyValue/N), which mean nothing in a tag, a metafield or Merchant Center's
// color column: there they go by the names the taxonomy keeps beside them (labelNames). Other
// labels are their own names. A label no longer in the current taxonomy keeps its id.
import type { CatalogueStore } from '../../gateway/store';

/** A facet's label as the shop reads it. */
export type LabelName = (facet: string, label: string) => string;

/** The names of the current taxonomy's labels, read once. */
export async function labelNamesOf(store: CatalogueStore): Promise<LabelName> {
  const taxonomy = await store.getTaxonomy();
  const names = new Map<string, Map<string, string>>();
  for (const facet of taxonomy?.facets ?? []) {
    const labelNames = facet.labelNames;
    if (labelNames) names.set(facet.name, new Map(facet.labels.map((label, i) => [label, labelNames[i] ?? label])));
  }
  return (facet, label) => names.get(facet)?.get(label) ?? label;
}
