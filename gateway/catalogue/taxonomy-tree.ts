import { ErrorCode } from '../common/errors';
import type { FacetTreeRow } from '../store';
import { FieldError } from './errors';
import {
  BUNDLED_TAXONOMIES,
  DEFAULT_BEAM_WIDTH,
  DEFAULT_CONTEXT_TEMPLATE,
  readBundledTaxonomy,
  TAXONOMY_FORMATS,
  TreeBuilder,
  type TaxonomyFormat,
  type TaxonomyTree,
} from './tree';

/** A TREE facet's taxonomy as a caller gives it: a bundled one by name, or a file's text in one of the formats. */
export interface TreeInput {
  /** A taxonomy shipped with the gateway (BUNDLED_TAXONOMIES), e.g. `shopify-2025-08`. */
  bundled?: string | null;
  /** The text of a taxonomy file, in `format`. */
  text?: string | null;
  /** `shopify` (categories.txt) or `google` (taxonomy-with-ids); with `text`, and implied by `bundled`. */
  format?: TaxonomyFormat | null;
  /** Keep the subtree of this id only (Shopify: a GID or its short form, `aa-1`; Google: the number). */
  root?: string | null;
  /** Keep this many levels from the top. */
  depth?: number | null;
  /** Candidates kept at each level. Default DEFAULT_BEAM_WIDTH. */
  beamWidth?: number | null;
  /** How a node's prompts name it with its parent (`{name}`, `{parent}`). Undefined: DEFAULT_CONTEXT_TEMPLATE; null: the name alone. */
  contextTemplate?: string | null;
}

/** Largest beam: past the widest level of any real taxonomy (Shopify's widest parent has 80 children), a wider beam only costs. */
export const MAX_BEAM_WIDTH = 1000;

type Parsed = { row: FacetTreeRow } | { problems: FieldError[] };

// taxonomyProblems and facetRows both need the parse of one input: the first does it, the second reuses it.
const parsedInputs = new WeakMap<TreeInput, Parsed>();

/** Why this input cannot be a TREE facet's taxonomy (each problem naming its field under `at`); empty when it can. */
export function treeProblems(input: TreeInput, at: (string | number)[], maxNodes: number): FieldError[] {
  const parsed = parse(input, at.map(String), maxNodes);
  return 'problems' in parsed ? parsed.problems : [];
}

/** The stored form of an input that treeProblems found nothing wrong with. */
export function treeRowOf(input: TreeInput, maxNodes: number): FacetTreeRow {
  const parsed = parse(input, ['tree'], maxNodes);
  if ('problems' in parsed) throw parsed.problems[0];
  return parsed.row;
}

/** The tree a stored row describes, for prompts and tagging. */
export function taxonomyTreeOf(row: FacetTreeRow): TaxonomyTree {
  const builder = new TreeBuilder();
  row.nodes.forEach((node, i) => builder.add(node.id, node.name, node.parent, i + 1));
  return builder.build();
}

function parse(input: TreeInput, at: string[], maxNodes: number): Parsed {
  let parsed = parsedInputs.get(input);
  if (!parsed) {
    parsed = parseInput(input, at, maxNodes);
    parsedInputs.set(input, parsed);
  }
  return parsed;
}

function parseInput(input: TreeInput, at: string[], maxNodes: number): Parsed {
  const name = at.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
  const problem = (field: string, message: string, code: ErrorCode = ErrorCode.BAD_USER_INPUT): Parsed => ({
    problems: [new FieldError([...at, field], code, `${name}.${field} ${message}`)],
  });
  const hasText = input.text !== undefined && input.text !== null;
  const hasBundled = input.bundled !== undefined && input.bundled !== null;
  if (hasText === hasBundled)
    return problem('text', 'or bundled: give exactly one (a taxonomy file’s text, or a bundled taxonomy’s name).');
  let source: string;
  let format: TaxonomyFormat;
  let text: string;
  if (hasBundled) {
    const bundled = readBundledTaxonomy(input.bundled!);
    if (!bundled) {
      return problem(
        'bundled',
        `is not a bundled taxonomy: ${JSON.stringify(input.bundled)}; they are ${Object.keys(BUNDLED_TAXONOMIES).join(', ')}.`,
      );
    }
    if (input.format && input.format !== bundled.format) {
      return problem('format', `is ${input.format}, but ${input.bundled} is in the ${bundled.format} format; omit it.`);
    }
    ({ format, text } = bundled);
    source = input.bundled!;
  } else {
    if (!input.format || !Object.hasOwn(TAXONOMY_FORMATS, input.format)) {
      return problem('format', `must be ${Object.keys(TAXONOMY_FORMATS).join(' or ')} with text: ${JSON.stringify(input.format ?? null)}.`);
    }
    format = input.format;
    text = input.text!;
    source = 'text';
  }
  const beamWidth = input.beamWidth ?? DEFAULT_BEAM_WIDTH;
  if (!Number.isInteger(beamWidth) || beamWidth < 1 || beamWidth > MAX_BEAM_WIDTH) {
    return problem('beamWidth', `must be a whole number from 1 to ${MAX_BEAM_WIDTH}: ${beamWidth}.`);
  }
  const contextTemplate = input.contextTemplate === undefined ? DEFAULT_CONTEXT_TEMPLATE : input.contextTemplate;
  if (contextTemplate !== null && !(contextTemplate.includes('{name}') && contextTemplate.includes('{parent}'))) {
    return problem(
      'contextTemplate',
      `must hold both {name} and {parent}, or be null for names alone: ${JSON.stringify(contextTemplate.slice(0, 100))}.`,
    );
  }
  let tree: TaxonomyTree;
  try {
    tree = TAXONOMY_FORMATS[format](text, { root: input.root ?? undefined, depth: input.depth ?? undefined });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const field = /^root /.test(message) ? 'root' : /^depth /.test(message) ? 'depth' : hasBundled ? 'bundled' : 'text';
    return problem(field, field === 'text' || field === 'bundled' ? `cannot be read: ${message}` : message.replace(/^(root|depth) /, ''));
  }
  if (tree.nodes.length === 0) return problem('text', 'holds no category.');
  if (tree.nodes.length > maxNodes) {
    return problem(
      hasBundled ? 'bundled' : 'text',
      `has ${tree.nodes.length} categories; the limit is ${maxNodes} (take a part of it with root or depth).`,
      ErrorCode.INPUT_TOO_LARGE,
    );
  }
  return {
    row: {
      source,
      format,
      root: input.root ?? null,
      depth: input.depth ?? null,
      nodes: tree.nodes.map((node) => ({ id: node.id, name: node.name, parent: node.parent })),
      beamWidth,
      contextTemplate,
    },
  };
}
