/**
 * Which visual attributes a product gets once its category is known: those its category lists
 * (its own list, never its ancestors', see taxonomy.ts) that the allowlist names (visual.ts), each
 * with the values that are scored.
 */
import { SHORT_CATEGORY_ID } from './parse';
import type { AttributeTaxonomy, AttributeValue } from './taxonomy';
import { isScoredValue, VISUAL_ATTRIBUTES, type AttributeMode, type VisualAttribute } from './visual';

export const CATEGORY_GID_PREFIX = 'gid://shopify/TaxonomyCategory/';

export interface ApplicableAttribute {
  /** The base attribute's handle (`sleeve-length-type`). */
  handle: string;
  /** `gid://shopify/TaxonomyAttribute/...`. */
  id: string;
  name: string;
  mode: AttributeMode;
  /** The values that are scored (every one but "Other"), in Shopify's order, with their ids. */
  values: readonly AttributeValue[];
  visual: VisualAttribute;
}

/** The allowlist checked against a taxonomy once, then each category's visual attributes. */
export class ApplicableAttributes {
  /** Every allowlisted attribute that at least one category has, in the allowlist's order. */
  readonly attributes: readonly ApplicableAttribute[];
  private readonly byCategory = new Map<string, readonly ApplicableAttribute[]>();

  constructor(
    readonly taxonomy: AttributeTaxonomy,
    visual: Readonly<Record<string, VisualAttribute>> = VISUAL_ATTRIBUTES,
  ) {
    const allowed = new Map<string, ApplicableAttribute>();
    for (const [handle, spec] of Object.entries(visual)) allowed.set(handle, applicable(taxonomy, handle, spec));
    const used = new Set<string>();
    // Categories with the same attributes share one list: 10,595 categories, far fewer distinct lists.
    const shared = new Map<string, readonly ApplicableAttribute[]>();
    for (const category of taxonomy.categories.values()) {
      // Through an extended attribute a link is a part's look (band colour), which visual.ts leaves out.
      const handles = category.links.filter((l) => l.extended === null && allowed.has(l.attribute.handle)).map((l) => l.attribute.handle);
      const ordered = [...allowed.keys()].filter((h) => handles.includes(h));
      const key = ordered.join(' ');
      let list = shared.get(key);
      if (!list) shared.set(key, (list = ordered.map((h) => allowed.get(h)!)));
      this.byCategory.set(category.id, list);
      for (const h of ordered) used.add(h);
    }
    this.attributes = [...allowed.values()].filter((a) => used.has(a.handle));
  }

  /** The visual attributes of one category, by short id (`aa-1-13-8`) or GID. */
  forCategory(category: string, owner = 'category'): readonly ApplicableAttribute[] {
    const list = this.byCategory.get(this.shortId(category, owner));
    if (!list)
      throw new RangeError(`${owner}: ${JSON.stringify(category)} is not a category of Shopify's taxonomy ${this.taxonomy.version}.`);
    return list;
  }

  /**
   * The visual attributes of a product whose category path is known: ids from the root (or the top
   * of the part of the tree in use) down to its category, short or GID, each the child of the one
   * before. The deepest category decides; an empty path (category unknown) has none.
   */
  forPath(path: readonly string[], owner = 'category path'): readonly ApplicableAttribute[] {
    if (path.length === 0) return [];
    let parent: string | null = null;
    for (const [i, id] of path.entries()) {
      const short = this.shortId(id, owner);
      const category = this.taxonomy.categories.get(short);
      if (!category)
        throw new RangeError(`${owner}: ${JSON.stringify(id)} is not a category of Shopify's taxonomy ${this.taxonomy.version}.`);
      if (i > 0 && category.parent !== parent) {
        throw new RangeError(`${owner}: ${JSON.stringify(id)} is not a child of ${JSON.stringify(path[i - 1])}, the category before it.`);
      }
      parent = short;
    }
    return this.byCategory.get(parent!)!;
  }

  private shortId(id: string, owner: string): string {
    const short = id.startsWith(CATEGORY_GID_PREFIX) ? id.slice(CATEGORY_GID_PREFIX.length) : id;
    if (!SHORT_CATEGORY_ID.test(short)) {
      throw new RangeError(`${owner}: ${JSON.stringify(id)} is not a Shopify category id (aa-1-13-8 or ${CATEGORY_GID_PREFIX}aa-1-13-8).`);
    }
    return short;
  }
}

/** One allowlist entry checked against the taxonomy: the attribute exists, the templates and phrases fit it. */
function applicable(taxonomy: AttributeTaxonomy, handle: string, visual: VisualAttribute): ApplicableAttribute {
  const where = `visual attribute ${handle}`;
  const attribute = taxonomy.attributes.get(handle);
  if (!attribute) throw new RangeError(`${where}: no such attribute in Shopify's taxonomy ${taxonomy.version}.`);
  if (visual.mode !== 'single' && visual.mode !== 'multi')
    throw new RangeError(`${where}: mode must be single or multi: ${JSON.stringify(visual.mode)}.`);
  if (visual.templates.length === 0) throw new RangeError(`${where}: has no prompt templates.`);
  for (const template of visual.templates) {
    if (!template.includes('{}')) throw new RangeError(`${where}: the template ${JSON.stringify(template)} has no {} for the value.`);
  }
  for (const valueHandle of Object.keys(visual.phrases ?? {})) {
    if (!attribute.values.some((v) => v.handle === valueHandle))
      throw new RangeError(`${where}: a phrase for ${valueHandle}, which is not one of its values.`);
  }
  const values = attribute.values.filter(isScoredValue);
  if (values.length < 2) throw new RangeError(`${where}: ${values.length} value(s) to score; a choice needs two.`);
  return { handle, id: attribute.id, name: attribute.name, mode: visual.mode, values, visual };
}
