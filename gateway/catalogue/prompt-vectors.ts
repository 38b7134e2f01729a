import type { CatalogueStore, VectorModel } from '../store';
import type { Embedder } from './embedder';
import { storeCall } from './errors';

/**
 * Texts embedded, then stored, per step: the embedder batches a step's texts across its batches in
 * flight, and each step's vectors are stored before the next starts, so work cut short (a failure,
 * a restart) keeps what it embedded. 1,024 prompts of ViT-B/32 are 2 MB of vectors.
 */
export const PROMPT_STEP = 1_024;

/** A prompt the embedder could not embed: which one, and why. */
export class PromptFailed extends Error {
  constructor(
    readonly text: string,
    readonly reason: unknown,
  ) {
    super(`the prompt ${JSON.stringify(text.slice(0, 100))} could not be embedded`, { cause: reason });
    this.name = 'PromptFailed';
  }
}

/**
 * The vectors of label prompts, embedded once per model and text: read from the store, and only
 * the texts it does not hold yet sent to the embedder (then stored). So a restarted gateway embeds
 * no prompt, and a new taxonomy version only the prompts no version had before.
 */
export class PromptVectors {
  constructor(
    private readonly store: CatalogueStore,
    private readonly embeddings: Embedder,
    /** The embedder's model: the vectors are stored under it. */
    private readonly model: VectorModel,
  ) {}

  /** The texts of `texts` the store holds no vector of, once each, in their first order. */
  async missing(texts: readonly string[]): Promise<string[]> {
    const unique = [...new Set(texts)];
    const stored = await storeCall(() => this.store.getLabelVectors(this.model, unique));
    return unique.filter((text) => !stored.has(text));
  }

  /**
   * Every text's vector, by text. Stored vectors are read; the others are embedded PROMPT_STEP at
   * a time, each step stored before the next (`embedded` is told how many so far). A text the
   * embedder fails rejects with PromptFailed naming the first such text of its step, once the
   * vectors of the others of the step are stored.
   */
  async vectorsOf(texts: readonly string[], embedded?: (done: number, of: number) => void): Promise<Map<string, Float32Array>> {
    const unique = [...new Set(texts)];
    const vectors = await storeCall(() => this.store.getLabelVectors(this.model, unique));
    const missing = unique.filter((text) => !vectors.has(text));
    for (const [text, vector] of await this.embed(missing, embedded)) vectors.set(text, vector);
    return vectors;
  }

  /**
   * Embeds `texts` (none of which is stored, presumably) and stores their vectors, a step at a
   * time; see vectorsOf. Returns them by text.
   */
  async embed(texts: readonly string[], embedded?: (done: number, of: number) => void): Promise<Map<string, Float32Array>> {
    const made = new Map<string, Float32Array>();
    for (let start = 0; start < texts.length; start += PROMPT_STEP) {
      const step = texts.slice(start, start + PROMPT_STEP);
      const settled = await Promise.allSettled(step.map((text) => this.embeddings.embedText(text)));
      const rows: { text: string; vector: Float32Array }[] = [];
      settled.forEach((result, i) => {
        if (result.status === 'fulfilled') rows.push({ text: step[i], vector: result.value });
      });
      // Kept even when some of the step failed: they need not be embedded again.
      if (rows.length > 0) await storeCall(() => this.store.putLabelVectors(this.model, rows));
      for (const { text, vector } of rows) made.set(text, vector);
      const failed = settled.findIndex((result) => result.status === 'rejected');
      if (failed >= 0) {
        throw new PromptFailed(step[failed], (settled[failed] as PromiseRejectedResult).reason);
      }
      embedded?.(made.size, texts.length);
    }
    return made;
  }
}
