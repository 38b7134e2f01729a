import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ModelLoadError } from '../../../functions/clip/errors';
import { parsePreprocessorConfig, readModelDirectory, type ModelDtype } from '../../../functions/clip/model-dir';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

type Json = Record<string, unknown>;

const readJson = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json;

/** The error `fn` throws; fails the test if it throws none. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, got none');
}

/** The ModelLoadError's message. */
function loadError(fn: () => unknown): string {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ModelLoadError);
  expect(error.name).toBe('ModelLoadError');
  return error.message;
}

const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];

describe('readModelDirectory with the bundled tiny CLIP', () => {
  const spec = readModelDirectory(TINY_CLIP_DIR);
  const config = readJson(TINY_CLIP_DIR, 'config.json');
  const preprocessor = readJson(TINY_CLIP_DIR, 'preprocessor_config.json');
  const vocab = (readJson(TINY_CLIP_DIR, 'tokenizer.json').model as { vocab: Record<string, number> }).vocab;

  it('reads what its JSON files say', () => {
    // config.json: projection_dim 64, the trained logit_scale, max_position_embeddings 32.
    expect(config.projection_dim).toBe(64);
    expect(spec.dim).toBe(64);
    expect(spec.logitScale).toBe(config.logit_scale);
    expect(spec.logitScale).toBeGreaterThan(10);
    expect(spec.text.contextLength).toBe(32);
    // tokenizer_config.json's pad_token is <|endoftext|>, 606 in tokenizer.json, as config.json's pad_token_id says.
    expect(vocab['<|endoftext|>']).toBe(606);
    expect(spec.text.padTokenId).toBe(606);
    expect(spec.text.tokenizerJson).toEqual(readJson(TINY_CLIP_DIR, 'tokenizer.json'));
    expect(spec.text.tokenizerConfig).toEqual(readJson(TINY_CLIP_DIR, 'tokenizer_config.json'));
  });

  it('takes its name from the directory when config.json has no _name_or_path', () => {
    expect(config._name_or_path).toBeUndefined();
    expect(spec.name).toBe('tiny-clip');
    expect(spec.directory).toBe(TINY_CLIP_DIR);
  });

  it('finds the fp32 ONNX files', () => {
    expect(spec.dtype).toBe('fp32');
    expect(spec.textModelPath).toBe(join(TINY_CLIP_DIR, 'onnx', 'text_model.onnx'));
    expect(spec.visionModelPath).toBe(join(TINY_CLIP_DIR, 'onnx', 'vision_model.onnx'));
  });

  it('reads the image preprocessing: shortest edge 64, 64×64 centre crop, bicubic, OpenAI mean and std', () => {
    expect(preprocessor).toMatchObject({ size: { shortest_edge: 64 }, crop_size: { height: 64, width: 64 }, resample: 3 });
    expect(spec.image).toEqual({
      doResize: true,
      shortestEdge: 64,
      resizeTo: undefined,
      kernel: 'cubic',
      doCenterCrop: true,
      cropWidth: 64,
      cropHeight: 64,
      doRescale: true,
      rescaleFactor: 0.00392156862745098,
      doNormalize: true,
      mean: OPENAI_MEAN,
      std: OPENAI_STD,
    });
  });
});

describe('parsePreprocessorConfig', () => {
  it('applies CLIPImageProcessor’s defaults to an empty config', () => {
    expect(parsePreprocessorConfig({})).toEqual({
      doResize: true,
      shortestEdge: 224,
      resizeTo: undefined,
      kernel: 'cubic',
      doCenterCrop: true,
      cropWidth: 224,
      cropHeight: 224,
      doRescale: true,
      rescaleFactor: 1 / 255,
      doNormalize: true,
      mean: OPENAI_MEAN,
      std: OPENAI_STD,
    });
  });

  it('reads size and crop_size given as numbers (older exports)', () => {
    const spec = parsePreprocessorConfig({ size: 256, crop_size: 240 });
    expect(spec).toMatchObject({ shortestEdge: 256, resizeTo: undefined, cropWidth: 240, cropHeight: 240 });
  });

  it('reads size as {shortest_edge} and crop_size as {height, width}', () => {
    const spec = parsePreprocessorConfig({ size: { shortest_edge: 300 }, crop_size: { height: 200, width: 288 } });
    expect(spec).toMatchObject({ shortestEdge: 300, resizeTo: undefined, cropWidth: 288, cropHeight: 200 });
  });

  it('reads size as {height, width}: resize to exactly that', () => {
    const spec = parsePreprocessorConfig({ size: { height: 240, width: 320 }, crop_size: { height: 224, width: 224 } });
    expect(spec).toMatchObject({ shortestEdge: undefined, resizeTo: { width: 320, height: 240 }, cropWidth: 224, cropHeight: 224 });
  });

  it('reads crop_size as {shortest_edge}: a square', () => {
    expect(parsePreprocessorConfig({ size: 64, crop_size: { shortest_edge: 32 } })).toMatchObject({ cropWidth: 32, cropHeight: 32 });
  });

  it('without a centre crop, crops to the exact resize size', () => {
    const spec = parsePreprocessorConfig({ do_center_crop: false, size: { height: 224, width: 224 }, crop_size: 100 });
    expect(spec).toMatchObject({ doCenterCrop: false, resizeTo: { width: 224, height: 224 }, cropWidth: 224, cropHeight: 224 });
  });

  // An exact resize is compared side by side with the crop, not by its shorter side (here, without
  // a centre crop, 320×240 is the crop).
  it('without a centre crop, accepts a non-square exact resize size', () => {
    const spec = parsePreprocessorConfig({ do_center_crop: false, size: { height: 240, width: 320 } });
    expect(spec).toMatchObject({ resizeTo: { width: 320, height: 240 }, cropWidth: 320, cropHeight: 240 });
  });

  // With a centre crop: resized to exactly 320×240, a 300×240 crop fits.
  it('accepts a non-square crop inside a non-square exact resize', () => {
    const spec = parsePreprocessorConfig({ size: { height: 240, width: 320 }, crop_size: { height: 240, width: 300 } });
    expect(spec).toMatchObject({ cropWidth: 300, cropHeight: 240 });
  });

  it('leaves size out when do_resize is false', () => {
    const spec = parsePreprocessorConfig({ do_resize: false, size: 16, crop_size: 64 });
    expect(spec).toMatchObject({ doResize: false, shortestEdge: undefined, resizeTo: undefined, cropWidth: 64, cropHeight: 64 });
  });

  it('maps PIL’s resample numbers to kernels', () => {
    const kernels = [0, 1, 2, 3].map((resample) => parsePreprocessorConfig({ resample }).kernel);
    expect(kernels).toEqual(['nearest', 'lanczos3', 'linear', 'cubic']);
  });

  it('reads the flags, rescale factor, mean and std', () => {
    const spec = parsePreprocessorConfig({
      do_rescale: false,
      do_normalize: false,
      rescale_factor: 0.5,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.25, 0.5, 1],
    });
    expect(spec).toMatchObject({ doRescale: false, doNormalize: false, rescaleFactor: 0.5, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] });
  });

  it.each([
    [{ resample: 4 }, "preprocessor_config.json: resample must be one of 0, 1, 2, 3 (PIL's filters), got 4."],
    [{ resample: -1 }, "preprocessor_config.json: resample must be one of 0, 1, 2, 3 (PIL's filters), got -1."],
    [{ resample: 'bicubic' }, 'preprocessor_config.json: resample must be one of 0, 1, 2, 3 (PIL\'s filters), got "bicubic".'],
    [{ size: 0 }, 'preprocessor_config.json: size must be a positive integer, got 0.'],
    [{ size: 224.5 }, 'preprocessor_config.json: size must be a positive integer, got 224.5.'],
    [{ size: 'big' }, 'preprocessor_config.json: size must be a number, {"shortest_edge": n} or {"height": h, "width": w}, got "big".'],
    [{ size: {} }, 'preprocessor_config.json: size must be a number, {"shortest_edge": n} or {"height": h, "width": w}, got {}.'],
    [{ size: { shortest_edge: -5 } }, 'preprocessor_config.json: size.shortest_edge must be a positive integer, got -5.'],
    [{ size: { height: 300 } }, 'preprocessor_config.json: size.width must be a positive integer, got undefined.'],
    [{ crop_size: { width: 300 } }, 'preprocessor_config.json: crop_size.height must be a positive integer, got undefined.'],
    [
      { size: { shortest_edge: 200 } },
      'preprocessor_config.json: size ({"shortest_edge":200}) is smaller than crop_size (224×224); the crop would need padding.',
    ],
    [
      { size: 64, crop_size: { height: 64, width: 65 } },
      'preprocessor_config.json: size (64) is smaller than crop_size (65×64); the crop would need padding.',
    ],
    [
      { do_center_crop: false, size: { shortest_edge: 224 } },
      'preprocessor_config.json: without do_center_crop, size must give height and width so every image has one size.',
    ],
    [
      { do_center_crop: false, do_resize: false, size: { height: 224, width: 224 } },
      'preprocessor_config.json: without do_center_crop, size must give height and width so every image has one size.',
    ],
    [{ rescale_factor: 0 }, 'preprocessor_config.json: rescale_factor must be a positive number, got 0.'],
    [{ image_mean: [0.5, 0.5] }, 'preprocessor_config.json: image_mean must be a list of 3 numbers, got [0.5,0.5].'],
    [{ image_mean: [0.5, '0.5', 0.5] }, 'preprocessor_config.json: image_mean must be a list of 3 numbers, got [0.5,"0.5",0.5].'],
    [{ image_std: [1, 0, 1] }, 'preprocessor_config.json: image_std must be a list of 3 positive numbers, got [1,0,1].'],
    [{ image_std: 0.5 }, 'preprocessor_config.json: image_std must be a list of 3 positive numbers, got 0.5.'],
  ])('refuses %j, naming the file and the key', (config, message) => {
    expect(loadError(() => parsePreprocessorConfig(config as Json))).toBe(message);
  });

  // Names on Object.prototype must not pass for a PIL filter ("toString" would give a function).
  it('refuses a resample that names an Object.prototype member', () => {
    expect(loadError(() => parsePreprocessorConfig({ resample: 'toString' }))).toBe(
      'preprocessor_config.json: resample must be one of 0, 1, 2, 3 (PIL\'s filters), got "toString".',
    );
  });

  it('accepts a negative mean (only std must be positive)', () => {
    expect(parsePreprocessorConfig({ image_mean: [-1, 0, 1] }).mean).toEqual([-1, 0, 1]);
  });

  it('names the file it is given', () => {
    expect(loadError(() => parsePreprocessorConfig({ resample: 9 }, 'custom.json'))).toBe(
      "custom.json: resample must be one of 0, 1, 2, 3 (PIL's filters), got 9.",
    );
  });
});

describe('readModelDirectory with a copy of the model directory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'model-dir-'));
    cpSync(TINY_CLIP_DIR, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Rewrites one JSON file of the copy. */
  const edit = (file: string, change: (json: Json) => void) => {
    const json = readJson(dir, file);
    change(json);
    writeFileSync(join(dir, file), JSON.stringify(json));
  };
  const textConfig = (json: Json) => json.text_config as Json;

  it('reads the copy like the original, with the copy’s name', () => {
    const spec = readModelDirectory(dir);
    expect(spec.dim).toBe(64);
    expect(spec.name).toBe(dir.replace(/^.*[/\\]/, ''));
    expect(spec.textModelPath).toBe(join(dir, 'onnx', 'text_model.onnx'));
  });

  it('takes the name from _name_or_path', () => {
    edit('config.json', (c) => (c._name_or_path = 'openai/clip-vit-base-patch32'));
    expect(readModelDirectory(dir).name).toBe('openai/clip-vit-base-patch32');
  });

  it('takes projection_dim from text_config when the top level has none', () => {
    edit('config.json', (c) => {
      delete c.projection_dim;
      textConfig(c).projection_dim = 48;
    });
    expect(readModelDirectory(dir).dim).toBe(48);
  });

  it.each([
    [0, 'config.json: projection_dim must be a positive integer, got 0.'],
    ['64', 'config.json: projection_dim must be a positive integer, got "64".'],
    [1.5, 'config.json: projection_dim must be a positive integer, got 1.5.'],
  ])('refuses projection_dim %j', (value, message) => {
    edit('config.json', (c) => (c.projection_dim = value));
    expect(loadError(() => readModelDirectory(dir))).toBe(message);
  });

  it('refuses a config.json with no projection_dim anywhere', () => {
    edit('config.json', (c) => {
      delete c.projection_dim;
      delete textConfig(c).projection_dim;
    });
    expect(loadError(() => readModelDirectory(dir))).toBe('config.json: projection_dim must be a positive integer, got undefined.');
  });

  it('uses OpenAI’s logit scale (100) when config.json states none, and refuses a non-positive one', () => {
    edit('config.json', (c) => delete c.logit_scale);
    expect(readModelDirectory(dir).logitScale).toBe(100);
    edit('config.json', (c) => (c.logit_scale = -1));
    expect(loadError(() => readModelDirectory(dir))).toBe('config.json: logit_scale must be a positive number, got -1.');
  });

  it('takes the context length from tokenizer_config.json’s model_max_length when text_config has none', () => {
    edit('config.json', (c) => delete textConfig(c).max_position_embeddings);
    edit('tokenizer_config.json', (t) => (t.model_max_length = 20));
    expect(readModelDirectory(dir).text.contextLength).toBe(20);
  });

  it('refuses a missing or too short context length', () => {
    edit('config.json', (c) => delete textConfig(c).max_position_embeddings);
    edit('tokenizer_config.json', (t) => delete t.model_max_length);
    expect(loadError(() => readModelDirectory(dir))).toBe(
      'config.json: text_config.max_position_embeddings must be a positive integer, got undefined.',
    );
    edit('config.json', (c) => (textConfig(c).max_position_embeddings = 1));
    expect(loadError(() => readModelDirectory(dir))).toBe(
      'config.json: text_config.max_position_embeddings must leave room for the start and end tokens.',
    );
  });

  it('finds the pad token from pad_token, an {content} object, or eos_token', () => {
    edit('tokenizer_config.json', (t) => (t.pad_token = '<|startoftext|>'));
    expect(readModelDirectory(dir).text.padTokenId).toBe(605);
    edit('tokenizer_config.json', (t) => (t.pad_token = { content: '<|startoftext|>', special: true }));
    expect(readModelDirectory(dir).text.padTokenId).toBe(605);
    edit('tokenizer_config.json', (t) => {
      delete t.pad_token;
      t.eos_token = '<|startoftext|>';
    });
    expect(readModelDirectory(dir).text.padTokenId).toBe(605);
    edit('tokenizer_config.json', (t) => {
      delete t.pad_token;
      delete t.eos_token;
    });
    expect(readModelDirectory(dir).text.padTokenId).toBe(606);
  });

  it('refuses a pad token that is not in the vocabulary', () => {
    edit('tokenizer_config.json', (t) => (t.pad_token = '<pad>'));
    expect(loadError(() => readModelDirectory(dir))).toBe(
      'tokenizer_config.json: pad_token "<pad>" is not in tokenizer.json\'s vocabulary.',
    );
    // A name on Object.prototype is no vocabulary entry either.
    edit('tokenizer_config.json', (t) => (t.pad_token = 'constructor'));
    expect(loadError(() => readModelDirectory(dir))).toBe(
      'tokenizer_config.json: pad_token "constructor" is not in tokenizer.json\'s vocabulary.',
    );
  });

  it('refuses a tokenizer.json without a BPE vocabulary and merges', () => {
    edit('tokenizer.json', (t) => delete (t.model as Json).merges);
    expect(loadError(() => readModelDirectory(dir))).toBe(`tokenizer.json in ${dir} has no BPE model with vocab and merges.`);
  });

  it('names the preprocessor file and key', () => {
    edit('preprocessor_config.json', (p) => (p.resample = 5));
    expect(loadError(() => readModelDirectory(dir))).toBe(
      "preprocessor_config.json: resample must be one of 0, 1, 2, 3 (PIL's filters), got 5.",
    );
    edit('preprocessor_config.json', (p) => {
      p.resample = 2;
      p.size = { shortest_edge: 32 };
    });
    expect(loadError(() => readModelDirectory(dir))).toBe(
      'preprocessor_config.json: size ({"shortest_edge":32}) is smaller than crop_size (64×64); the crop would need padding.',
    );
  });

  it('names a missing, unparsable or non-object JSON file', () => {
    rmSync(join(dir, 'tokenizer_config.json'));
    expect(loadError(() => readModelDirectory(dir))).toBe(
      `Model directory ${dir} has no readable tokenizer_config.json; expected the tokenizer settings (pad_token, model_max_length).`,
    );
    writeFileSync(join(dir, 'config.json'), '[1, 2]');
    expect(loadError(() => readModelDirectory(dir))).toBe(
      `config.json in ${dir} is not a JSON object; expected a CLIP config with text_config, vision_config and projection_dim.`,
    );
    writeFileSync(join(dir, 'config.json'), '{"projection_dim": ');
    expect(loadError(() => readModelDirectory(dir))).toMatch(
      new RegExp(`^config\\.json in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(.+\\); expected a CLIP config`),
    );
  });

  it('loads the suffixed ONNX files of another dtype', () => {
    copyFileSync(join(dir, 'onnx', 'text_model.onnx'), join(dir, 'onnx', 'text_model_quantized.onnx'));
    copyFileSync(join(dir, 'onnx', 'vision_model.onnx'), join(dir, 'onnx', 'vision_model_quantized.onnx'));
    const spec = readModelDirectory(dir, 'q8');
    expect(spec.dtype).toBe('q8');
    expect(spec.textModelPath).toBe(join(dir, 'onnx', 'text_model_quantized.onnx'));
    expect(spec.visionModelPath).toBe(join(dir, 'onnx', 'vision_model_quantized.onnx'));
  });

  it('names the ONNX file missing for a dtype', () => {
    expect(loadError(() => readModelDirectory(dir, 'fp16'))).toBe(
      `Model directory ${dir} has no onnx/text_model_fp16.onnx, needed for dtype fp16; expected an ONNX export of the CLIP text tower with projection.`,
    );
    rmSync(join(dir, 'onnx', 'vision_model.onnx'));
    expect(loadError(() => readModelDirectory(dir))).toBe(
      `Model directory ${dir} has no onnx/vision_model.onnx, needed for dtype fp32; expected an ONNX export of the CLIP vision tower with projection.`,
    );
  });

  it('refuses an unknown dtype before reading anything', () => {
    rmSync(join(dir, 'config.json'));
    expect(loadError(() => readModelDirectory(dir, 'fp64' as ModelDtype))).toBe(
      'dtype must be one of fp32, fp16, q8, int8, uint8, q4, bnb4, q4f16, got "fp64".',
    );
  });
});
