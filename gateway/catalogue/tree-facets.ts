import type { FacetRow } from '../store';
import type { ScoredFacet } from './tagging';
import { taxonomyTreeOf } from './taxonomy-tree';
import { nodeVectors, treePrompts, TreeTagger, type TaxonomyTree, type TreePrompts } from './tree';

/**
 * TREE facets as the tagging uses them: their stored nodes made a tree again, its prompts listed
 * (each distinct text once: they are embedded and stored like any label prompt), and a tagger over
 * the nodes' vectors.
 */

/** A TREE facet's tree and prompts. */
export interface TreeFacetPrompts {
  tree: TaxonomyTree;
  prompts: TreePrompts;
}

/** The tree and prompts of a TREE facet; undefined for any other facet. */
export function treeFacetPrompts(facet: FacetRow): TreeFacetPrompts | undefined {
  if (facet.mode !== 'tree' || !facet.tree) return undefined;
  const tree = taxonomyTreeOf(facet.tree);
  return { tree, prompts: treePrompts(tree, { templates: facet.templates, contextTemplate: facet.tree.contextTemplate }) };
}

/** A TREE facet ready to tag, from the vectors of its prompts (by text). */
export function scoredTreeFacet(
  facet: FacetRow,
  { tree, prompts }: TreeFacetPrompts,
  vectors: ReadonlyMap<string, Float32Array>,
  logitScale: number,
): ScoredFacet {
  const ofNodes = nodeVectors(
    prompts,
    prompts.texts.map((text) => vectors.get(text)!),
  );
  return {
    facet,
    labelVectors: [],
    nodeVectors: ofNodes,
    tagger: new TreeTagger(tree, ofNodes, { logitScale, beamWidth: facet.tree!.beamWidth }),
  };
}

/** The indices of a category and its ancestors, from the top down; undefined when the facet has no such id. */
export function pathTo(facet: FacetRow, id: string): number[] | undefined {
  const nodes = facet.tree?.nodes ?? [];
  let at = nodes.findIndex((node) => node.id === id);
  if (at < 0) return undefined;
  const path: number[] = [];
  for (; at >= 0; at = nodes[at].parent) path.push(at);
  return path.reverse();
}
