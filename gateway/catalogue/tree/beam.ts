/**
 * Tagging a product down a taxonomy tree with a beam.
 *
 * The scoring, in three rules:
 *
 * 1. A node's own similarity is the dot product of the product's vector and the node's (both unit
 *    length). A node may have no vector ("no vocabulary of its own"): it has no own similarity.
 * 2. Its effective similarity is the larger of its own and its children's effective similarities,
 *    computed bottom-up; a leaf's is its own. So a parent is scored through its children (CHiLS,
 *    ICML 2023: CLIP names fine classes better than coarse ones, ProTeCt, CVPR 2024, saw it get the
 *    coarse level wrong while the leaf is right), a node without a vector takes its best child's,
 *    and a coarse prompt that matches better than anything under it still counts.
 * 3. A node's level score is the softmax among its siblings (the roots among the roots) of
 *    logitScale × effective similarity, as the flat facets score labels (tagging.ts). The path's
 *    score is the product of its levels' scores.
 *
 * The beam starts from the roots and keeps the `beamWidth` candidates with the best effective
 * similarity; each step replaces every kept node that has children by its children (a leaf stays,
 * as a finished path) and keeps the best `beamWidth` again, until only leaves are kept. The answer
 * is the best of them.
 *
 * Why the beam as wide as the tree gives the flat best leaf, exactly: the beam ranks by effective
 * similarity, which for a finished path is its leaf's own similarity, and ties go to the earlier
 * node in file order in both. With `beamWidth` ≥ the number of nodes nothing is ever dropped, so
 * the last step holds every leaf, and the best of them by their own similarity is the flat best
 * leaf. A narrower beam can differ only when it drops the subtree of that leaf on the way, which
 * rule 2 makes rare: the leaf lifts every one of its ancestors to at least its own similarity, so
 * they fall out of the beam only behind nodes whose subtree matches better, through a prompt of
 * their own. (The level scores do not rank paths: their product would prefer a path of confident
 * single-child levels to the best leaf, and the property would fail.)
 *
 * Many products at once: one matrix product for the similarities of a batch with every node that
 * has a vector (matrix.ts), then the bottom-up maximum and the beam in typed arrays per product.
 */
import { check, positiveInt, positiveNumber } from '../../../functions/options';
import { matrixProduct } from '../matrix';
import type { TaxonomyTree } from './tree';

/**
 * Candidates kept at each level. Five keeps the runner-ups that a coarse mistake needs (the right
 * branch is usually second or third) at a cost the bench measures beside beams of 1 and 20: the
 * beam's work is beamWidth × children per level, next to the similarities' one pass over every node.
 */
export const DEFAULT_BEAM_WIDTH = 5;
/** Products per matrix product: 512 × 10,595 nodes of float32 similarities is 22 MB at a time. */
export const DEFAULT_TREE_BATCH_SIZE = 512;

export interface TreeTaggerOptions {
  /** CLIP's trained logit scale (the model's `logitScale`, 100 for OpenAI's checkpoints): the level scores' softmax temperature. Required. */
  logitScale: number;
  /** Candidates kept at each level. Default: DEFAULT_BEAM_WIDTH (5). */
  beamWidth?: number;
  /** Products per matrix product in tagMany. Default: DEFAULT_TREE_BATCH_SIZE (512). */
  batchSize?: number;
}

/** One level of a tagged path. */
export interface TreeLevel {
  /** The node's index in the tree's nodes. */
  index: number;
  id: string;
  name: string;
  /** Softmax among the node's siblings of logitScale × effective similarity. */
  score: number;
  /** Effective similarity: the larger of the node's own and its children's (what the score and the beam use). */
  similarity: number;
  /** The node's own similarity; null for a node without a vector. */
  own: number | null;
}

export interface TreeTag {
  /** The leaf's index in the tree's nodes. */
  leaf: number;
  /** The leaf's id: the tag's label. */
  id: string;
  /** From the top level down to the leaf. */
  path: TreeLevel[];
  /** The product of the path's level scores. */
  score: number;
}

/**
 * A tree with a vector per node (or null), laid out for tagging: built once per taxonomy and set of
 * label vectors, then used for any number of products.
 */
export class TreeTagger {
  readonly beamWidth: number;
  readonly logitScale: number;
  readonly batchSize: number;
  /** The vectors' dimension. */
  readonly dimension: number;
  private readonly count: number;
  private readonly parent: Int32Array;
  /** Children of node i are childList[childStart[i] .. childStart[i + 1]); the roots are `roots`. */
  private readonly childStart: Int32Array;
  private readonly childList: Int32Array;
  private readonly roots: Int32Array;
  /** Node → column of `labels`, or -1 for a node without a vector. */
  private readonly column: Int32Array;
  private readonly columns: number;
  /** dimension × columns, row-major: the right-hand side of the matrix product. */
  private readonly labels: Float32Array;
  // Per-product scratch, reused: tagging is synchronous between matrix products. Float32 like the
  // similarities it holds: the bottom-up pass only copies and compares them.
  private readonly effective: Float32Array;
  private readonly beam: Int32Array;
  private readonly candidates: Int32Array;

  constructor(
    private readonly tree: TaxonomyTree,
    vectors: readonly (Float32Array | null)[],
    options: TreeTaggerOptions,
  ) {
    this.logitScale = check('logitScale', options.logitScale, positiveNumber);
    this.beamWidth = check('beamWidth', options.beamWidth ?? DEFAULT_BEAM_WIDTH, positiveInt);
    this.batchSize = check('batchSize', options.batchSize ?? DEFAULT_TREE_BATCH_SIZE, positiveInt);
    const { nodes } = tree;
    if (nodes.length === 0) throw new RangeError('The tree has no nodes to tag with.');
    if (vectors.length !== nodes.length) throw new RangeError(`${vectors.length} vectors for a tree of ${nodes.length} nodes`);
    this.count = nodes.length;
    this.dimension = vectors.find((v) => v !== null)?.length ?? 0;
    this.parent = Int32Array.from(nodes, (node) => node.parent);
    this.childStart = new Int32Array(nodes.length + 1);
    nodes.forEach((node, i) => {
      if (node.parent >= i) throw new RangeError(`node ${node.id} comes before its parent: a tree lists parents first`);
      this.childStart[i + 1] = this.childStart[i] + node.children.length;
    });
    this.childList = Int32Array.from(nodes.flatMap((node) => node.children));
    this.roots = Int32Array.from(tree.roots);
    this.column = new Int32Array(nodes.length).fill(-1);
    let columns = 0;
    vectors.forEach((vector, i) => {
      const node = nodes[i];
      if (vector === null) {
        if (node.children.length === 0) {
          throw new RangeError(`node ${node.id} (${node.name}) has no vector and no children: nothing could score it.`);
        }
        return;
      }
      if (vector.length !== this.dimension) {
        throw new RangeError(`node ${node.id} (${node.name}) has a vector of ${vector.length} dimensions, the others ${this.dimension}`);
      }
      this.column[i] = columns++;
    });
    this.columns = columns;
    this.labels = new Float32Array(this.dimension * columns);
    vectors.forEach((vector, i) => {
      if (vector === null) return;
      const c = this.column[i];
      for (let d = 0; d < this.dimension; d++) this.labels[d * columns + c] = vector[d];
    });
    this.effective = new Float32Array(nodes.length);
    this.beam = new Int32Array(Math.min(this.beamWidth, nodes.length));
    // Every step's candidates are distinct nodes: at most all of them.
    this.candidates = new Int32Array(nodes.length);
  }

  /** One product's tag (its vector unit length), the similarities computed here. */
  tag(product: Float32Array): TreeTag {
    return this.walk(this.similarities(product), 0);
  }

  /** Many products' tags, in order: the similarities of each batch from one matrix product. */
  async tagMany(products: readonly Float32Array[]): Promise<TreeTag[]> {
    const tags: TreeTag[] = [];
    for (let from = 0; from < products.length; from += this.batchSize) {
      const batch = products.slice(from, from + this.batchSize);
      const a = new Float32Array(batch.length * this.dimension);
      batch.forEach((product, p) => {
        this.checkProduct(product, from + p);
        a.set(product, p * this.dimension);
      });
      const similarities = await matrixProduct(a, batch.length, this.labels, this.dimension, this.columns);
      for (let p = 0; p < batch.length; p++) tags.push(this.walk(similarities, p * this.columns));
    }
    return tags;
  }

  /**
   * The flat classifier's answer: the leaf whose own similarity is highest, the earliest in file
   * order on a tie. The beam as wide as the tree gives this leaf (see the comment at the top).
   */
  flatBestLeaf(product: Float32Array): number {
    const similarities = this.similarities(product);
    let best = -1;
    for (let i = 0; i < this.count; i++) {
      if (this.childStart[i + 1] !== this.childStart[i]) continue;
      if (best < 0 || similarities[this.column[i]] > similarities[this.column[best]]) best = i;
    }
    return best;
  }

  /** Similarities of one product with every node's vector, in column order. */
  private similarities(product: Float32Array): Float32Array {
    this.checkProduct(product, 0);
    const sums = new Float64Array(this.columns);
    const { labels, columns } = this;
    for (let d = 0; d < this.dimension; d++) {
      const x = product[d];
      const row = d * columns;
      for (let c = 0; c < columns; c++) sums[c] += x * labels[row + c];
    }
    return Float32Array.from(sums);
  }

  private checkProduct(product: Float32Array, index: number): void {
    if (product.length !== this.dimension) {
      throw new RangeError(`product ${index} has ${product.length} dimensions, the tree's vectors ${this.dimension}`);
    }
  }

  /** The beam over one product's similarities (columns at `offset`), to its tag. */
  private walk(similarities: Float32Array, offset: number): TreeTag {
    const { effective, parent, column, count } = this;
    // Every node with a vector (the usual tree) has its column at its own index: one copy.
    if (this.columns === count) effective.set(similarities.subarray(offset, offset + count));
    else for (let i = 0; i < count; i++) effective[i] = column[i] < 0 ? -Infinity : similarities[offset + column[i]];
    // Parents come before children, so going backwards every node is final before it reaches its parent.
    for (let i = count - 1; i > 0; i--) {
      const p = parent[i];
      if (p >= 0 && effective[i] > effective[p]) effective[p] = effective[i];
    }
    let kept = this.keep(this.roots, this.roots.length);
    for (;;) {
      let candidates = 0;
      let open = false;
      for (let b = 0; b < kept; b++) {
        const node = this.beam[b];
        const start = this.childStart[node];
        const end = this.childStart[node + 1];
        if (start === end) this.candidates[candidates++] = node;
        else {
          open = true;
          for (let c = start; c < end; c++) this.candidates[candidates++] = this.childList[c];
        }
      }
      if (!open) break;
      kept = this.keep(this.candidates, candidates);
    }
    return this.tagOf(this.beam[0], similarities, offset);
  }

  /**
   * The best `beamWidth` of `from[0 .. length)` into `this.beam`, best first: by effective
   * similarity, then the earlier node. An insertion into a short sorted list: the beam is a few
   * nodes and most candidates fall below its last at the first comparison.
   */
  private keep(from: Int32Array, length: number): number {
    const { beam, effective } = this;
    const width = beam.length;
    let kept = 0;
    for (let c = 0; c < length; c++) {
      const node = from[c];
      const e = effective[node];
      if (kept === width && !better(e, node, effective[beam[kept - 1]], beam[kept - 1])) continue;
      let at = kept === width ? kept - 1 : kept++;
      while (at > 0 && better(e, node, effective[beam[at - 1]], beam[at - 1])) {
        beam[at] = beam[at - 1];
        at--;
      }
      beam[at] = node;
    }
    return kept;
  }

  /** The tag of a leaf: its path from the top with each level's score among its siblings. */
  private tagOf(leaf: number, similarities: Float32Array, offset: number): TreeTag {
    const { nodes } = this.tree;
    const path: TreeLevel[] = [];
    let score = 1;
    for (let node = leaf; node >= 0; node = this.parent[node]) {
      const p = this.parent[node];
      const siblings = p < 0 ? this.roots : this.childList.subarray(this.childStart[p], this.childStart[p + 1]);
      const levelScore = this.softmaxOf(node, siblings);
      score *= levelScore;
      path.push({
        index: node,
        id: nodes[node].id,
        name: nodes[node].name,
        score: levelScore,
        similarity: this.effective[node],
        own: this.column[node] < 0 ? null : similarities[offset + this.column[node]],
      });
    }
    path.reverse();
    return { leaf, id: nodes[leaf].id, path, score };
  }

  /** softmax(logitScale × effective similarity) of `node` among `siblings`, shifted by their largest for exp's sake. */
  private softmaxOf(node: number, siblings: Int32Array): number {
    const { effective, logitScale } = this;
    let max = -Infinity;
    for (const s of siblings) if (effective[s] > max) max = effective[s];
    let total = 0;
    for (const s of siblings) total += Math.exp((effective[s] - max) * logitScale);
    return Math.exp((effective[node] - max) * logitScale) / total;
  }
}

/** Whether (e, node) ranks before (other, otherNode): higher similarity, then earlier in file order. */
function better(e: number, node: number, other: number, otherNode: number): boolean {
  return e > other || (e === other && node < otherNode);
}
