/**
 * The tags of gated facets (attribute facets, see attribute-facets.ts), scored once a product's
 * category is known: its manual category in the TREE facet that gates them if it has one, else the
 * path the tagging just gave it there. Scored with AttributeScorer (one matrix product per
 * attribute over the products it applies to) built from the stored facets alone: their labels,
 * names and categories, and the label vectors of their prompts.
 */
import type { CatalogueStore, FacetRow, RescoredTags, TagRow } from '../store';
import {
  ApplicableAttributes,
  AttributeScorer,
  CATEGORY_GID_PREFIX,
  type AttributeCategory,
  type AttributeLink,
  type AttributeTag,
  type TaxonomyAttribute,
  type VisualAttribute,
} from './attributes';
import { ErrorCode } from '../common/errors';
import { FieldError, storeCall } from './errors';
import { tagsForMany, type ScoredFacet, type TaggingContext } from './tagging';
import { pathTo } from './tree-facets';

/** The prompt texts of each of a facet's labels: its own (labelPrompts) or its templates with the label. */
export function labelPromptsOf(facet: FacetRow): string[][] {
  return facet.labelPrompts ?? facet.labels.map((label) => facet.templates.map((t) => t.replaceAll('{}', () => label)));
}

/** A TREE facet's gated facets, ready to score. */
interface Gate {
  tree: ScoredFacet;
  /** Node index by id, for paths. */
  indexOf: Map<string, number>;
  /** The gated facets by their attribute's handle. */
  facets: Map<string, FacetRow>;
  scorer: AttributeScorer;
}

/** Per taxonomy version (its scored facets), each gating TREE facet's Gate by name. */
const gatesOf = new WeakMap<readonly ScoredFacet[], Map<string, Gate>>();

function gates(facets: readonly ScoredFacet[], logitScale: number): Map<string, Gate> {
  let made = gatesOf.get(facets);
  if (!made) {
    made = new Map();
    const gated = facets.filter((f) => f.facet.under);
    for (const name of new Set(gated.map((f) => f.facet.under!.facet))) {
      const tree = facets.find((f) => f.facet.name === name && f.facet.tree);
      if (!tree)
        throw new Error(
          `facet ${gated.find((f) => f.facet.under!.facet === name)!.facet.name} is gated by ${name}, which is no TREE facet.`,
        );
      made.set(
        name,
        gateOf(
          tree,
          gated.filter((f) => f.facet.under!.facet === name),
          logitScale,
        ),
      );
    }
    gatesOf.set(facets, made);
  }
  return made;
}

/**
 * The stored facets as the attributes' model: the tree's nodes as categories, each linked to the
 * gated facets that list it, and the facets' labels as their attributes' values.
 */
function gateOf(tree: ScoredFacet, gated: readonly ScoredFacet[], logitScale: number): Gate {
  const nodes = tree.facet.tree!.nodes;
  const short = (id: string) => (id.startsWith(CATEGORY_GID_PREFIX) ? id.slice(CATEGORY_GID_PREFIX.length) : id);
  const attributes = new Map<string, TaxonomyAttribute>();
  const visual: Record<string, VisualAttribute> = {};
  const vectors = new Map<string, Float32Array>();
  const links = new Map<string, AttributeLink[]>();
  const facets = new Map<string, FacetRow>();
  for (const { facet, labelVectors } of gated) {
    const { id, handle, name } = facet.attribute ?? { id: facet.name, handle: facet.name, name: facet.name };
    const values = facet.labels.map((label, i) => ({ id: label, name: facet.labelNames?.[i] ?? label, handle: label }));
    const attribute: TaxonomyAttribute = { id, handle, name, description: '', values };
    attributes.set(handle, attribute);
    visual[handle] = { mode: facet.mode === 'multi' ? 'multi' : 'single', templates: facet.templates };
    facet.labels.forEach((label, i) => vectors.set(label, labelVectors[i]));
    for (const category of facet.under!.categories) {
      const list = links.get(category) ?? [];
      list.push({ attribute, extended: null });
      links.set(category, list);
    }
    facets.set(handle, facet);
  }
  const categories = new Map<string, AttributeCategory>(
    nodes.map((node) => [
      short(node.id),
      {
        id: short(node.id),
        name: node.name,
        parent: node.parent >= 0 ? short(nodes[node.parent].id) : null,
        children: [],
        links: links.get(node.id) ?? [],
        file: tree.facet.name,
      },
    ]),
  );
  const applicable = new ApplicableAttributes({ version: tree.facet.tree!.source, attributes, categories }, visual);
  return {
    tree,
    indexOf: new Map(nodes.map((node, i) => [node.id, i])),
    facets,
    scorer: new AttributeScorer(applicable, vectors, { logitScale }),
  };
}

/** A category's path from the top of the tree, as ids. */
function pathOf(gate: Gate, id: string): string[] {
  const nodes = gate.tree.facet.tree!.nodes;
  const path: string[] = [];
  for (let at = gate.indexOf.get(id) ?? -1; at >= 0; at = nodes[at].parent) path.push(nodes[at].id);
  return path.reverse();
}

/** The deepest of a product's labels in the tree (its manual category comes with its ancestors), as a path. */
function deepestPath(gate: Gate, labels: readonly string[]): string[] {
  let best: string[] = [];
  for (const label of labels) {
    const path = pathOf(gate, label);
    if (path.length > best.length) best = path;
  }
  return best;
}

function tagRows(gate: Gate, scored: readonly AttributeTag[], context: TaggingContext): TagRow[] {
  return scored.map((tag) => {
    const facet = gate.facets.get(tag.attribute)!;
    return {
      productId: tag.productId,
      facet: facet.name,
      label: tag.valueId,
      score: tag.score,
      similarity: tag.similarity,
      source: 'auto',
      needsReview: facet.reviewBelow !== null && tag.score < facet.reviewBelow,
      model: context.model,
      taxonomyVersion: context.taxonomyVersion,
    };
  });
}

/**
 * `tags` (the products' automatic tags in every other facet) with the gated facets' tags added:
 * each product's category is its manual one in the gating TREE facet (read from the store), else
 * the path `tags` give it there. A product whose category has none of a gated facet's categories
 * gets no tag in it.
 */
export async function withGatedTags(
  store: CatalogueStore,
  products: readonly { productId: string; vector: Float32Array }[],
  tags: TagRow[],
  facets: readonly ScoredFacet[],
  context: TaggingContext,
): Promise<TagRow[]> {
  const byTree = gates(facets, context.logitScale);
  if (byTree.size === 0 || products.length === 0) return tags;
  const stored = await storeCall(() => store.getTags(products.map((p) => p.productId)));
  const gatedTags: TagRow[] = [];
  for (const [name, gate] of byTree) {
    const auto = new Map<string, string[]>();
    for (const tag of tags) {
      if (tag.facet !== name) continue;
      const path = auto.get(tag.productId) ?? [];
      path.push(tag.label); // the tagging gives a path from the top down
      auto.set(tag.productId, path);
    }
    const scored = await gate.scorer.score(
      products.map(({ productId, vector }) => {
        const manual = (stored.get(productId) ?? []).filter((t) => t.facet === name && t.source === 'manual').map((t) => t.label);
        return { productId, vector, categoryPath: manual.length > 0 ? deepestPath(gate, manual) : (auto.get(productId) ?? []) };
      }),
    );
    gatedTags.push(...tagRows(gate, scored, context));
  }
  return [...tags, ...gatedTags];
}

/**
 * What a manual change of a product's category in TREE facet `treeName` does to the facets it
 * gates: their automatic tags under the new category (`category`: the manual path, from the top),
 * or, when the manual category is taken away (`category` null), under the path the tagging gives
 * it, which comes back with them. Undefined when the facet gates nothing.
 */
export async function rescoredByCategory(
  facets: readonly ScoredFacet[],
  treeName: string,
  product: { productId: string; vector: Float32Array | undefined },
  category: readonly string[] | null,
  context: TaggingContext,
): Promise<RescoredTags | undefined> {
  const gate = gates(facets, context.logitScale).get(treeName);
  if (!gate) return undefined;
  const names = [...gate.facets.values()].map((f) => f.name);
  const { productId, vector } = product;
  if (!vector) return { facets: category ? names : [treeName, ...names], tags: [] };
  const treeTags = category ? [] : await tagsForMany([{ productId, vector }], [gate.tree], context);
  const categoryPath = category ?? treeTags.map((t) => t.label);
  const scored = await gate.scorer.score([{ productId, vector, categoryPath }]);
  return { facets: category ? names : [treeName, ...names], tags: [...treeTags, ...tagRows(gate, scored, context)] };
}

/**
 * Refuses manual tags in a gated facet (an attribute facet) for a product whose category does not
 * have its attribute, as automatic tagging never gives them: the category is the deepest of the
 * product's labels in the gating TREE facet, its manual ones when it has any. BAD_USER_INPUT naming
 * the category, or saying the product has none yet.
 */
export async function requireGateOpen(
  store: CatalogueStore,
  facets: readonly ScoredFacet[],
  gated: FacetRow,
  productId: string,
): Promise<void> {
  const under = gated.under;
  if (!under) return;
  const tree = facets.find((f) => f.facet.name === under.facet)?.facet;
  const tags = ((await storeCall(() => store.getTags([productId]))).get(productId) ?? []).filter((tag) => tag.facet === under.facet);
  const manual = tags.filter((tag) => tag.source === 'manual');
  const depth = (label: string) => (tree ? (pathTo(tree, label)?.length ?? 0) : 0);
  const category = (manual.length > 0 ? manual : tags).map((tag) => tag.label).sort((a, b) => depth(b) - depth(a))[0];
  if (category !== undefined && under.categories.includes(category)) return;
  const attribute = gated.attribute?.name ?? gated.name;
  throw new FieldError(
    ['labels'],
    ErrorCode.BAD_USER_INPUT,
    category === undefined
      ? `labels: facet ${JSON.stringify(gated.name)} tags only products whose category (facet ${JSON.stringify(under.facet)}) has the attribute ${attribute}, and product ${JSON.stringify(productId)} has no category yet: set its category first.`
      : `labels: facet ${JSON.stringify(gated.name)} tags only products whose category (facet ${JSON.stringify(under.facet)}) has the attribute ${attribute}, and product ${JSON.stringify(productId)} is in ${category}, which does not: set its category first.`,
  );
}
