// The taxonomy a command line names, read and checked on this machine before anything is sent: a
// bad line is reported with its line number while the gateway's taxonomy is still untouched.
import { existsSync, readFileSync, statSync } from 'node:fs';

import {
  BUNDLED_TAXONOMIES,
  readBundledTaxonomy,
  TAXONOMY_FORMATS,
  TaxonomyParseError,
  type TaxonomyFormat,
  type TaxonomyTree,
} from '../../gateway/catalogue';
import type { TreeInput } from './operations';

/** A taxonomy that is not what the command line says: reported, nothing sent. */
export class TaxonomySourceError extends Error {}

export interface CheckedTaxonomy {
  /** The tree part of the FacetInput (without beam and template). */
  input: TreeInput;
  /** Where it came from, for what is printed. */
  label: string;
  categories: number;
  /** Levels of the part kept. */
  levels: number;
}

export type TaxonomySource = { bundled: string } | { file: string; format?: TaxonomyFormat };

/**
 * The format a file's opening says it is in: its first comment when it names one (both publishers
 * open with a comment that does: `# Shopify Product Taxonomy ...`, `# Google_Product_Taxonomy_Version: ...`),
 * else its first category line's shape. Undefined when neither tells.
 */
export function guessFormat(text: string): TaxonomyFormat | undefined {
  const lines = text.replace(/^\uFEFF/, '').split('\n', 50);
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (/google_product_taxonomy/i.test(line)) return 'google';
      if (/shopify/i.test(line)) return 'shopify';
      continue;
    }
    if (line.startsWith('gid://shopify/TaxonomyCategory/')) return 'shopify';
    if (/^\d+ - /.test(line)) return 'google';
    return undefined;
  }
  return undefined;
}

/** Reads and parses the taxonomy whole (a broken line anywhere is refused), then keeps root and depth's part, as the gateway will. */
export function checkTaxonomy(source: TaxonomySource, part: { root?: string; depth?: number }): CheckedTaxonomy {
  let format: TaxonomyFormat;
  let text: string;
  let label: string;
  let input: TreeInput;
  if ('bundled' in source) {
    const bundled = readBundledTaxonomy(source.bundled);
    if (!bundled) {
      throw new TaxonomySourceError(
        `--bundled ${JSON.stringify(source.bundled)} is not a bundled taxonomy; they are ${Object.keys(BUNDLED_TAXONOMIES).join(', ')}.`,
      );
    }
    ({ format, text } = bundled);
    label = source.bundled;
    input = { bundled: source.bundled };
  } else {
    const { file } = source;
    if (!existsSync(file) || !statSync(file).isFile()) throw new TaxonomySourceError(`${file} does not exist or is not a file.`);
    text = readFileSync(file, 'utf8');
    const guessed = source.format ?? guessFormat(text);
    if (!guessed) {
      throw new TaxonomySourceError(
        `${file}: its first lines are neither Shopify's categories.txt ("gid://shopify/TaxonomyCategory/<id> : <path>") nor Google's taxonomy-with-ids ("<number> - <path>"); give --format shopify or --format google.`,
      );
    }
    format = guessed;
    label = file;
    input = { text, format: format === 'shopify' ? 'SHOPIFY' : 'GOOGLE' };
  }
  let tree: TaxonomyTree;
  try {
    tree = TAXONOMY_FORMATS[format](text, part);
  } catch (error) {
    if (error instanceof TaxonomyParseError) throw new TaxonomySourceError(`${label} (${format} format): ${error.message}`);
    // A root that is no category's id, a depth out of range: the readers name the option.
    throw new TaxonomySourceError(`--${(error as Error).message}`);
  }
  if (tree.nodes.length === 0) throw new TaxonomySourceError(`${label} holds no category.`);
  if (part.root !== undefined) input.root = part.root;
  if (part.depth !== undefined) input.depth = part.depth;
  const levels = tree.nodes.reduce((most, node) => Math.max(most, node.depth), 0);
  return { input, label, categories: tree.nodes.length, levels };
}
