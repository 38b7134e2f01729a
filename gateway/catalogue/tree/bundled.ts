/**
 * The taxonomies shipped in the repository's `taxonomies/` folder (its README names each one's
 * source, version and licence), so that a tree facet can be made from one by name without a file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type { TaxonomyFormat } from './parse';

export const BUNDLED_TAXONOMIES: Readonly<Record<string, { format: TaxonomyFormat; file: string }>> = Object.freeze({
  'shopify-2025-08': { format: 'shopify', file: join('shopify-2025-08', 'categories.txt') },
  'google-2021-09-21': { format: 'google', file: join('google-2021-09-21', 'taxonomy-with-ids.en-US.txt') },
});

const FOLDER = 'taxonomies';

/** The `taxonomies/` folder beside the package.json above `from` (this file's folder, in the sources or in dist/). */
export function bundledTaxonomyDir(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, FOLDER))) return join(dir, FOLDER);
    if (dirname(dir) === dir) throw new Error(`No ${FOLDER}/ folder found above ${from}.`);
  }
}

/** A bundled taxonomy's format and text; undefined for a name that is not one. */
export function readBundledTaxonomy(name: string): { format: TaxonomyFormat; text: string } | undefined {
  const bundled = Object.hasOwn(BUNDLED_TAXONOMIES, name) ? BUNDLED_TAXONOMIES[name] : undefined;
  if (!bundled) return undefined;
  return { format: bundled.format, text: readFileSync(join(bundledTaxonomyDir(), bundled.file), 'utf8') };
}
