import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { check, oneOf, positiveInt as positiveIntRule, positiveNumber as positiveNumberRule } from '../options';
import { ModelLoadError } from './errors';

/**
 * Which ONNX weights to load, in transformers.js's names: `fp32` is `onnx/<tower>_model.onnx`,
 * the others add a suffix (`q8` is `<tower>_model_quantized.onnx`, as Xenova's exports ship it).
 */
export const MODEL_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'bnb4', 'q4f16'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];
export const MODEL_DTYPE = oneOf(MODEL_DTYPES);

const DTYPE_SUFFIX: Record<ModelDtype, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  bnb4: '_bnb4',
  q4f16: '_q4f16',
};

/** The JSON files every model directory has, whatever the dtype. */
export const MODEL_CONFIG_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;

/** The ONNX file of one tower for a dtype, relative to the model directory, with POSIX separators (as hub paths are). */
export function towerFile(tower: 'text' | 'vision', dtype: ModelDtype): string {
  return `onnx/${tower}_model${DTYPE_SUFFIX[dtype]}.onnx`;
}

/**
 * Every file readModelDirectory reads for `dtype`, relative to the directory: what a download of
 * a model fetches, so that the loader and the downloader cannot disagree about the layout.
 */
export function modelFiles(dtype: ModelDtype): string[] {
  return [...MODEL_CONFIG_FILES, towerFile('text', dtype), towerFile('vision', dtype)];
}

/** OpenAI's checkpoints train the scale up to its clamp; Hugging Face configs do not record it. */
export const OPENAI_LOGIT_SCALE = 100;

/** The resampling filters `preprocessor_config.json` names with PIL's numbers. */
export type ResampleKernel = 'nearest' | 'lanczos3' | 'linear' | 'cubic';
const PIL_RESAMPLE: Record<number, ResampleKernel> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic' };

/** Everything the image steps need, read from `preprocessor_config.json`. */
export interface ImagePreprocessSpec {
  /** Resize so the shortest edge has this length, keeping the aspect ratio (CLIP's way)... */
  shortestEdge?: number;
  /** ...or resize to exactly this size. Exactly one of the two is set when `doResize`. */
  resizeTo?: { width: number; height: number };
  doResize: boolean;
  kernel: ResampleKernel;
  doCenterCrop: boolean;
  /** The size of the crop the model sees; every crop sent to the model has these dimensions. */
  cropWidth: number;
  cropHeight: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface TextSpec {
  /** Positions of the text model; longer texts are truncated to this, keeping the end token. */
  contextLength: number;
  padTokenId: number;
  tokenizerJson: object;
  tokenizerConfig: object;
}

export interface ClipModelSpec {
  directory: string;
  /** A display name: `_name_or_path` from config.json, else the directory's name. */
  name: string;
  /** Embedding dimension (projection_dim). */
  dim: number;
  /** Multiplier turning cosine similarity into logits for a softmax over labels. */
  logitScale: number;
  dtype: ModelDtype;
  textModelPath: string;
  visionModelPath: string;
  text: TextSpec;
  image: ImagePreprocessSpec;
}

type Json = Record<string, unknown>;

function readJson(directory: string, file: string, expected: string): Json {
  const path = join(directory, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ModelLoadError(`Model directory ${directory} has no readable ${file}; expected ${expected}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ModelLoadError(`${file} in ${directory} is not valid JSON (${(error as Error).message}); expected ${expected}.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelLoadError(`${file} in ${directory} is not a JSON object; expected ${expected}.`);
  }
  return value as Json;
}

const fileError = (message: string) => new ModelLoadError(`${message}.`);

function positiveInt(value: unknown, file: string, key: string): number {
  return check(`${file}: ${key}`, value, positiveIntRule, fileError);
}

function positiveNumber(value: unknown, file: string, key: string): number {
  return check(`${file}: ${key}`, value, positiveNumberRule, fileError);
}

function triple(value: unknown, file: string, key: string, positive: boolean): [number, number, number] {
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    value.some((v) => typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0))
  ) {
    throw new ModelLoadError(`${file}: ${key} must be a list of 3 ${positive ? 'positive ' : ''}numbers, got ${JSON.stringify(value)}.`);
  }
  return value as [number, number, number];
}

/** `size` and `crop_size` come as a number (older exports) or an object (newer ones). */
function sizeOf(value: unknown, file: string, key: string): { shortestEdge?: number; width?: number; height?: number } {
  if (typeof value === 'number') return { shortestEdge: positiveInt(value, file, key) };
  if (typeof value === 'object' && value !== null) {
    const v = value as Json;
    if (v.shortest_edge !== undefined) return { shortestEdge: positiveInt(v.shortest_edge, file, `${key}.shortest_edge`) };
    if (v.height !== undefined || v.width !== undefined) {
      return { height: positiveInt(v.height, file, `${key}.height`), width: positiveInt(v.width, file, `${key}.width`) };
    }
  }
  throw new ModelLoadError(
    `${file}: ${key} must be a number, {"shortest_edge": n} or {"height": h, "width": w}, got ${JSON.stringify(value)}.`,
  );
}

export function parsePreprocessorConfig(config: Json, file = 'preprocessor_config.json'): ImagePreprocessSpec {
  // Defaults are those of Hugging Face's CLIPImageProcessor, applied here and nowhere else.
  const doResize = config.do_resize !== false;
  const doCenterCrop = config.do_center_crop !== false;
  const size = sizeOf(config.size ?? { shortest_edge: 224 }, file, 'size');
  const resample = config.resample ?? 3;
  const kernel = Object.hasOwn(PIL_RESAMPLE, resample as PropertyKey) && typeof resample === 'number' ? PIL_RESAMPLE[resample] : undefined;
  if (!kernel) throw new ModelLoadError(`${file}: resample must be one of 0, 1, 2, 3 (PIL's filters), got ${JSON.stringify(resample)}.`);

  let cropWidth: number;
  let cropHeight: number;
  if (doCenterCrop) {
    const crop = sizeOf(config.crop_size ?? { height: 224, width: 224 }, file, 'crop_size');
    cropWidth = crop.width ?? crop.shortestEdge!;
    cropHeight = crop.height ?? crop.shortestEdge!;
  } else if (doResize && size.width !== undefined) {
    cropWidth = size.width;
    cropHeight = size.height!;
  } else {
    throw new ModelLoadError(`${file}: without do_center_crop, size must give height and width so every image has one size.`);
  }
  // The smallest image a resize can make: a shortest edge leaves both sides at least that long.
  const smallest = !doResize
    ? undefined
    : size.shortestEdge !== undefined
      ? { width: size.shortestEdge, height: size.shortestEdge }
      : { width: size.width!, height: size.height! };
  if (smallest && (smallest.width < cropWidth || smallest.height < cropHeight)) {
    throw new ModelLoadError(
      `${file}: size (${JSON.stringify(config.size ?? { shortest_edge: 224 })}) is smaller than crop_size (${cropWidth}×${cropHeight}); the crop would need padding.`,
    );
  }
  return {
    doResize,
    shortestEdge: doResize ? size.shortestEdge : undefined,
    resizeTo: doResize && size.width !== undefined ? { width: size.width, height: size.height! } : undefined,
    kernel,
    doCenterCrop,
    cropWidth,
    cropHeight,
    doRescale: config.do_rescale !== false,
    rescaleFactor: positiveNumber(config.rescale_factor ?? 1 / 255, file, 'rescale_factor'),
    doNormalize: config.do_normalize !== false,
    mean: triple(config.image_mean ?? [0.48145466, 0.4578275, 0.40821073], file, 'image_mean', false),
    std: triple(config.image_std ?? [0.26862954, 0.26130258, 0.27577711], file, 'image_std', true),
  };
}

function modelPath(directory: string, tower: 'text' | 'vision', dtype: ModelDtype): string {
  const file = join(...towerFile(tower, dtype).split('/'));
  const path = join(directory, file);
  if (!existsSync(path)) {
    throw new ModelLoadError(
      `Model directory ${directory} has no ${file}, needed for dtype ${dtype}; expected an ONNX export of the CLIP ${tower} tower with projection.`,
    );
  }
  return path;
}

/**
 * A name for a model whose config.json does not give one: the repository of a Hugging Face cache
 * snapshot (`.../models--owner--name/snapshots/<commit>`), whose own name is a commit hash that
 * changes with every upload, else the directory's name.
 */
function directoryName(directory: string): string {
  const snapshot = /(?:^|[\\/])models--([^\\/]+)[\\/]snapshots[\\/][0-9a-f]{40}[\\/]?$/.exec(directory);
  return snapshot ? snapshot[1].split('--').join('/') : basename(directory);
}

/** Reads and checks a model directory in the layout of Xenova/clip-vit-base-patch32. */
export function readModelDirectory(directory: string, dtype: ModelDtype = 'fp32'): ClipModelSpec {
  check('dtype', dtype, MODEL_DTYPE, fileError);
  const config = readJson(directory, 'config.json', 'a CLIP config with text_config, vision_config and projection_dim');
  const textConfig = (config.text_config ?? {}) as Json;
  const dim = positiveInt(config.projection_dim ?? textConfig.projection_dim, 'config.json', 'projection_dim');
  const logitScale = positiveNumber(config.logit_scale ?? OPENAI_LOGIT_SCALE, 'config.json', 'logit_scale');

  const tokenizerJson = readJson(directory, 'tokenizer.json', 'a Hugging Face tokenizers file with a BPE model');
  const model = tokenizerJson.model as Json | undefined;
  if (!model || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
    throw new ModelLoadError(`tokenizer.json in ${directory} has no BPE model with vocab and merges.`);
  }
  const tokenizerConfig = readJson(directory, 'tokenizer_config.json', 'the tokenizer settings (pad_token, model_max_length)');
  const contextLength = positiveInt(
    textConfig.max_position_embeddings ?? tokenizerConfig.model_max_length,
    'config.json',
    'text_config.max_position_embeddings',
  );
  if (contextLength < 2)
    throw new ModelLoadError('config.json: text_config.max_position_embeddings must leave room for the start and end tokens.');
  const vocab = model.vocab as Record<string, number>;
  const padToken = tokenizerConfig.pad_token ?? tokenizerConfig.eos_token ?? '<|endoftext|>';
  const padName = typeof padToken === 'object' && padToken !== null ? (padToken as Json).content : padToken;
  const padTokenId = typeof padName === 'string' && Object.hasOwn(vocab, padName) ? vocab[padName] : undefined;
  if (padTokenId === undefined) {
    throw new ModelLoadError(`tokenizer_config.json: pad_token ${JSON.stringify(padName)} is not in tokenizer.json's vocabulary.`);
  }

  const image = parsePreprocessorConfig(
    readJson(directory, 'preprocessor_config.json', 'CLIP image preprocessing settings (size, crop_size, image_mean, image_std)'),
  );
  const nameOrPath = config._name_or_path;
  return {
    directory,
    name: typeof nameOrPath === 'string' && nameOrPath.length > 0 ? nameOrPath : directoryName(directory),
    dim,
    logitScale,
    dtype,
    textModelPath: modelPath(directory, 'text', dtype),
    visionModelPath: modelPath(directory, 'vision', dtype),
    text: { contextLength, padTokenId, tokenizerJson, tokenizerConfig },
    image,
  };
}
