// What a Shopify product becomes in the catalogue, whichever way it arrives (the product CSV export
// read by shopify-csv.ts, or the products/* webhooks of gateway/shopify/): the same plain-text description
// and the same attributes, so that a shop imported from its export and then kept up to date by its
// webhooks holds one shape of product.

/** Images one product may carry from Shopify: the catalogue's CATALOGUE_MAX_IMAGES_PER_PRODUCT default (gateway/catalogue/limits.ts). */
export const SHOPIFY_MAX_IMAGES = 10;

/** The named entities Shopify's rich-text editor writes; numeric ones are decoded whatever they are. */
const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '\u2013',
  mdash: '\u2014',
  hellip: '\u2026',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201c',
  rdquo: '\u201d',
  copy: '\u00a9',
  reg: '\u00ae',
  trade: '\u2122',
  deg: '\u00b0',
};

/** Shopify's HTML description as plain text: tags out, the common entities decoded, whitespace collapsed. */
export function plainText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
      const code = name[1].toLowerCase() === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    })
    .replace(/\s+/g, ' ')
    .trim();
}

/** A Shopify product's fields the catalogue keeps as attributes, as either source gives them. */
export interface ShopifyFields {
  /** Shopify's tags as one comma-separated string ("linen, summer"), as both the export and the REST payload write them. */
  tags?: string;
  /** The product category: its full name ("Apparel & Accessories > Clothing") or its GID, as the source gives it. */
  productCategory?: string;
  /** The product type (Type / product_type). */
  type?: string;
  vendor?: string;
  /** active, draft, archived, unlisted. */
  status?: string;
  /** The options in Shopify's order, each with its values in the order met. */
  options?: { name: string; values: string[] }[];
}

/**
 * The catalogue's attributes of a Shopify product: tags as a list (each once, trimmed), category,
 * type, vendor and status as given, and options by name. Empty values are left out, and so is the
 * option "Title" with the one value "Default Title": Shopify's way of writing a product without
 * options.
 */
export function shopifyAttributes(fields: ShopifyFields): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  const tags = [...new Set((fields.tags ?? '').split(',').map((tag) => tag.trim()))].filter(Boolean);
  if (tags.length) attributes.tags = tags;
  for (const key of ['productCategory', 'type', 'vendor', 'status'] as const) if (fields[key]) attributes[key] = fields[key];
  const options: Record<string, string[]> = {};
  for (const { name, values } of fields.options ?? []) {
    if (!name || !values.length || (name === 'Title' && values.length === 1 && values[0] === 'Default Title')) continue;
    options[name] = values;
  }
  if (Object.keys(options).length) attributes.options = options;
  return attributes;
}
