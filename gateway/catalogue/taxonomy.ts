import { ErrorCode } from '../common/errors';
import type { FacetAttributeRow, FacetGateRow, FacetMode, FacetRow } from '../store';
import { FieldError } from './errors';
import { treeProblems, treeRowOf, type TreeInput } from './taxonomy-tree';
import { DEFAULT_FACET_TEMPLATES } from './templates';

/** A facet as a caller gives it: optional fields take the defaults below. */
export interface FacetInput {
  name: string;
  /** The labels of a SINGLE or MULTI facet; a TREE facet's are its nodes' ids, from `tree`. */
  labels?: string[] | null;
  templates?: string[] | null;
  mode?: FacetMode | null;
  threshold?: number | null;
  reviewBelow?: number | null;
  /** A TREE facet's taxonomy. */
  tree?: TreeInput | null;
  /** A TREE facet over Shopify's taxonomy: its categories' visual attributes as facets of their own (see attribute-facets.ts). */
  attributes?: AttributeFacetsInput | null;
  /** An attribute facet's, as AttributeFacets.expand makes them: FacetRow's fields of the same names. */
  labelPrompts?: string[][] | null;
  labelNames?: string[] | null;
  under?: FacetGateRow | null;
  attribute?: FacetAttributeRow | null;
}

/** What a TREE facet over Shopify's taxonomy asks of its categories' attributes (expanded by attribute-facets.ts). */
export interface AttributeFacetsInput {
  /** Handles of the visual attributes wanted (`color`, `pattern`, see VISUAL_ATTRIBUTES). Default: every one some category of the tree has. */
  only?: string[] | null;
  /** Automatic attribute tags scoring under this (0 to 1) are marked for review. Default: none is. */
  reviewBelow?: number | null;
}

export interface TaxonomyLimits {
  /** Most facets in a taxonomy. */
  maxFacets: number;
  /** Most labels in one facet. */
  maxLabels: number;
  /** Most templates in one facet. */
  maxTemplates: number;
  /** Most nodes of one TREE facet's taxonomy. */
  maxTreeNodes: number;
}

export { DEFAULT_FACET_TEMPLATES };

const MAX_NAME_LENGTH = 200;

/** Why these facets cannot be a taxonomy, as FieldErrors (every problem found, each naming its field); empty when they can. */
export function taxonomyProblems(facets: readonly FacetInput[], limits: TaxonomyLimits): FieldError[] {
  const problems: FieldError[] = [];
  const problem = (field: (string | number)[], message: string, code: ErrorCode = ErrorCode.BAD_USER_INPUT) =>
    problems.push(new FieldError(field.map(String), code, message));
  if (facets.length === 0) problem(['facets'], 'facets is empty; give at least one facet.');
  if (facets.length > limits.maxFacets)
    problem(['facets'], `facets has ${facets.length} facets; the limit is ${limits.maxFacets}.`, ErrorCode.INPUT_TOO_LARGE);
  const names = new Map<string, number>();
  facets.forEach((facet, f) => {
    const at = `facets[${f}]`;
    const name = facet.name.trim();
    if (name === '') problem(['facets', f, 'name'], `${at}.name is empty.`);
    else if (name.length > MAX_NAME_LENGTH) problem(['facets', f, 'name'], `${at}.name is longer than ${MAX_NAME_LENGTH} characters.`);
    else if (names.has(name))
      problem(['facets', f, 'name'], `${at}.name repeats facets[${names.get(name)}].name (${JSON.stringify(name)}).`);
    else names.set(name, f);

    const isTree = facet.mode === 'tree';
    if (isTree !== (facet.tree !== undefined && facet.tree !== null))
      problem(
        ['facets', f, 'tree'],
        isTree ? `${at}.tree is missing: a TREE facet takes its labels from a taxonomy.` : `${at}.tree is for TREE facets only.`,
      );
    if (isTree && facet.tree) problems.push(...treeProblems(facet.tree, ['facets', f, 'tree'], limits.maxTreeNodes));
    if (!isTree && facet.attributes)
      problem(['facets', f, 'attributes'], `${at}.attributes is for TREE facets only: a category's attributes need its category.`);
    if (isTree && facet.labels && facet.labels.length > 0)
      problem(['facets', f, 'labels'], `${at}.labels is for SINGLE and MULTI facets; a TREE facet's labels are its taxonomy's ids.`);
    const labelList = isTree ? [] : (facet.labels ?? []);
    if (!isTree && labelList.length === 0) problem(['facets', f, 'labels'], `${at}.labels is empty; give at least one label.`);
    if (labelList.length > limits.maxLabels)
      problem(
        ['facets', f, 'labels'],
        `${at}.labels has ${labelList.length} labels; the limit is ${limits.maxLabels}.`,
        ErrorCode.INPUT_TOO_LARGE,
      );
    const labels = new Map<string, number>();
    labelList.forEach((raw, l) => {
      const label = raw.trim();
      if (label === '') problem(['facets', f, 'labels', l], `${at}.labels[${l}] is empty.`);
      else if (label.length > MAX_NAME_LENGTH)
        problem(['facets', f, 'labels', l], `${at}.labels[${l}] is longer than ${MAX_NAME_LENGTH} characters.`);
      else if (labels.has(label))
        problem(
          ['facets', f, 'labels', l],
          `${at}.labels[${l}] repeats labels[${labels.get(label)}] (${JSON.stringify(label.slice(0, 100))}).`,
        );
      else labels.set(label, l);
    });

    const templates = facet.templates ?? DEFAULT_FACET_TEMPLATES;
    if (templates.length === 0)
      problem(['facets', f, 'templates'], `${at}.templates is empty; omit it for the default or give at least one.`);
    if (templates.length > limits.maxTemplates)
      problem(
        ['facets', f, 'templates'],
        `${at}.templates has ${templates.length} templates; the limit is ${limits.maxTemplates}.`,
        ErrorCode.INPUT_TOO_LARGE,
      );
    templates.forEach((template, t) => {
      if (!template.includes('{}'))
        problem(
          ['facets', f, 'templates', t],
          `${at}.templates[${t}] has no {} to put the label in: ${JSON.stringify(template.slice(0, 100))}.`,
        );
    });

    for (const key of ['threshold', 'reviewBelow'] as const) {
      const value = facet[key];
      if (value !== null && value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= 1))
        problem(['facets', f, key], `${at}.${key} must be from 0 to 1: ${value}.`);
    }
    if (facet.mode !== 'multi' && facet.threshold !== null && facet.threshold !== undefined)
      problem(
        ['facets', f, 'threshold'],
        `${at}.threshold applies to MULTI facets only; a ${(facet.mode ?? 'single').toUpperCase()} facet keeps its best ${isTree ? 'path' : 'label'}.`,
      );
  });
  return problems;
}

/** The facets as stored: names and labels trimmed, defaults filled in, trees read. Call after taxonomyProblems found none. */
export function facetRows(
  facets: readonly FacetInput[],
  limits: Pick<TaxonomyLimits, 'maxTreeNodes'> = { maxTreeNodes: Number.MAX_SAFE_INTEGER },
): FacetRow[] {
  return facets.map((facet) => {
    const tree = facet.mode === 'tree' && facet.tree ? treeRowOf(facet.tree, limits.maxTreeNodes) : null;
    return {
      name: facet.name.trim(),
      labels: tree ? tree.nodes.map((node) => node.id) : (facet.labels ?? []).map((l) => l.trim()),
      templates: [...(facet.templates ?? DEFAULT_FACET_TEMPLATES)],
      mode: facet.mode ?? 'single',
      threshold: facet.threshold ?? null,
      reviewBelow: facet.reviewBelow ?? null,
      ...(tree ? { tree } : {}),
      ...(facet.under
        ? { labelPrompts: facet.labelPrompts, labelNames: facet.labelNames, under: facet.under, attribute: facet.attribute }
        : {}),
    };
  });
}
