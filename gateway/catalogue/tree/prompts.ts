/**
 * What a taxonomy tree's nodes are called in CLIP prompts, and their vectors from those prompts'.
 * A node under a parent is named with its parent as context ("a photo of boots, a kind of shoes."):
 * names repeat across a taxonomy (Shopify has five "T-Shirts"), and the parent is what tells them
 * apart. Texts are collected once for the whole tree, since label vectors are stored by model and
 * prompt text: a text that several nodes share is embedded once.
 */
import { meanUnitVector } from '../../../functions/clip';
import { DEFAULT_FACET_TEMPLATES } from '../templates';
import type { TaxonomyNode, TaxonomyTree } from './tree';

/** How a node under a parent is named in its prompts (the CHiLS / ProTeCt style of context). */
export const DEFAULT_CONTEXT_TEMPLATE = '{name}, a kind of {parent}';

export interface TreePromptOptions {
  /** The facet's templates, `{}` standing for the node's text. Default: DEFAULT_FACET_TEMPLATES (`a photo of a {}.`). */
  templates?: readonly string[];
  /**
   * A node's text when it has a parent, from `{name}` and `{parent}` (the parent's name); null for the
   * name alone. A top node is always its name alone. Default: DEFAULT_CONTEXT_TEMPLATE.
   */
  contextTemplate?: string | null;
  /**
   * Whether a node has prompts of its own; one without is scored through its children only (a level
   * whose names mean nothing to CLIP, say). A leaf must have them. Default: every node does.
   */
  hasVocabulary?: (node: TaxonomyNode, index: number) => boolean;
}

export interface TreePrompts {
  /** Every distinct prompt text of the tree, in the order first used: what to embed, once each. */
  readonly texts: readonly string[];
  /** Each node's prompts as indices into `texts`, without repeats; empty for a node without vocabulary. */
  readonly ofNode: readonly (readonly number[])[];
}

/** The prompts of every node of a tree, each distinct text once. Options are checked here, where they enter. */
export function treePrompts(tree: TaxonomyTree, options: TreePromptOptions = {}): TreePrompts {
  const templates = options.templates ?? DEFAULT_FACET_TEMPLATES;
  const contextTemplate = options.contextTemplate === undefined ? DEFAULT_CONTEXT_TEMPLATE : options.contextTemplate;
  checkTemplates(templates, contextTemplate);
  const hasVocabulary = options.hasVocabulary ?? (() => true);
  const texts: string[] = [];
  const indexOf = new Map<string, number>();
  const ofNode = tree.nodes.map((node, index) => {
    if (!hasVocabulary(node, index)) return [];
    const parent = node.parent >= 0 ? tree.nodes[node.parent].name : undefined;
    const text = nodeText(node.name, parent, contextTemplate);
    const own = new Set<number>();
    for (const template of templates) {
      const prompt = template.replaceAll('{}', () => text);
      let at = indexOf.get(prompt);
      if (at === undefined) {
        at = texts.length;
        texts.push(prompt);
        indexOf.set(prompt, at);
      }
      own.add(at);
    }
    return [...own];
  });
  return { texts, ofNode };
}

/** A node's name as its prompts say it: with its parent's name as context, when it has a parent and a context template. */
export function nodeText(name: string, parent: string | undefined, contextTemplate: string | null = DEFAULT_CONTEXT_TEMPLATE): string {
  if (parent === undefined || contextTemplate === null) return name;
  // One pass, so that a name holding "{parent}" is not itself replaced.
  return contextTemplate.replace(/\{name\}|\{parent\}/g, (slot) => (slot === '{name}' ? name : parent));
}

/**
 * Each node's vector: the normalised mean of its prompts' text vectors (prompt ensembling, as the
 * flat facets do), null for a node without prompts. `textVectors` are in the order of `prompts.texts`.
 */
export function nodeVectors(prompts: TreePrompts, textVectors: readonly Float32Array[]): (Float32Array | null)[] {
  if (textVectors.length !== prompts.texts.length) {
    throw new RangeError(`nodeVectors: ${textVectors.length} text vectors for ${prompts.texts.length} prompt texts`);
  }
  return prompts.ofNode.map((own) => (own.length === 0 ? null : meanUnitVector(own.map((t) => textVectors[t]))));
}

function checkTemplates(templates: readonly string[], contextTemplate: string | null): void {
  if (templates.length === 0) throw new TypeError('templates is empty; omit it for the default or give at least one.');
  templates.forEach((template, t) => {
    if (!template.includes('{}')) throw new TypeError(`templates[${t}] has no {} for the name: ${JSON.stringify(template)}`);
  });
  if (contextTemplate !== null && !(contextTemplate.includes('{name}') && contextTemplate.includes('{parent}'))) {
    throw new TypeError(`contextTemplate must hold both {name} and {parent}: ${JSON.stringify(contextTemplate)}`);
  }
}
