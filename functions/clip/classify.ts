import { meanUnitVector, zeroShot } from './scoring';

/** The prompt of CLIP's zero-shot examples; `{}` stands for the label. */
export const DEFAULT_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}.']);

/** How a problem names one item of the labels or templates: `labels[3]` by default; the CLI says `--label #4`. */
export type ItemNamer = (list: 'labels' | 'templates', index: number) => string;

const indexed: ItemNamer = (list, index) => `${list}[${index}]`;

/**
 * Why labels and templates cannot make a classifier, as a sentence; undefined when they can.
 * Labels are compared after trimming: a repeated label would split its probability with its twin
 * (two identical prompts score 0.5/0.5), so it is refused, naming both positions.
 */
export function classifierInputProblem(
  labels: readonly string[],
  templates: readonly string[],
  name: ItemNamer = indexed,
): string | undefined {
  if (labels.length === 0) return 'labels is empty; give at least one label.';
  if (templates.length === 0) return 'templates is empty; omit it for the default or give at least one.';
  const template = templates.findIndex((t) => !t.includes('{}'));
  if (template >= 0)
    return `${name('templates', template)} has no {} to put the label in: ${JSON.stringify(templates[template].slice(0, 100))}.`;
  const label = labels.findIndex((l) => l.trim() === '');
  if (label >= 0) return `${name('labels', label)} is empty.`;
  const first = new Map<string, number>();
  for (const [index, l] of labels.entries()) {
    const key = l.trim();
    const earlier = first.get(key);
    if (earlier !== undefined) {
      return (
        `${name('labels', index)} repeats ${name('labels', earlier)} (${JSON.stringify(key.slice(0, 100))}); ` +
        'give each label once, since repeated labels split the probability between them.'
      );
    }
    first.set(key, index);
  }
  return undefined;
}

/** A label whose prompts could not be embedded; `cause` says why. */
export class LabelEmbeddingError extends Error {
  override readonly name = 'LabelEmbeddingError';

  constructor(
    readonly index: number,
    readonly label: string,
    cause: unknown,
  ) {
    super(`label ${JSON.stringify(label)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface LabelScore {
  label: string;
  /** Softmax over all labels of logitScale × similarity. */
  score: number;
  /** Cosine similarity between the image and the label's (ensembled) text embedding. */
  similarity: number;
}

/**
 * Zero-shot classification as in the CLIP paper: each label becomes one prompt per template, the
 * prompts' text embeddings are averaged (prompt ensembling), and an image is scored by a softmax
 * over logitScale × cosine similarity. The label vectors are made once and score any number of images.
 */
export class ZeroShotClassifier {
  private constructor(
    readonly labels: readonly string[],
    private readonly vectors: readonly Float32Array[],
    private readonly logitScale: number,
  ) {}

  /**
   * Embeds every label's prompts with `embedText` (which may batch and cache as it likes). Rejects
   * with a LabelEmbeddingError naming the first label that failed.
   */
  static async create(
    labels: readonly string[],
    embedText: (text: string) => Promise<Float32Array>,
    options: { templates?: readonly string[]; logitScale: number },
  ): Promise<ZeroShotClassifier> {
    const templates = options.templates ?? DEFAULT_TEMPLATES;
    const problem = classifierInputProblem(labels, templates);
    if (problem) throw new RangeError(problem);
    const vectors = await Promise.all(
      labels.map(async (label, index) => {
        try {
          // A function, so that `$&` and friends in a label are taken literally.
          return meanUnitVector(await Promise.all(templates.map((t) => embedText(t.replaceAll('{}', () => label)))));
        } catch (error) {
          throw new LabelEmbeddingError(index, label, error);
        }
      }),
    );
    return new ZeroShotClassifier(labels, vectors, options.logitScale);
  }

  /** The labels by score, best first, cut to `topK`. */
  classify(image: Float32Array, topK = this.labels.length): LabelScore[] {
    return zeroShot(image, this.vectors, this.logitScale)
      .slice(0, topK)
      .map((s) => ({ label: this.labels[s.index], score: s.score, similarity: s.similarity }));
  }
}
