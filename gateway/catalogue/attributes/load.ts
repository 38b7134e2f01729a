/**
 * Reading Shopify's attribute files from a taxonomy directory: the only file of this folder that
 * touches the disk, so everything else works on texts a test can write inline.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { bundledTaxonomyDir } from '../tree';
import { AttributeDataError } from './parse';
import { linkAttributeTaxonomy, type AttributeTaxonomy } from './taxonomy';

/** The shipped Shopify taxonomy's folder in the repository's `taxonomies/`, which has the attribute files. */
export const SHIPPED_SHOPIFY_TAXONOMY = 'shopify-2025-08';

/**
 * `attributes.json`, `attribute_values.json` and every `verticals/*.yml` of a taxonomy directory,
 * linked (see taxonomy.ts). Vertical files are read in name order, so errors and category order do
 * not depend on the file system's.
 */
export async function loadAttributeTaxonomy(
  dir: string = join(bundledTaxonomyDir(), SHIPPED_SHOPIFY_TAXONOMY),
): Promise<AttributeTaxonomy> {
  const read = async (file: string) => {
    try {
      return { file, text: await readFile(join(dir, file), 'utf8') };
    } catch (error) {
      throw new AttributeDataError(file, null, `cannot be read from ${dir}: ${(error as Error).message}`);
    }
  };
  let names: string[];
  try {
    names = (await readdir(join(dir, 'verticals'))).filter((name) => name.endsWith('.yml')).sort();
  } catch (error) {
    throw new AttributeDataError('verticals', null, `cannot be listed in ${dir}: ${(error as Error).message}`);
  }
  if (names.length === 0) throw new AttributeDataError('verticals', null, `has no .yml file in ${dir}.`);
  const [attributes, values, ...verticals] = await Promise.all([
    read('attributes.json'),
    read('attribute_values.json'),
    ...names.map((name) => read(join('verticals', name))),
  ]);
  return linkAttributeTaxonomy({ attributes, values, verticals });
}
