import { ErrorCode } from '../common/errors';
import type { FacetMode, FacetRow } from '../store';
import { FieldError } from './errors';

/** A facet as a caller gives it: optional fields take the defaults below. */
export interface FacetInput {
  name: string;
  labels: string[];
  templates?: string[] | null;
  mode?: FacetMode | null;
  threshold?: number | null;
  reviewBelow?: number | null;
}

export interface TaxonomyLimits {
  /** Most facets in a taxonomy. */
  maxFacets: number;
  /** Most labels in one facet. */
  maxLabels: number;
  /** Most templates in one facet. */
  maxTemplates: number;
}

/** CLIP's zero-shot prompt, as `classify` uses by default. */
export const DEFAULT_FACET_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}.']);

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

    if (facet.labels.length === 0) problem(['facets', f, 'labels'], `${at}.labels is empty; give at least one label.`);
    if (facet.labels.length > limits.maxLabels)
      problem(
        ['facets', f, 'labels'],
        `${at}.labels has ${facet.labels.length} labels; the limit is ${limits.maxLabels}.`,
        ErrorCode.INPUT_TOO_LARGE,
      );
    const labels = new Map<string, number>();
    facet.labels.forEach((raw, l) => {
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
    if (facet.mode === 'single' && facet.threshold !== null && facet.threshold !== undefined)
      problem(['facets', f, 'threshold'], `${at}.threshold applies to MULTI facets only; a SINGLE facet keeps its best label.`);
  });
  return problems;
}

/** The facets as stored: names and labels trimmed, defaults filled in. Call after taxonomyProblems found none. */
export function facetRows(facets: readonly FacetInput[]): FacetRow[] {
  return facets.map((facet) => ({
    name: facet.name.trim(),
    labels: facet.labels.map((l) => l.trim()),
    templates: [...(facet.templates ?? DEFAULT_FACET_TEMPLATES)],
    mode: facet.mode ?? 'single',
    threshold: facet.threshold ?? null,
    reviewBelow: facet.reviewBelow ?? null,
  }));
}
