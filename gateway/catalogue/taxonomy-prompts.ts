import type { FacetRow } from '../store';
import { labelPromptsOf } from './attribute-tags';
import { treeFacetPrompts } from './tree-facets';

// A taxonomy's prompt texts, for Labels (which lists those the store lacks) and for the taxonomy
// job (which names a prompt that fails by the label it belongs to).

/**
 * Each facet's prompt texts: a SINGLE or MULTI facet's label by label (one per template, or an
 * attribute facet's own), a TREE facet's as its tree lists them (each distinct text once). The
 * same texts Labels scores.
 */
function promptsOfFacets(facets: readonly FacetRow[]): ({ labels: string[][] } | { tree: readonly string[] })[] {
  return facets.map((facet) => {
    const tree = treeFacetPrompts(facet);
    return tree ? { tree: tree.prompts.texts } : { labels: labelPromptsOf(facet) };
  });
}

/** Every prompt text of a taxonomy, once each, in the taxonomy's order. */
export function taxonomyPromptTexts(facets: readonly FacetRow[]): string[] {
  const texts = promptsOfFacets(facets).flatMap((prompts) => ('tree' in prompts ? prompts.tree : prompts.labels.flat()));
  return [...new Set(texts)];
}

/**
 * The field a prompt is named by: the first label it is a prompt of (`facets[f].labels[l]`), or
 * the TREE facet it is a node prompt of (`facets[f].tree`), in the taxonomy's order.
 */
export function promptFields(facets: readonly FacetRow[]): (text: string) => string[] {
  const fields = new Map<string, string[]>();
  promptsOfFacets(facets).forEach((prompts, f) => {
    const named = (text: string, field: string[]) => {
      if (!fields.has(text)) fields.set(text, field);
    };
    if ('tree' in prompts) for (const text of prompts.tree) named(text, ['facets', String(f), 'tree']);
    else prompts.labels.forEach((texts, l) => texts.forEach((text) => named(text, ['facets', String(f), 'labels', String(l)])));
  });
  return (text) => fields.get(text) ?? ['facets'];
}
