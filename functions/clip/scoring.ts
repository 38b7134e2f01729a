/** Cosine similarity of two unit vectors: their dot product. */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/**
 * Prompt ensembling as in the CLIP paper: the mean of unit vectors (one per template), made unit
 * length again.
 */
export function meanUnitVector(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 0) throw new RangeError('no vectors to average');
  const out = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] += v[i];
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm);
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

export interface IndexScore {
  index: number;
  /** Softmax over all labels of logitScale × similarity. */
  score: number;
  /** Cosine similarity between the image and the label's (ensembled) text embedding. */
  similarity: number;
}

/** Zero-shot scores of one image against label embeddings, sorted by score, best first. */
export function zeroShot(image: Float32Array, labels: readonly Float32Array[], logitScale: number): IndexScore[] {
  const similarities = labels.map((label) => dot(image, label));
  const logits = similarities.map((s) => s * logitScale);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return similarities
    .map((similarity, index) => ({ index, similarity, score: exps[index] / total }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}
