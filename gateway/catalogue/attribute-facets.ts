/**
 * Attribute facets asked for on a TREE facet over Shopify's taxonomy (`attributes: { only }`): one
 * facet per visual attribute that some category of the tree has, labelled with the attribute's
 * value GIDs, prompted by the values' words, and gated to the categories that have it. Made once
 * when the taxonomy is set and stored whole (labels, names, prompts, categories), so tagging and a
 * restart never read Shopify's attribute files.
 */
import { ErrorCode } from '../common/errors';
import type { FacetTreeRow } from '../store';
import {
  ApplicableAttributes,
  attributePrompts,
  CATEGORY_GID_PREFIX,
  loadAttributeTaxonomy,
  NOT_VISUAL,
  VISUAL_ATTRIBUTES,
  type AttributeTaxonomy,
  type VisualAttribute,
} from './attributes';
import { FieldError, fieldName } from './errors';
import type { FacetInput, TaxonomyLimits } from './taxonomy';
import { treeProblems, treeRowOf } from './taxonomy-tree';

/** What a TREE facet asks of its categories' attributes. */
/** Expands the `attributes` of TREE facets into attribute facets; Shopify's attribute files are read once, on first use. */
export class AttributeFacets {
  private loaded?: Promise<AttributeTaxonomy>;

  constructor(
    private readonly limits: TaxonomyLimits,
    /** The attribute files' folder; undefined: the shipped taxonomy's. */
    private readonly dir?: string,
  ) {}

  /**
   * The facets with every TREE facet's `attributes` made facets of their own, after all the facets
   * given (so that a problem taxonomyProblems finds still names the caller's index). A facet whose
   * `attributes` cannot apply (not a TREE, or a tree with problems) is left for taxonomyProblems to
   * name. Throws a FieldError naming `facets[f].attributes` or a part of it.
   */
  async expand(facets: readonly FacetInput[]): Promise<FacetInput[]> {
    if (!facets.some((facet) => facet.attributes)) return [...facets];
    const kept = [...facets];
    const added: FacetInput[] = [];
    const names = new Map(facets.map((facet, f) => [facet.name.trim(), `facets[${f}]`]));
    for (const [f, facet] of facets.entries()) {
      if (!facet.attributes || facet.mode !== 'tree' || !facet.tree) continue;
      if (treeProblems(facet.tree, ['facets', f, 'tree'], this.limits.maxTreeNodes).length > 0) continue;
      const at = ['facets', String(f), 'attributes'];
      const tree = treeRowOf(facet.tree, this.limits.maxTreeNodes);
      if (tree.format !== 'shopify')
        throw problem(at, `are Shopify's category attributes; the tree is in the ${tree.format} format, whose categories have none.`);
      const made = attributeFacets(facet.name.trim(), tree, facet.attributes, await this.taxonomy(at), at);
      for (const attributeFacet of made) {
        const taken = names.get(attributeFacet.name);
        if (taken) throw problem(at, `make a facet named ${JSON.stringify(attributeFacet.name)}, the name of ${taken}; rename that one.`);
        names.set(attributeFacet.name, `the attribute facet of facets[${f}]`);
      }
      if (facets.length + added.length + made.length > this.limits.maxFacets)
        throw problem(
          at,
          `make ${made.length} facets (${made.map((m) => m.name).join(', ')}), ${facets.length + added.length + made.length} in all; the limit is ${this.limits.maxFacets} (choose some with only).`,
          ErrorCode.INPUT_TOO_LARGE,
        );
      added.push(...made);
      kept[f] = { ...facet, attributes: null };
    }
    return [...kept, ...added];
  }

  private taxonomy(at: string[]): Promise<AttributeTaxonomy> {
    if (!this.loaded) {
      const loading = loadAttributeTaxonomy(this.dir);
      this.loaded = loading;
      loading.catch(() => {
        if (this.loaded === loading) this.loaded = undefined;
      });
    }
    return this.loaded.catch((error: unknown) => {
      throw new FieldError(
        at,
        ErrorCode.INTERNAL_SERVER_ERROR,
        `${fieldName(at)} could not be made: Shopify's attribute files cannot be read.`,
        {
          cause: error,
        },
      );
    });
  }
}

/** The attribute facets of one TREE facet, in the allowlist's order. */
function attributeFacets(
  treeFacet: string,
  tree: FacetTreeRow,
  input: NonNullable<FacetInput['attributes']>,
  taxonomy: AttributeTaxonomy,
  at: string[],
): FacetInput[] {
  const reviewBelow = input.reviewBelow ?? null;
  if (reviewBelow !== null && !(Number.isFinite(reviewBelow) && reviewBelow >= 0 && reviewBelow <= 1))
    throw problem([...at, 'reviewBelow'], `must be from 0 to 1: ${reviewBelow}.`);
  const visual = wantedAttributes(input.only ?? null, taxonomy, at);
  const applicable = new ApplicableAttributes(taxonomy, visual);
  // Which of the tree's categories have each attribute (their own list decides, see attributes/taxonomy.ts).
  const categories = new Map<string, string[]>(applicable.attributes.map((a) => [a.handle, []]));
  for (const node of tree.nodes) {
    const short = node.id.startsWith(CATEGORY_GID_PREFIX) ? node.id.slice(CATEGORY_GID_PREFIX.length) : node.id;
    if (!taxonomy.categories.has(short))
      throw problem(
        at,
        `need the tree's categories in Shopify's taxonomy ${taxonomy.version}, whose attributes they are; ${JSON.stringify(node.id)} (${node.name}) is not there.`,
      );
    for (const attribute of applicable.forCategory(short)) categories.get(attribute.handle)!.push(node.id);
  }
  (input.only ?? []).forEach((handle, i) => {
    if ((categories.get(handle.trim())?.length ?? 0) === 0)
      throw problem([...at, 'only', String(i)], `is ${JSON.stringify(handle)}, which no category of the tree has.`);
  });
  const used = applicable.attributes.filter((a) => categories.get(a.handle)!.length > 0);
  if (used.length === 0) throw problem(at, 'make no facet: no category of the tree has a visual attribute.');
  const prompts = attributePrompts(applicable);
  return used.map((attribute) => {
    const ofValues = prompts.filter((p) => p.attribute === attribute.handle);
    return {
      name: attribute.handle,
      mode: attribute.mode,
      labels: attribute.values.map((v) => v.id),
      labelNames: attribute.values.map((v) => v.name),
      labelPrompts: attribute.values.map((v) => [...ofValues.find((p) => p.valueId === v.id)!.texts]),
      templates: [...attribute.visual.templates],
      reviewBelow,
      under: { facet: treeFacet, categories: categories.get(attribute.handle)! },
      attribute: { id: attribute.id, handle: attribute.handle, name: attribute.name },
    };
  });
}

/** The allowlist's entries asked for (`only`), or all of them this taxonomy has. */
function wantedAttributes(only: readonly string[] | null, taxonomy: AttributeTaxonomy, at: string[]): Record<string, VisualAttribute> {
  const known = Object.keys(VISUAL_ATTRIBUTES).filter((handle) => taxonomy.attributes.has(handle));
  if (only === null) return Object.fromEntries(known.map((handle) => [handle, VISUAL_ATTRIBUTES[handle]]));
  if (only.length === 0) throw problem([...at, 'only'], 'is empty; omit it for every visual attribute, or name some.');
  const seen = new Map<string, number>();
  only.forEach((raw, i) => {
    const handle = raw.trim();
    const field = [...at, 'only', String(i)];
    if (seen.has(handle)) throw problem(field, `repeats only[${seen.get(handle)}] (${JSON.stringify(handle)}).`);
    seen.set(handle, i);
    if (Object.hasOwn(NOT_VISUAL, handle))
      throw problem(
        field,
        `is ${JSON.stringify(handle)}, which a photo does not show (${NOT_VISUAL[handle]}); the visual ones are ${known.join(', ')}.`,
      );
    if (!known.includes(handle))
      throw problem(field, `is ${JSON.stringify(handle.slice(0, 100))}, not a visual attribute; they are ${known.join(', ')}.`);
  });
  return Object.fromEntries(known.filter((handle) => seen.has(handle)).map((handle) => [handle, VISUAL_ATTRIBUTES[handle]]));
}

function problem(field: string[], message: string, code: ErrorCode = ErrorCode.BAD_USER_INPUT): FieldError {
  return new FieldError(field, code, `${fieldName(field)} ${message}`);
}
