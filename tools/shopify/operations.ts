// The catalogue's tag changes in Shopify's terms: the Admin GraphQL operations that make a product in
// the shop carry its latest labels. Pure: changes in, operations out; sending them is admin-client.ts.
//
// The shapes are the Admin GraphQL API's own (version ADMIN_API_VERSION, checked against its schema):
// - productUpdate(product: ProductUpdateInput) { product userErrors } sets the category, the GID of a
//   Shopify taxonomy category (ProductUpdateInput.category: ID). Since 2024-10 the argument is
//   `product`; `input: ProductInput` is deprecated.
// - tagsAdd / tagsRemove(id: ID!, tags: [String!]!) { node userErrors }. Shopify splits every tag
//   at commas, trims it and compares tags case-insensitively, so a label holding a comma cannot be
//   one tag, and labels differing only in case are one tag.
// - metafieldsSet(metafields: [MetafieldsSetInput!]!) { metafields userErrors }: at most 25 a call
//   ("Exceeded the maximum metafields input limit of 25."); keys 2-64 characters of letters,
//   digits, `-` and `_`; namespaces 3-255 of the same.
// - metafieldsDelete(metafields: [MetafieldIdentifierInput!]!): a facet left without labels; a
//   metafield that does not exist is no error, so deleting twice is safe.
import { createHash } from 'node:crypto';

import type { TagChangeRow } from '../../gateway/store';

/** The Admin API version whose shapes these are: productUpdate(product:) and productByIdentifier exist from 2024-10. */
export const ADMIN_API_VERSION = '2025-10';
/** metafieldsSet's limit per call. */
export const METAFIELDS_PER_CALL = 25;
/** Shopify's longest tag. */
export const MAX_TAG_LENGTH = 255;
/** The prefix of a Shopify taxonomy category's GID. */
export const CATEGORY_GID_PREFIX = 'gid://shopify/TaxonomyCategory/';

export const QUERIES = {
  productUpdate: `mutation ProductCategorySet($product: ProductUpdateInput!) {
  productUpdate(product: $product) { product { id } userErrors { field message } }
}`,
  tagsRemove: `mutation ProductTagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`,
  tagsAdd: `mutation ProductTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`,
  metafieldsDelete: `mutation ProductMetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) { deletedMetafields { key namespace } userErrors { field message } }
}`,
  metafieldsSet: `mutation ProductMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key namespace } userErrors { field message code } }
}`,
} as const;

export type OperationName = keyof typeof QUERIES;

/** One request to the Admin API: its body is `{ query, variables }`. */
export interface AdminOperation {
  name: OperationName;
  query: string;
  variables: Record<string, unknown>;
}

/** The changes of one product within a run, coalesced: per facet, its latest labels and every label seen. */
export interface ProductChanges {
  productId: string;
  /** The seq of its first and last change in the run. */
  firstSeq: number;
  lastSeq: number;
  facets: Map<string, { labels: string[]; seen: Set<string> }>;
}

/**
 * Changes grouped per product, in the order of each product's first change. A facet keeps the
 * labels of its latest change and every label any of its changes named (before or after), so that
 * a label added and removed again within the run is removed from the shop too: a run that stopped
 * half-way may have added it.
 */
export function coalesce(changes: readonly TagChangeRow[]): ProductChanges[] {
  const products = new Map<string, ProductChanges>();
  for (const change of [...changes].sort((a, b) => a.seq - b.seq)) {
    let product = products.get(change.productId);
    if (!product) {
      product = { productId: change.productId, firstSeq: change.seq, lastSeq: change.seq, facets: new Map() };
      products.set(change.productId, product);
    }
    product.lastSeq = change.seq;
    const facet = product.facets.get(change.facet) ?? { labels: [], seen: new Set<string>() };
    for (const label of [...change.previousLabels, ...change.labels]) facet.seen.add(label);
    facet.labels = [...change.labels];
    product.facets.set(change.facet, facet);
  }
  return [...products.values()];
}

export interface OperationOptions {
  /** The facet whose label is the product's Shopify category GID (default `category`). */
  categoryFacet: string;
  /** The metafields' namespace (default `clip`). */
  namespace: string;
}

export const DEFAULT_OPERATION_OPTIONS: OperationOptions = { categoryFacet: 'category', namespace: 'clip' };

/** A product's operations, what was left out on purpose (`notes`) and what cannot be written (`problems`: the product fails). */
export interface ProductPlan {
  productId: string;
  operations: AdminOperation[];
  notes: string[];
  problems: string[];
}

/** A flat facet's label as a Shopify tag. */
export function tagOf(facet: string, label: string): string {
  return `${facet}:${label}`;
}

const VALID_KEY = /^[A-Za-z0-9_-]{2,64}$/;

/**
 * A facet's metafield key: the name itself when Shopify accepts it as a key, else the name with
 * every other character made `_`, cut to fit, and 8 hex digits of the name's SHA-256 after it, so
 * that two names made alike still get two keys.
 */
export function metafieldKey(facet: string): string {
  if (VALID_KEY.test(facet)) return facet;
  const hash = createHash('sha256').update(facet, 'utf8').digest('hex').slice(0, 8);
  const base = facet.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64 - hash.length - 1);
  return `${base}_${hash}`;
}

/** Whether Shopify accepts a metafield namespace. */
export function validNamespace(namespace: string): boolean {
  return /^[A-Za-z0-9_-]{3,255}$/.test(namespace);
}

function sortedByCodePoint(values: Iterable<string>): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The operations that give the shop's product `productGid` the latest labels of `product`, each
 * idempotent (sent twice, the shop ends the same): the category set to its final value, the tags of
 * labels seen but not final removed before the final ones are added (tags compare without case:
 * removing after adding could take away a final tag), each flat facet's metafield set to its final
 * list, or deleted when the list is empty.
 */
export function operationsFor(product: ProductChanges, productGid: string, options: OperationOptions): ProductPlan {
  const plan: ProductPlan = { productId: product.productId, operations: [], notes: [], problems: [] };
  const remove = new Set<string>();
  const add = new Set<string>();
  const set: Record<string, unknown>[] = [];
  const deleted: Record<string, unknown>[] = [];
  for (const [facet, { labels, seen }] of [...product.facets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (facet === options.categoryFacet) {
      categoryOperation(product.productId, facet, labels, productGid, plan);
      continue;
    }
    const final = new Set(labels);
    for (const label of sortedByCodePoint(seen)) {
      const tag = tagOf(facet, label);
      if (tag.includes(',')) {
        if (final.has(label)) plan.notes.push(`"${label}" (${facet}) is not written as a tag: Shopify splits tags at commas.`);
        continue;
      }
      if (tag.length > MAX_TAG_LENGTH) {
        if (final.has(label))
          plan.notes.push(`"${label}" (${facet}) is not written as a tag: ${tag.length} characters, Shopify keeps ${MAX_TAG_LENGTH}.`);
        continue;
      }
      (final.has(label) ? add : remove).add(tag);
    }
    const key = metafieldKey(facet);
    if (labels.length === 0) deleted.push({ ownerId: productGid, namespace: options.namespace, key });
    else
      set.push({
        ownerId: productGid,
        namespace: options.namespace,
        key,
        type: 'list.single_line_text_field',
        value: JSON.stringify(labels),
      });
  }
  if (remove.size > 0) plan.operations.push(op('tagsRemove', { id: productGid, tags: [...remove] }));
  if (add.size > 0) plan.operations.push(op('tagsAdd', { id: productGid, tags: [...add] }));
  for (let i = 0; i < deleted.length; i += METAFIELDS_PER_CALL)
    plan.operations.push(op('metafieldsDelete', { metafields: deleted.slice(i, i + METAFIELDS_PER_CALL) }));
  for (let i = 0; i < set.length; i += METAFIELDS_PER_CALL)
    plan.operations.push(op('metafieldsSet', { metafields: set.slice(i, i + METAFIELDS_PER_CALL) }));
  return plan;
}

function op(name: OperationName, variables: Record<string, unknown>): AdminOperation {
  return { name, query: QUERIES[name], variables };
}

/** The category facet's final label as productUpdate's category, first of the product's operations. */
function categoryOperation(productId: string, facet: string, labels: string[], productGid: string, plan: ProductPlan): void {
  if (labels.length === 0) {
    // Whether a null category clears Shopify's is not documented: the shop's is left as it is.
    plan.notes.push(`The catalogue has no ${facet} for ${productId} any more; the shop's category is left as it is.`);
    return;
  }
  if (labels.length > 1) {
    plan.problems.push(`${facet} has ${labels.length} labels (${labels.join(', ')}); a Shopify product has one category.`);
    return;
  }
  if (!labels[0].startsWith(CATEGORY_GID_PREFIX)) {
    plan.problems.push(`${facet}'s label ${JSON.stringify(labels[0])} is not a Shopify category GID (${CATEGORY_GID_PREFIX}...).`);
    return;
  }
  plan.operations.unshift(op('productUpdate', { product: { id: productGid, category: labels[0] } }));
}
