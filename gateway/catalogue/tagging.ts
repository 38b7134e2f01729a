import type { FacetRow, TagRow } from '../store';
import { matrixProduct } from './matrix';
import type { TreeTag, TreeTagger } from './tree';

/**
 * A facet with one text vector per label (prompt-ensembled, unit length), in the facet's label
 * order; a TREE facet has its tagger instead (its nodes' vectors laid out for the beam), and no
 * label vectors.
 */
export interface ScoredFacet {
  facet: FacetRow;
  labelVectors: readonly Float32Array[];
  tagger?: TreeTagger;
  /** A TREE facet's node vectors, in its nodes' order (null for a node without prompts of its own). */
  nodeVectors?: readonly (Float32Array | null)[];
}

export interface TaggingContext {
  /** CLIP's trained logit scale (100 for OpenAI's checkpoints). */
  logitScale: number;
  /** The model key (`name|dtype`) of the vectors being tagged. */
  model: string;
  taxonomyVersion: number;
}

/**
 * The automatic tags of one product from its vector (unit length), facet by facet. Scores are a
 * softmax over the facet's labels of logitScale × cosine similarity, as CLIP's zero-shot
 * classification does. `single` keeps the best label; `multi` keeps every label whose score
 * reaches the facet's threshold (default: 1 / number of labels, the score of a label nothing
 * sets apart). A tag scoring under `reviewBelow` is marked for review.
 *
 * Only arithmetic on stored vectors: re-tagging after a taxonomy change needs no image inference.
 */
export function tagsFor(productId: string, vector: Float32Array, facets: readonly ScoredFacet[], context: TaggingContext): TagRow[] {
  facets = ungated(facets);
  const similarities = new Float32Array(facets.reduce((n, f) => n + f.labelVectors.length, 0));
  const paths = facets.map((f) => f.tagger?.tag(vector));
  let at = 0;
  for (const { facet, labelVectors } of facets) {
    for (const label of labelVectors) {
      if (label.length !== vector.length) {
        throw new RangeError(`facet ${facet.name}: label vectors have ${label.length} dimensions, the product's ${vector.length}`);
      }
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i] * label[i];
      similarities[at++] = dot;
    }
  }
  const tags: TagRow[] = [];
  pushTags(tags, productId, similarities, 0, facets, context, paths);
  return tags;
}

/** Products scored a matrix product: a block of their vectors against every label (bounds its memory, not its speed). */
export const SCORE_BLOCK = 4096;

/**
 * tagsFor over many products at once, the same tags: the similarities of every product with
 * every label of every facet come from one matrix product a block of SCORE_BLOCK products (see
 * matrix.ts), which is what makes re-tagging a whole catalogue cheap.
 */
export async function tagsForMany(
  products: readonly { productId: string; vector: Float32Array }[],
  facets: readonly ScoredFacet[],
  context: TaggingContext,
): Promise<TagRow[]> {
  facets = ungated(facets);
  if (products.length === 0 || facets.length === 0) return [];
  const dim = products[0].vector.length;
  const labels = facets.flatMap((f) => f.labelVectors);
  // b: dim × labels, one column per label.
  const b = new Float32Array(dim * labels.length);
  labels.forEach((label, l) => {
    if (label.length !== dim) throw new RangeError(`label vectors have ${label.length} dimensions, the products' ${dim}`);
    for (let i = 0; i < dim; i++) b[i * labels.length + l] = label[i];
  });
  products.forEach(({ productId, vector }) => {
    if (vector.length !== dim) throw new RangeError(`product ${productId} has ${vector.length} dimensions, the others ${dim}`);
  });
  // A TREE facet's paths, for every product at once (one matrix product a batch, see tree/beam.ts).
  const paths: (TreeTag[] | undefined)[] = [];
  for (const { tagger } of facets) paths.push(tagger ? await tagger.tagMany(products.map((p) => p.vector)) : undefined);
  const tags: TagRow[] = [];
  for (let start = 0; start < products.length; start += SCORE_BLOCK) {
    const block = products.slice(start, start + SCORE_BLOCK);
    const similarities =
      labels.length > 0 ? await matrixProduct(rowsOf(block, dim), block.length, b, dim, labels.length) : new Float32Array(0);
    block.forEach(({ productId }, p) =>
      pushTags(
        tags,
        productId,
        similarities,
        p * labels.length,
        facets,
        context,
        paths.map((ofFacet) => ofFacet?.[start + p]),
      ),
    );
  }
  return tags;
}

/** The products' vectors as one n × dim matrix: the block they already are when they lie one after another in one buffer (a store's block read). */
function rowsOf(products: readonly { vector: Float32Array }[], dim: number): Float32Array {
  const first = products[0].vector;
  const contiguous = products.every(
    ({ vector }, p) => vector.buffer === first.buffer && vector.byteOffset === first.byteOffset + p * dim * 4,
  );
  if (contiguous) return new Float32Array(first.buffer, first.byteOffset, products.length * dim);
  const a = new Float32Array(products.length * dim);
  products.forEach(({ vector }, p) => a.set(vector, p * dim));
  return a;
}

/** Facets gated by a category (attribute facets) are scored once the category is known, in attribute-tags.ts: not here. */
function ungated(facets: readonly ScoredFacet[]): readonly ScoredFacet[] {
  return facets.some((f) => f.facet.under) ? facets.filter((f) => !f.facet.under) : facets;
}

/**
 * The tags of one product from its similarities with every label, facets in order from `offset`;
 * a TREE facet's from its path (`paths`, by facet): one tag a level, labelled with the node's id.
 */
function pushTags(
  tags: TagRow[],
  productId: string,
  similarities: Float32Array,
  offset: number,
  facets: readonly ScoredFacet[],
  context: TaggingContext,
  paths: readonly (TreeTag | undefined)[],
): void {
  let at = offset;
  for (const [f, { facet, labelVectors }] of facets.entries()) {
    const path = paths[f];
    if (path) {
      for (const level of path.path) {
        tags.push({
          productId,
          facet: facet.name,
          label: level.id,
          score: level.score,
          // A node without prompts of its own has only its children's similarity.
          similarity: level.own ?? level.similarity,
          source: 'auto',
          needsReview: facet.reviewBelow !== null && level.score < facet.reviewBelow,
          model: context.model,
          taxonomyVersion: context.taxonomyVersion,
        });
      }
      continue;
    }
    const count = labelVectors.length;
    const scale = context.logitScale;
    let max = -Infinity;
    let best = 0;
    for (let l = 0; l < count; l++) {
      if (similarities[at + l] > max) {
        max = similarities[at + l];
        best = l;
      }
    }
    // Softmax of logitScale × similarity, shifted by the largest for exp's sake.
    let total = 0;
    for (let l = 0; l < count; l++) total += Math.exp((similarities[at + l] - max) * scale);
    if (facet.mode === 'single') {
      const score = Math.exp((similarities[at + best] - max) * scale) / total;
      tags.push(autoTag(productId, facet, best, score, similarities[at + best], context));
    } else {
      const threshold = facet.threshold ?? 1 / count;
      for (let l = 0; l < count; l++) {
        const score = Math.exp((similarities[at + l] - max) * scale) / total;
        if (score >= threshold) tags.push(autoTag(productId, facet, l, score, similarities[at + l], context));
      }
    }
    at += count;
  }
}

/** One automatic tag: label `l` of `facet`. */
function autoTag(productId: string, facet: FacetRow, l: number, score: number, similarity: number, context: TaggingContext): TagRow {
  return {
    productId,
    facet: facet.name,
    label: facet.labels[l],
    score,
    similarity,
    source: 'auto',
    needsReview: facet.reviewBelow !== null && score < facet.reviewBelow,
    model: context.model,
    taxonomyVersion: context.taxonomyVersion,
  };
}
