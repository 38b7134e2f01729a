import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';

import { ClipErrorCode, ModelLoadError, type EmbedResult } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();
const logLines: string[] = [];
let model: ClipModel;

beforeAll(async () => {
  model = await ClipModel.load(TINY_CLIP_DIR, { log: (line) => logLines.push(line) });
});
afterAll(() => model.release());

const vectorOf = (result: EmbedResult) => {
  if (!result.ok) throw new Error(`expected a vector, got ${result.code}: ${result.message}`);
  return result.vector;
};
const errorOf = (result: EmbedResult) => {
  if (result.ok) throw new Error('expected an error, got a vector');
  return result;
};

describe('ClipModel.load', () => {
  it('reads every size from the model directory', () => {
    expect(model.info).toMatchObject({
      dim: 64,
      imageSize: 64,
      cropWidth: 64,
      cropHeight: 64,
      contextLength: 32,
      dtype: 'fp32',
      device: 'cpu',
    });
    expect(model.info.logitScale).toBeGreaterThan(1);
    expect(logLines).toContain('vision model: running on the CPU execution provider');
  });

  it('falls back to the CPU when CUDA is asked for but absent, and says so', async () => {
    const lines: string[] = [];
    const onCuda = await ClipModel.load(TINY_CLIP_DIR, { device: 'cuda', log: (line) => lines.push(line) });
    try {
      expect(onCuda.info.device).toBe('cpu');
      expect(
        lines.some((l) =>
          /^vision model: the CUDA execution provider library is not installed: .* is missing .*; running on the CPU$/.test(l),
        ),
      ).toBe(true);
    } finally {
      await onCuda.release();
    }
  });

  describe('with a copy of the model directory', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'tiny-clip-'));
      cpSync(TINY_CLIP_DIR, dir, { recursive: true });
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const loadError = (options = {}) =>
      ClipModel.load(dir, { log: () => {}, ...options }).then(
        (m) => {
          void m.release();
          throw new Error('expected the load to fail');
        },
        (e: unknown) => e as Error,
      );

    it('loads the *_quantized.onnx files for dtype q8', async () => {
      copyFileSync(join(dir, 'onnx', 'text_model.onnx'), join(dir, 'onnx', 'text_model_quantized.onnx'));
      copyFileSync(join(dir, 'onnx', 'vision_model.onnx'), join(dir, 'onnx', 'vision_model_quantized.onnx'));
      rmSync(join(dir, 'onnx', 'vision_model.onnx'));
      const q8 = await ClipModel.load(dir, { dtype: 'q8', log: () => {} });
      expect(q8.info.dtype).toBe('q8');
      expect(q8.spec.visionModelPath).toMatch(/vision_model_quantized\.onnx$/);
      await q8.release();
    });

    it('names the missing file', async () => {
      const error = await loadError({ dtype: 'q8' });
      expect(error).toBeInstanceOf(ModelLoadError);
      expect(error.message).toMatch(/has no onnx\/text_model_quantized\.onnx, needed for dtype q8/);
    });

    it('names a file that is not JSON', async () => {
      writeFileSync(join(dir, 'preprocessor_config.json'), '{"size": ');
      expect((await loadError()).message).toMatch(/preprocessor_config\.json in .* is not valid JSON/);
    });

    it('names a missing config.json', async () => {
      rmSync(join(dir, 'config.json'));
      expect((await loadError()).message).toMatch(/has no readable config\.json; expected a CLIP config/);
    });

    it('refuses a projection_dim the model does not produce, at load', async () => {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ projection_dim: 32, text_config: { max_position_embeddings: 32 } }));
      expect((await loadError()).message).toMatch(/text_embeds came back as float32 \[1, 64\]; expected float32 \[1, 32\]/);
    });

    it('uses the OpenAI logit scale (100) when config.json states none', async () => {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ projection_dim: 64, text_config: { max_position_embeddings: 32 } }));
      const plain = await ClipModel.load(dir, { log: () => {} });
      expect(plain.info.logitScale).toBe(100);
      await plain.release();
    });

    it('refuses an unknown dtype and bad options with the option named', async () => {
      expect((await loadError({ dtype: 'fp64' })).message).toMatch(/dtype must be one of fp32, fp16, q8/);
      expect((await loadError({ maxRunBatch: 0 })).message).toBe('maxRunBatch must be a positive integer, got 0');
    });
  });
});

describe('embeddings equal the PyTorch reference', () => {
  it('for texts (cosine ≥ 0.9999)', async () => {
    const results = await model.embedTexts(reference.texts.map((t) => t.text));
    results.forEach((result, i) => {
      expect(cosine(vectorOf(result), reference.texts[i].embedding)).toBeGreaterThanOrEqual(0.9999);
    });
  });

  it('for the same pixels (cosine ≥ 0.9999)', async () => {
    const results = await model.embedCrops(reference.images.map((i) => i.crop));
    results.forEach((result, i) => {
      const vector = vectorOf(result);
      expect(cosine(vector, reference.images[i].embedding)).toBeGreaterThanOrEqual(0.9999);
      const norm = Math.sqrt(vector.reduce((s, v) => s + v * v, 0));
      expect(norm).toBeCloseTo(1, 5);
    });
  });

  it('for the encoded images through sharp (cosine ≥ 0.99)', async () => {
    const results = await model.embedImages(reference.images.map((i) => i.bytes));
    const cosines = results.map((result, i) => cosine(vectorOf(result), reference.images[i].embedding));
    process.stdout.write(`sharp-decoded vs PIL-decoded image embeddings: min cosine ${Math.min(...cosines).toFixed(5)}\n`);
    cosines.forEach((c) => expect(c).toBeGreaterThanOrEqual(0.99));
  });

  it('for colour profiles and image modes through sharp (cosine ≥ 0.999)', async () => {
    // Not the 16-bit greyscale PNG, which PIL 9.4 clips to white (see image-crop.test.ts).
    const images = reference.decoding.filter((i) => !(i.mode === 'I' && i.bits === 16));
    const results = await model.embedImages(images.map((i) => i.bytes));
    const cosines = results.map((result, i) => cosine(vectorOf(result), images[i].embedding));
    process.stdout.write(`colour profiles and modes vs PyTorch: min cosine ${Math.min(...cosines).toFixed(5)}\n`);
    cosines.forEach((c) => expect(c).toBeGreaterThanOrEqual(0.999));
  });
});

describe('text batching', () => {
  it('gives the same embeddings padded to the longest text as padded to the maximum (max |diff| ≤ 1e-4)', async () => {
    const texts = ['a red circle', 'a photo of a big blue star.', '', 'itap of a pink triangle'];
    const longest = await model.embedTexts(texts, 'longest');
    const max = await model.embedTexts(texts, 'max_length');
    let worst = 0;
    longest.forEach((r, i) => vectorOf(r).forEach((v, k) => (worst = Math.max(worst, Math.abs(v - vectorOf(max[i])[k])))));
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('gives a text the same embedding alone as among others', async () => {
    const alone = await model.embedTexts(['a photo of a green square.']);
    const among = await model.embedTexts(['x', 'a photo of a green square.', 'the quick brown fox jumps over the lazy dog']);
    expect(cosine(vectorOf(alone[0]), vectorOf(among[1]))).toBeGreaterThanOrEqual(0.99999);
  });

  it('splits calls larger than maxRunBatch and keeps the order', async () => {
    const small = await ClipModel.load(TINY_CLIP_DIR, { maxRunBatch: 3, log: () => {} });
    const texts = reference.texts.map((t) => t.text);
    const results = await small.embedTexts(texts);
    results.forEach((r, i) => expect(cosine(vectorOf(r), reference.texts[i].embedding)).toBeGreaterThanOrEqual(0.9999));
    await small.release();
  });
});

describe('bad inputs fail alone and leave the model healthy', () => {
  it('an empty text has a defined embedding (start and end tokens)', async () => {
    const [empty] = await model.embedTexts(['']);
    const fromReference = reference.texts.find((t) => t.text === '')!;
    expect(cosine(vectorOf(empty), fromReference.embedding)).toBeGreaterThanOrEqual(0.9999);
  });

  it('a 10,000-character text is truncated to the model positions', async () => {
    const long = 'a photo of a red circle. '.repeat(400);
    expect(long).toHaveLength(10_000);
    const [truncated, prefix] = await model.embedTexts([long, 'a photo of a red circle. '.repeat(20)]);
    expect(cosine(vectorOf(truncated), vectorOf(prefix))).toBeGreaterThanOrEqual(0.9999);
  });

  it('a text over maxTextChars is INPUT_TOO_LARGE, its neighbours unharmed', async () => {
    const results = await model.embedTexts(['a red circle', 'x'.repeat(20_001), 'a blue star']);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(errorOf(results[1])).toMatchObject({
      code: ClipErrorCode.INPUT_TOO_LARGE,
      message: 'The text is 20001 characters; the limit is 20000.',
    });
  });

  it('a crop of the wrong size is BAD_USER_INPUT', async () => {
    const results = await model.embedCrops([reference.images[0].crop, new Uint8Array(10)]);
    expect(results[0].ok).toBe(true);
    expect(errorOf(results[1])).toMatchObject({ code: ClipErrorCode.BAD_USER_INPUT });
    expect(errorOf(results[1]).message).toBe('The image crop is 10 bytes; this model takes 64×64×3 = 12288 bytes.');
  });

  it('undecodable images among good ones fail only their own slots', async () => {
    const good = reference.images[0].bytes;
    const other = reference.images[1].bytes;
    const inputs: Uint8Array[] = [
      good,
      new Uint8Array(0),
      good.subarray(0, good.length >> 1),
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      await sharp(good).tiff().toBuffer(),
      Uint8Array.from({ length: 999 }, (_, i) => (i * 31) & 0xff),
      other,
    ];
    const results = await model.embedImages(inputs);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok',
      ClipErrorCode.BAD_USER_INPUT,
      ClipErrorCode.IMAGE_DECODE_FAILED,
      ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      ClipErrorCode.UNSUPPORTED_IMAGE_FORMAT,
      'ok',
    ]);
    const [alone] = await model.embedImages([other]);
    expect(cosine(vectorOf(results[6]), vectorOf(alone))).toBeGreaterThanOrEqual(0.99999);
  });

  it('still answers afterwards', async () => {
    const [text] = await model.embedTexts([reference.texts[0].text]);
    expect(cosine(vectorOf(text), reference.texts[0].embedding)).toBeGreaterThanOrEqual(0.9999);
  });
});
