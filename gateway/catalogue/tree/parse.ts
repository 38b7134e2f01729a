/**
 * The two published taxonomy formats read into a tree: Shopify's Standard Product Taxonomy
 * (`dist/en/categories.txt`) and Google's product taxonomy with ids (`taxonomy-with-ids.en-US.txt`).
 * The whole file is read and checked before `root` and `depth` pick a part of it, so a file with
 * a broken line is refused whatever part was asked for.
 */
import { subtree, TaxonomyParseError, TreeBuilder, type SubtreeOptions, type TaxonomyTree } from './tree';

/**
 * Longest name of one category. The shipped files' longest is 57 characters. A name is embedded in
 * prompts that also hold its parent's name and a template, and CLIP reads 75 tokens of a prompt
 * (roughly 300 characters of English): past 200 characters a name would be cut off in its own prompt.
 * Paths have no limit of their own: they are as long as their names and depth make them.
 */
export const MAX_CATEGORY_NAME_LENGTH = 200;

const SHOPIFY_GID_PREFIX = 'gid://shopify/TaxonomyCategory/';
// `gid://shopify/TaxonomyCategory/aa-1-13-8 : Apparel & Accessories > Clothing > ...`; Shopify pads
// the GID with spaces to align the colons. The id is a vertical's letters, then a number per level.
const SHOPIFY_LINE = /^gid:\/\/shopify\/TaxonomyCategory\/([a-z]+(?:-\d+)*)\s*:\s*(.*)$/;
// `212 - Apparel & Accessories > Clothing > Shirts & Tops`.
const GOOGLE_LINE = /^(\d+) - (.*)$/;

/**
 * Shopify's categories.txt as a tree, ids the full category GIDs. Besides the format, each line's
 * path must agree with its id: `aa-1-13` is at level 3, its parent is `aa-1`, which must come
 * earlier with the same path as this one's first two names. `root` may be a GID or its short form
 * (`aa`, `aa-1`).
 */
export function parseShopifyCategories(text: string, options: SubtreeOptions = {}): TaxonomyTree {
  const builder = new TreeBuilder();
  const paths = new Paths(builder);
  for (const { line, content } of contentLines(text)) {
    const match = SHOPIFY_LINE.exec(content);
    if (!match) throw new TaxonomyParseError(line, `expected "gid://shopify/TaxonomyCategory/<id> : <path>", found ${quote(content)}.`);
    const [, short, pathText] = match;
    const names = namesOf(pathText, line);
    const levels = short.split('-');
    if (names.length !== levels.length) {
      throw new TaxonomyParseError(
        line,
        `the path has ${names.length} name${names.length === 1 ? '' : 's'} but the id ${short} is at level ${levels.length}.`,
      );
    }
    let parent = -1;
    if (levels.length > 1) {
      const parentShort = levels.slice(0, -1).join('-');
      const found = builder.indexOf(SHOPIFY_GID_PREFIX + parentShort);
      if (found === undefined) throw new TaxonomyParseError(line, `the parent of ${short}, ${parentShort}, does not appear before it.`);
      const ownParentPath = names.slice(0, -1).join(' > ');
      if (paths.keyOf(found) !== ownParentPath) {
        throw new TaxonomyParseError(
          line,
          `the path's parent (${ownParentPath}) differs from the path of the id's parent ${parentShort} on line ${builder.node(found).line} (${paths.keyOf(found)}).`,
        );
      }
      parent = found;
    }
    paths.add(names, builder.add(SHOPIFY_GID_PREFIX + short, names[names.length - 1], parent, line), line);
  }
  const root = options.root?.trim();
  return subtree(builder.build(), {
    ...options,
    root: root === undefined || root.startsWith('gid://') ? root : SHOPIFY_GID_PREFIX + root,
  });
}

/**
 * Google's taxonomy-with-ids as a tree, ids the numbers as strings. A line's parent is the line
 * whose path is its path without the last name, which must come earlier.
 */
export function parseGoogleTaxonomy(text: string, options: SubtreeOptions = {}): TaxonomyTree {
  const builder = new TreeBuilder();
  const paths = new Paths(builder);
  for (const { line, content } of contentLines(text)) {
    const match = GOOGLE_LINE.exec(content);
    if (!match) throw new TaxonomyParseError(line, `expected "<number> - <path>", found ${quote(content)}.`);
    const [, id, pathText] = match;
    const names = namesOf(pathText, line);
    let parent = -1;
    if (names.length > 1) {
      const parentPath = names.slice(0, -1).join(' > ');
      const found = paths.indexOf(parentPath);
      if (found === undefined) throw new TaxonomyParseError(line, `its parent path (${parentPath}) does not appear before it.`);
      parent = found;
    }
    paths.add(names, builder.add(id, names[names.length - 1], parent, line), line);
  }
  return subtree(builder.build(), { ...options, root: options.root?.trim() });
}

/** The two formats by the names a command line gives them. */
export const TAXONOMY_FORMATS = Object.freeze({ shopify: parseShopifyCategories, google: parseGoogleTaxonomy });
export type TaxonomyFormat = keyof typeof TAXONOMY_FORMATS;

/**
 * The lines that carry categories, numbered from 1 as an editor shows them: `#` comments (both
 * formats open with one) and blank lines skipped, a byte-order mark and Windows line ends ignored.
 */
function* contentLines(text: string): Generator<{ line: number; content: string }> {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const content = lines[i].replace(/\r$/, '');
    if (content.trim() === '' || content.startsWith('#')) continue;
    yield { line: i + 1, content };
  }
}

function namesOf(pathText: string, line: number): string[] {
  const names = pathText.split('>').map((name) => name.trim());
  names.forEach((name, i) => {
    if (name === '') throw new TaxonomyParseError(line, `the path's name ${i + 1} is empty.`);
    if (name.length > MAX_CATEGORY_NAME_LENGTH) {
      throw new TaxonomyParseError(
        line,
        `the path's name ${i + 1} has ${name.length} characters; the limit is ${MAX_CATEGORY_NAME_LENGTH}.`,
      );
    }
  });
  return names;
}

/**
 * Every path read so far, by node index and by text. Two categories with one path could not be told
 * apart by their prompts, nor, in Google's format, by their children: the second is refused, naming
 * the first. A repeated id is refused before the path is added (the builder checks it).
 */
class Paths {
  private readonly keys: string[] = [];
  private readonly byKey = new Map<string, number>();

  constructor(private readonly builder: TreeBuilder) {}

  keyOf(index: number): string {
    return this.keys[index];
  }

  indexOf(key: string): number | undefined {
    return this.byKey.get(key);
  }

  add(names: readonly string[], index: number, line: number): void {
    const key = names.join(' > ');
    const first = this.byKey.get(key);
    if (first !== undefined) throw new TaxonomyParseError(line, `the path ${key} repeats line ${this.builder.node(first).line}.`);
    this.keys[index] = key;
    this.byKey.set(key, index);
  }
}

function quote(content: string): string {
  return JSON.stringify(content.length > 80 ? `${content.slice(0, 80)}…` : content);
}
