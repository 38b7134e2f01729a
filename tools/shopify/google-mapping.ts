// Shopify's categories in Google's taxonomy, by Shopify's own mapping (taxonomies/README.md):
//   categories.txt            `gid://shopify/TaxonomyCategory/aa-1-13-8 : Apparel & Accessories > ... > T-Shirts`
//   shopify_..._to_google_... line pairs `→ Shopify path` / `⇒ Google path`
//   taxonomy-with-ids.en-US   `212 - Apparel & Accessories > Clothing > Shirts & Tops`
// A category GID goes to its Shopify path, the path to Google's, Google's path to its numeric id.
// Shopify's mapping leaves some categories out (10,535 of 10,595 in 2025-08): those take the Google
// category of their nearest mapped ancestor, the most specific one Shopify's mapping gives.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The files of one Shopify release and the Google taxonomy it maps to. */
export interface MappingFiles {
  categories: string;
  mapping: string;
  google: string;
}

/** The repository's taxonomies folder, found above this file (from the sources or from dist/). */
export function taxonomiesDir(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'taxonomies', 'shopify-2025-08', 'categories.txt'))) return join(dir, 'taxonomies');
    if (dirname(dir) === dir) throw new Error(`no taxonomies/ folder above ${from}: the repository's taxonomy files are needed`);
  }
}

/** Shopify 2025-08 mapped to Google 2021-09-21, the files the repository carries. */
export function defaultMappingFiles(dir = taxonomiesDir()): MappingFiles {
  return {
    categories: join(dir, 'shopify-2025-08', 'categories.txt'),
    mapping: join(dir, 'shopify-2025-08', 'shopify_2025-08_to_google_2021-09-21.txt'),
    google: join(dir, 'google-2021-09-21', 'taxonomy-with-ids.en-US.txt'),
  };
}

function lines(file: string): { text: string; line: number }[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((text, i) => ({ text: text.trim(), line: i + 1 }))
    .filter(({ text }) => text !== '' && !text.startsWith('#'));
}

export class GoogleMapping {
  private knownIds?: Set<string>;

  private constructor(
    /** Shopify GID -> Shopify path. */
    private readonly shopifyPaths: Map<string, string>,
    /** Shopify path -> Google path. */
    private readonly toGoogle: Map<string, string>,
    /** Google path -> Google id. */
    private readonly googleIds: Map<string, string>,
  ) {}

  /** Reads the three files; a line that is not in its file's format fails with the file and line. */
  static load(files: MappingFiles = defaultMappingFiles()): GoogleMapping {
    const shopifyPaths = new Map<string, string>();
    for (const { text, line } of lines(files.categories)) {
      const match = /^(gid:\/\/shopify\/TaxonomyCategory\/\S+)\s*:\s*(.+)$/.exec(text);
      if (!match)
        throw new Error(
          `${files.categories}:${line}: not "gid://shopify/TaxonomyCategory/... : path": ${JSON.stringify(text.slice(0, 100))}`,
        );
      shopifyPaths.set(match[1], match[2]);
    }
    const toGoogle = new Map<string, string>();
    let from: { path: string; line: number } | undefined;
    for (const { text, line } of lines(files.mapping)) {
      if (text.startsWith('→')) {
        if (from) throw new Error(`${files.mapping}:${from.line}: "→ ${from.path}" has no "⇒" line after it`);
        from = { path: text.slice(1).trim(), line };
      } else if (text.startsWith('⇒')) {
        if (!from) throw new Error(`${files.mapping}:${line}: a "⇒" line without a "→" line before it`);
        toGoogle.set(from.path, text.slice(1).trim());
        from = undefined;
      } else
        throw new Error(`${files.mapping}:${line}: neither "→ Shopify path" nor "⇒ Google path": ${JSON.stringify(text.slice(0, 100))}`);
    }
    const googleIds = new Map<string, string>();
    for (const { text, line } of lines(files.google)) {
      const match = /^([0-9]+) - (.+)$/.exec(text);
      if (!match) throw new Error(`${files.google}:${line}: not "ID - path": ${JSON.stringify(text.slice(0, 100))}`);
      googleIds.set(match[2], match[1]);
    }
    return new GoogleMapping(shopifyPaths, toGoogle, googleIds);
  }

  /** The Shopify path of a category GID; undefined when the release has no such category. */
  shopifyPath(gid: string): string | undefined {
    return this.shopifyPaths.get(gid);
  }

  /**
   * Google's numeric category id for a category label: a Shopify category GID through Shopify's
   * mapping (its nearest mapped ancestor's when it has none of its own), or a Google id as it is when
   * Google's taxonomy has it. Undefined when neither leads to a Google category.
   */
  googleId(label: string): string | undefined {
    if (/^[0-9]+$/.test(label)) {
      this.knownIds ??= new Set(this.googleIds.values());
      return this.knownIds.has(label) ? label : undefined;
    }
    const path = this.shopifyPaths.get(label);
    if (!path) return undefined;
    const levels = path.split(' > ');
    for (let depth = levels.length; depth > 0; depth--) {
      const google = this.toGoogle.get(levels.slice(0, depth).join(' > '));
      if (google !== undefined) return this.googleIds.get(google);
    }
    return undefined;
  }

  /** Shopify paths whose Google path is not in Google's taxonomy: none, for files that agree. */
  unresolvedMappings(): string[] {
    return [...this.toGoogle].filter(([, google]) => !this.googleIds.has(google)).map(([shopify]) => shopify);
  }
}
