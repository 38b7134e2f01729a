import type { FacetRow, TagRow } from '../store/port';

/** A facet with one text vector per label (prompt-ensembled, unit length), in the facet's label order. */
export interface ScoredFacet {
  facet: FacetRow;
  labelVectors: readonly Float32Array[];
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
  const tags: TagRow[] = [];
  for (const { facet, labelVectors } of facets) {
    const count = labelVectors.length;
    const similarities = new Float64Array(count);
    let max = -Infinity;
    for (let l = 0; l < count; l++) {
      const label = labelVectors[l];
      if (label.length !== vector.length) {
        throw new RangeError(`facet ${facet.name}: label vectors have ${label.length} dimensions, the product's ${vector.length}`);
      }
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i] * label[i];
      similarities[l] = dot;
      max = Math.max(max, dot * context.logitScale);
    }
    const scores = new Float64Array(count);
    let total = 0;
    for (let l = 0; l < count; l++) {
      scores[l] = Math.exp(similarities[l] * context.logitScale - max);
      total += scores[l];
    }
    for (let l = 0; l < count; l++) scores[l] /= total;
    const keep =
      facet.mode === 'single'
        ? [scores.indexOf(Math.max(...scores))]
        : [...scores.keys()].filter((l) => scores[l] >= (facet.threshold ?? 1 / count));
    for (const l of keep) {
      tags.push({
        productId,
        facet: facet.name,
        label: facet.labels[l],
        score: scores[l],
        similarity: similarities[l],
        source: 'auto',
        needsReview: facet.reviewBelow !== null && scores[l] < facet.reviewBelow,
        model: context.model,
        taxonomyVersion: context.taxonomyVersion,
      });
    }
  }
  return tags;
}
