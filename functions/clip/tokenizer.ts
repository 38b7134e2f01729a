import type { Tokenizer as TokenizerClass } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };

import type { TextSpec } from './model-dir';

// The package ships a CommonJS build next to its ES module, but declares its types as ESM only;
// load the CommonJS build so the core stays loadable with require() (jest, worker threads).
const { Tokenizer } = require('@huggingface/tokenizers') as { Tokenizer: typeof TokenizerClass };

/** `longest` pads to the longest text of the batch; `max_length` to the model's positions. */
export type Padding = 'longest' | 'max_length';

export interface TokenBatch {
  /** Row-major [batch, sequenceLength] token ids, padded with the pad token. */
  inputIds: BigInt64Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: BigInt64Array;
  batchSize: number;
  sequenceLength: number;
}

/**
 * CLIP's tokenizer from `tokenizer.json`, with CLIP's truncation and padding.
 *
 * Padding to the longest text is safe because CLIP's text tower is causal and pools at the end
 * token: nothing after it can reach it. Short prompts then cost a fraction of a 77-token run.
 */
export class ClipTokenizer {
  private readonly tokenizer: TokenizerClass;

  constructor(private readonly spec: TextSpec) {
    this.tokenizer = new Tokenizer(spec.tokenizerJson, spec.tokenizerConfig);
  }

  get contextLength(): number {
    return this.spec.contextLength;
  }

  /** Token ids with start and end tokens, truncated to the context length keeping the end token. */
  encode(text: string): number[] {
    const ids = this.tokenizer.encode(text).ids;
    if (ids.length <= this.spec.contextLength) return ids;
    return [...ids.slice(0, this.spec.contextLength - 1), ids[ids.length - 1]];
  }

  encodeBatch(texts: readonly string[], padding: Padding = 'longest'): TokenBatch {
    const encoded = texts.map((text) => this.encode(text));
    const sequenceLength = padding === 'max_length' ? this.spec.contextLength : Math.max(1, ...encoded.map((ids) => ids.length));
    const inputIds = new BigInt64Array(texts.length * sequenceLength).fill(BigInt(this.spec.padTokenId));
    const attentionMask = new BigInt64Array(texts.length * sequenceLength);
    encoded.forEach((ids, row) => {
      ids.forEach((id, col) => {
        inputIds[row * sequenceLength + col] = BigInt(id);
        attentionMask[row * sequenceLength + col] = 1n;
      });
    });
    return { inputIds, attentionMask, batchSize: texts.length, sequenceLength };
  }
}
