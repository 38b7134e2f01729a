/**
 * The shape every taxonomy becomes, whatever file it came from: nodes in an array, each parent
 * before its children, linked by index. Indices rather than objects so that the tagger can lay the
 * tree out in typed arrays, and the order is the file's, so that ties break the same way on every run.
 */
import { check, positiveInt } from '../../../functions/options';

export interface TaxonomyNode {
  /** The taxonomy's own id: Shopify's category GID, Google's number as a string. */
  readonly id: string;
  /** The node's own name (the last part of its path), as the file gives it. */
  readonly name: string;
  /** The parent's index in `nodes`, -1 for a top node. */
  readonly parent: number;
  /** 1 for a top node, counted from the top of this tree (a subtree's root is at depth 1). */
  readonly depth: number;
  /** The children's indices in `nodes`, in file order. */
  readonly children: readonly number[];
  /** The line of the file it came from (1-based), or its row's position when built from rows. */
  readonly line: number;
}

export interface TaxonomyTree {
  /** Every node, parents before children, in file order. */
  readonly nodes: readonly TaxonomyNode[];
  /** The top nodes' indices, in file order. */
  readonly roots: readonly number[];
}

/** A problem in a taxonomy's text, at the line it names. */
export class TaxonomyParseError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'TaxonomyParseError';
  }
}

/** Which part of a parsed taxonomy to keep. */
export interface SubtreeOptions {
  /** The id of the node whose subtree is kept (it becomes the only root). Default: the whole taxonomy. */
  root?: string;
  /** Levels kept, counting from the top of the result: 1 keeps the root(s) only. Default: every level. */
  depth?: number;
}

interface MutableNode {
  id: string;
  name: string;
  parent: number;
  depth: number;
  children: number[];
  line: number;
}

/**
 * Collects nodes as a file is read, refusing a repeated id with the line of its first use. The
 * readers check their own formats' parent rules before they add a node.
 */
export class TreeBuilder {
  private readonly nodes: MutableNode[] = [];
  private readonly roots: number[] = [];
  private readonly byId = new Map<string, number>();

  /** The index of the node with this id, if it was added. */
  indexOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  node(index: number): TaxonomyNode {
    return this.nodes[index];
  }

  add(id: string, name: string, parent: number, line: number): number {
    const first = this.byId.get(id);
    if (first !== undefined) throw new TaxonomyParseError(line, `the id ${id} repeats line ${this.nodes[first].line}.`);
    const index = this.nodes.length;
    const depth = parent < 0 ? 1 : this.nodes[parent].depth + 1;
    this.nodes.push({ id, name, parent, depth, children: [], line });
    this.byId.set(id, index);
    if (parent < 0) this.roots.push(index);
    else this.nodes[parent].children.push(index);
    return index;
  }

  build(): TaxonomyTree {
    return { nodes: this.nodes, roots: this.roots };
  }
}

/**
 * A tree from rows that name their parent by id, parents first (as a store keeps the nodes of an
 * imported taxonomy): what the tagger needs, rebuilt without the file. Errors name the row.
 */
export function treeFromRows(rows: readonly { id: string; name: string; parentId: string | null }[]): TaxonomyTree {
  const builder = new TreeBuilder();
  rows.forEach((row, r) => {
    const parent = row.parentId === null ? -1 : builder.indexOf(row.parentId);
    if (parent === undefined) {
      throw new RangeError(`rows[${r}] (${row.id}): its parent ${row.parentId} is not among the rows before it.`);
    }
    if (builder.indexOf(row.id) !== undefined) throw new RangeError(`rows[${r}]: the id ${row.id} repeats an earlier row.`);
    builder.add(row.id, row.name, parent, r);
  });
  return builder.build();
}

/**
 * The part of a tree that `root` and `depth` select, re-indexed, depths counted from its top. The
 * caller turns its own short forms of ids into the tree's ids first (parse.ts does for Shopify's).
 */
export function subtree(tree: TaxonomyTree, options: SubtreeOptions): TaxonomyTree {
  const { root, depth } = options;
  if (depth !== undefined) check('depth', depth, positiveInt, (message) => new RangeError(message));
  if (root === undefined && depth === undefined) return tree;
  let tops = tree.roots;
  if (root !== undefined) {
    const at = tree.nodes.findIndex((node) => node.id === root);
    if (at < 0) throw new RangeError(`root ${JSON.stringify(root)} is not the id of any category in this taxonomy.`);
    tops = [at];
  }
  const maxDepth = depth ?? Infinity;
  const builder = new TreeBuilder();
  // Depth-first in children order would reorder the file; walking the nodes in file order and keeping
  // those whose kept parent is known keeps it (parents come first).
  const kept = new Map<number, number>(); // old index -> new index
  const top = new Set(tops);
  tree.nodes.forEach((node, old) => {
    const parent = top.has(old) ? -1 : kept.get(node.parent);
    if (parent === undefined) return;
    if (parent >= 0 && builder.node(parent).depth >= maxDepth) return;
    kept.set(old, builder.add(node.id, node.name, parent, node.line));
  });
  return builder.build();
}

/** The names from the top of the tree down to a node. */
export function pathOf(tree: TaxonomyTree, index: number): string[] {
  const names: string[] = [];
  for (let at = index; at >= 0; at = tree.nodes[at].parent) names.push(tree.nodes[at].name);
  return names.reverse();
}

/** The indices of the nodes without children, in file order. */
export function leavesOf(tree: TaxonomyTree): number[] {
  const leaves: number[] = [];
  tree.nodes.forEach((node, i) => {
    if (node.children.length === 0) leaves.push(i);
  });
  return leaves;
}
