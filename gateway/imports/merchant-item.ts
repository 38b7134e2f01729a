// One Google Merchant Center item, as both feed formats give it, and the products its items make.
//
// Attribute names and formats follow Google's product data specification (support.google.com/merchants):
// - additional_image_link (answer/6324370): repeated, "up to 10 additional images"; in text feeds one
//   field with the URLs separated by commas (a comma inside a URL is encoded as %2C), in XML feeds
//   one <g:additional_image_link> element per image.
// - item_group_id: the variants of one product share it; the product's id here is that group id.
// - google_product_category (answer/6324436, answer/1705911): "the ID or the full path of the
//   product category" (`2271` or `Apparel & Accessories > Clothing > Dresses`), kept as given.
// - id, title, description, link, image_link, product_type, brand, color, pattern, material,
//   gender, age_group, size: single values, kept as given (trimmed).

import type { Entry, ProductInput } from './entry';

/** The attributes of an item this import reads; every other column or element is ignored. */
export const MERCHANT_FIELDS = [
  'id',
  'title',
  'description',
  'link',
  'image_link',
  'additional_image_link',
  'item_group_id',
  'google_product_category',
  'product_type',
  'color',
  'pattern',
  'material',
  'gender',
  'age_group',
  'brand',
  'size',
] as const;

export type MerchantField = (typeof MERCHANT_FIELDS)[number];

const KNOWN = new Set<string>(MERCHANT_FIELDS);

/** Whether a column or element name is one of the attributes this import reads. */
export function isMerchantField(name: string): name is MerchantField {
  return KNOWN.has(name);
}

/** One item of a feed: its values per attribute (several for a repeated one) and the line it starts on. */
export interface MerchantItem {
  line: number;
  values: Partial<Record<MerchantField, string[]>>;
}

/**
 * The catalogue's bound on a product's images (gateway/catalogue/limits.ts, maxImagesPerProduct,
 * CATALOGUE_MAX_IMAGES_PER_PRODUCT, default 10). Merchant Center allows image_link plus up to 10
 * additional images (11); a product keeps its first 10.
 */
export const MAX_IMAGES = 10;

/** Attributes kept as the first value any item of the product has. */
const FIRST_OF: [MerchantField, string][] = [
  ['google_product_category', 'googleProductCategory'],
  ['product_type', 'productType'],
  ['pattern', 'pattern'],
  ['gender', 'gender'],
  ['age_group', 'ageGroup'],
  ['brand', 'brand'],
  ['link', 'link'],
];

/** Attributes where variants differ: one value when all agree, the distinct values in order otherwise. */
const ACROSS_VARIANTS: [MerchantField, string][] = [
  ['color', 'color'],
  ['size', 'size'],
  ['material', 'material'],
];

function first(item: MerchantItem, field: MerchantField): string | undefined {
  return item.values[field]?.find((value) => value !== '');
}

/** The product that one item, or the items of one group in feed order, make. */
export function productOf(id: string, items: MerchantItem[]): ProductInput {
  const images = new Set<string>();
  for (const item of items)
    for (const url of [...(item.values.image_link ?? []), ...(item.values.additional_image_link ?? [])])
      if (url !== '' && images.size < MAX_IMAGES) images.add(url);

  const attributes: Record<string, unknown> = {};
  for (const [field, name] of FIRST_OF) {
    const value = items.map((item) => first(item, field)).find((v) => v !== undefined);
    if (value !== undefined) attributes[name] = value;
  }
  for (const [field, name] of ACROSS_VARIANTS) {
    const distinct = [...new Set(items.map((item) => first(item, field)).filter((v): v is string => v !== undefined))];
    if (distinct.length > 0) attributes[name] = distinct.length === 1 ? distinct[0] : distinct;
  }

  const title = items.map((item) => first(item, 'title')).find((v) => v !== undefined);
  const description = items.map((item) => first(item, 'description')).find((v) => v !== undefined);
  return {
    id,
    ...(title !== undefined ? { title } : {}),
    ...(description !== undefined ? { description } : {}),
    images: [...images].map((url) => ({ url })),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
}

/** Why the groups held when a file turns out unreadable are not sent: their variants may be incomplete. */
export function heldGroupsNote(groups: number): string {
  if (groups === 0) return '';
  return groups === 1
    ? ' The 1 grouped product read so far is not imported: its variants may be incomplete.'
    : ` The ${groups} grouped products read so far are not imported: their variants may be incomplete.`;
}

/** A string of its own, sharing no memory with the one it was sliced from. */
function copyOf(value: string): string {
  return Buffer.from(value, 'utf8').toString('utf8');
}

/**
 * Turns items into products as they are read. An item without item_group_id is a product at once.
 * The variants of a group need not be consecutive in a feed, so a group is only complete at the end
 * of the file: its items are held in memory until finish(). That memory grows with the number of
 * grouped items, each holding only the attributes above (a variant's title and description are
 * dropped once the group has them), never with anything else of the feed; ungrouped items are
 * held not at all.
 */
export class MerchantGrouper {
  private readonly groups = new Map<string, MerchantItem[]>();

  /** The entry to yield now (a failure, or an ungrouped product), or undefined when the item joined its group. */
  add(item: MerchantItem): Entry | undefined {
    const id = first(item, 'id');
    if (id === undefined) return { line: item.line, ok: false, message: 'The item has no id (id is missing or empty).' };
    if (first(item, 'image_link') === undefined)
      return { line: item.line, ok: false, id, message: `Item "${id}" has no image_link: a product needs at least one image.` };
    const groupId = first(item, 'item_group_id');
    if (groupId === undefined) return { line: item.line, ok: true, product: productOf(id, [item]) };
    const group = this.groups.get(groupId);
    if (group)
      for (const field of ['title', 'description'] as const)
        if (group.some((held) => first(held, field) !== undefined)) delete item.values[field];
    // A parser's strings may be slices of the chunk they were read from (V8 keeps a sliced
    // string's parent alive): held items copy theirs, or each would keep its whole chunk.
    for (const list of Object.values(item.values)) list.forEach((value, i) => (list[i] = copyOf(value)));
    if (group) group.push(item);
    else this.groups.set(groupId, [item]);
    return undefined;
  }

  /** How many groups are held. */
  get heldGroups(): number {
    return this.groups.size;
  }

  /** The groups' products, in the order of each group's first item, at its line. */
  *finish(): Generator<Entry> {
    for (const [groupId, items] of this.groups) yield { line: items[0].line, ok: true, product: productOf(groupId, items) };
    this.groups.clear();
  }
}
