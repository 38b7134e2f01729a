import { readModelDirectory } from '../../../functions/clip';
import { ClipTokenizer } from '../../../functions/clip/tokenizer';
import { loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const spec = readModelDirectory(TINY_CLIP_DIR);
const tokenizer = new ClipTokenizer(spec.text);
const reference = loadReference();
const vocab = (spec.text.tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab;
const START = vocab['<|startoftext|>'];
const END = vocab['<|endoftext|>'];

describe('ClipTokenizer', () => {
  it.each(reference.texts.map((t) => [JSON.stringify(t.text).slice(0, 40), t] as const))(
    'gives the Python reference ids for %s',
    (_, { text, ids }) => {
      expect(tokenizer.encode(text)).toEqual(ids);
    },
  );

  it('encodes the empty text as start and end tokens only', () => {
    expect(tokenizer.encode('')).toEqual([START, END]);
    expect(tokenizer.encode('   \t\n ')).toEqual([START, END]);
  });

  it('truncates long texts to the context length, keeping the end token', () => {
    const ids = tokenizer.encode('a photo of a red circle. '.repeat(400));
    expect(ids).toHaveLength(spec.text.contextLength);
    expect(ids[0]).toBe(START);
    expect(ids[ids.length - 1]).toBe(END);
    expect(ids.slice(1, -1)).not.toContain(END);
    expect(ids).toEqual(tokenizer.encode('a photo of a red circle. '.repeat(40)));
  });

  it('pads a batch to its longest text, or to the context length when asked', () => {
    const texts = ['a red circle', 'a photo of a big blue star.', ''];
    const longest = tokenizer.encodeBatch(texts);
    const lengths = texts.map((t) => tokenizer.encode(t).length);
    expect(longest.sequenceLength).toBe(Math.max(...lengths));
    expect(longest.batchSize).toBe(3);
    const row = (batch: typeof longest, r: number, field: 'inputIds' | 'attentionMask') =>
      Array.from(batch[field].subarray(r * batch.sequenceLength, (r + 1) * batch.sequenceLength), Number);
    expect(row(longest, 2, 'inputIds')).toEqual([START, END, ...Array(longest.sequenceLength - 2).fill(spec.text.padTokenId)]);
    expect(row(longest, 2, 'attentionMask')).toEqual([1, 1, ...Array(longest.sequenceLength - 2).fill(0)]);

    const max = tokenizer.encodeBatch(texts, 'max_length');
    expect(max.sequenceLength).toBe(spec.text.contextLength);
    expect(row(max, 0, 'inputIds').slice(0, lengths[0])).toEqual(tokenizer.encode(texts[0]));
  });
});
