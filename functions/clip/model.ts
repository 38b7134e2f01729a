import { availableParallelism } from 'node:os';

import { Tensor, type InferenceSession } from 'onnxruntime-node';

import { bool, check, nonEmpty, nonNegativeInt, positiveInt, setOnly } from '../options';
import { runInBatches } from './batch-runner';
import { onnxRuntimeVersion } from './cuda-provider';
import { startupLine, type DeviceReport } from './device-report';
import { ClipErrorCode, ClipInputError, DeviceError, ModelLoadError } from './errors';
import { probeGpu } from './gpu-info';
import { checkImageLimits, DEFAULT_IMAGE_LIMITS, decodeAndCrop, type ImageCrop, type ImageLimits } from './image-crop';
import { readModelDirectory, type ClipModelSpec, type ModelDtype } from './model-dir';
import { cropByteLength, toPixelValues } from './pixels';
import { confirmPlacement, createSession, discardSession, type LoadedSession } from './sessions';
import { ClipTokenizer, type Padding } from './tokenizer';
import {
  EXECUTION_DEVICE,
  failure,
  type ClipModelInfo,
  type EmbedRequest,
  type EmbedResult,
  type ExecutionDevice,
  type ModelDescription,
} from './types';

export interface ClipModelOptions {
  /** Which weights to load (`fp32`, `q8`, ...; see MODEL_DTYPES). Default `fp32`. */
  dtype: ModelDtype;
  /** Requested device; `cuda` falls back to the CPU with a log line unless requireGpu. Default `cpu`. */
  device: ExecutionDevice;
  /**
   * With device `cuda`: fail the load, naming why, unless the CUDA execution provider really runs
   * the model's compute-heavy nodes (see placement.ts), instead of falling back to the CPU.
   * Needs device `cuda`. Default false.
   */
  requireGpu: boolean;
  /** The nvidia-smi command asked for the GPU's name, driver and CUDA version for the startup line. Default `nvidia-smi`. */
  nvidiaSmi: string;
  /**
   * ONNX Runtime intra-op threads per session; 0 lets it choose, which on small VMs is one thread
   * whatever their cores. Default: every core this process may use (availableParallelism).
   */
  intraOpThreads: number;
  /** Let ONNX Runtime's threads busy-wait between operators (see SessionOptions.spinning). Default true. */
  spinning: boolean;
  /** Limits for encoded images. Default DEFAULT_IMAGE_LIMITS. */
  imageLimits: ImageLimits;
  /** Longest text accepted, in characters; longer is INPUT_TOO_LARGE. Texts are truncated to the model's positions anyway. Default 20000. */
  maxTextChars: number;
  /** Most inputs in one ONNX Runtime run; larger calls are split. Bounds peak memory. Default 64. */
  maxRunBatch: number;
  /** Where load-time lines go (which execution provider runs, the startup line, batches halved for memory). Default: stderr. */
  log: (line: string) => void;
}

export const DEFAULT_CLIP_MODEL_OPTIONS: ClipModelOptions = {
  dtype: 'fp32',
  device: 'cpu',
  requireGpu: false,
  nvidiaSmi: 'nvidia-smi',
  intraOpThreads: availableParallelism(),
  spinning: true,
  imageLimits: DEFAULT_IMAGE_LIMITS,
  maxTextChars: 20_000,
  maxRunBatch: 64,
  log: (line) => process.stderr.write(`${line}\n`),
};

function checkOptions(options: ClipModelOptions): void {
  check('maxTextChars', options.maxTextChars, positiveInt);
  check('maxRunBatch', options.maxRunBatch, positiveInt);
  check('intraOpThreads', options.intraOpThreads, nonNegativeInt);
  check('device', options.device, EXECUTION_DEVICE);
  check('requireGpu', options.requireGpu, bool);
  check('nvidiaSmi', options.nvidiaSmi, nonEmpty);
  if (options.requireGpu && options.device !== 'cuda') {
    throw new TypeError(`requireGpu needs device cuda, got device ${JSON.stringify(options.device)}`);
  }
  checkImageLimits(options.imageLimits);
}

/**
 * For tests: a stand-in for failures that only a GPU produces (out of memory, a lost device),
 * which a host without one cannot. Not for production use.
 */
export interface ClipModelSeams {
  /** Called before each ONNX Runtime run with the tower and the batch's inputs; what it throws fails that run. */
  beforeRun?: (tower: 'text' | 'vision', batch: readonly (string | Uint8Array)[]) => void;
}

/** The input a text session needs that we know how to fill, by name. */
const TEXT_INPUTS = new Set(['input_ids', 'attention_mask', 'position_ids']);

function tensorMetadata(session: InferenceSession, name: string, kind: 'input' | 'output') {
  const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
  const meta = list.find((m) => m.name === name);
  return meta && meta.isTensor ? meta : undefined;
}

/**
 * CLIP on ONNX Runtime: texts, encoded images or ready-made crops in, unit vectors out.
 *
 * Knows nothing of HTTP, GraphQL or Lambda (those are adapters), holds no global state, and takes
 * and returns plain typed arrays, so it runs unchanged inside a worker thread. `run` executes on
 * the calling thread, which is why the gateway runs it in a pool of workers.
 */
export class ClipModel {
  readonly info: ClipModelInfo;
  /** The model's tokenizer, for callers that budget or inspect tokens. */
  readonly tokenizer: ClipTokenizer;
  private readonly textIdType: 'int64' | 'int32';
  private report?: DeviceReport;
  /** Set by the first unrecoverable device failure: every later call fails with it at once. */
  private broken?: DeviceError;

  private constructor(
    readonly spec: ClipModelSpec,
    private readonly options: ClipModelOptions,
    private readonly text: LoadedSession,
    private readonly vision: LoadedSession,
    private readonly seams: ClipModelSeams,
  ) {
    this.tokenizer = new ClipTokenizer(spec.text);
    this.textIdType = tensorMetadata(text.session, 'input_ids', 'input')?.type === 'int32' ? 'int32' : 'int64';
    this.info = {
      name: spec.name,
      dim: spec.dim,
      imageSize: spec.image.cropWidth,
      cropWidth: spec.image.cropWidth,
      cropHeight: spec.image.cropHeight,
      contextLength: spec.text.contextLength,
      logitScale: spec.logitScale,
      dtype: spec.dtype,
      device: vision.provider,
    };
  }

  /**
   * Loads a model directory (see DESIGN.md for the layout), creates both sessions, checks them with
   * one run each (which also shows where a CUDA session ran its nodes) and logs one startup line.
   */
  static async load(directory: string, options: Partial<ClipModelOptions> = {}, seams: ClipModelSeams = {}): Promise<ClipModel> {
    const started = performance.now();
    const merged: ClipModelOptions = {
      ...DEFAULT_CLIP_MODEL_OPTIONS,
      ...setOnly(options),
      imageLimits: { ...DEFAULT_CLIP_MODEL_OPTIONS.imageLimits, ...options.imageLimits },
    };
    checkOptions(merged);
    // Asked while the sessions load; it never rejects (a host without nvidia-smi is an answer).
    const gpu = probeGpu(merged.nvidiaSmi);
    const spec = readModelDirectory(directory, merged.dtype);
    const sessionOptions = {
      device: merged.device,
      requireGpu: merged.requireGpu,
      intraOpThreads: merged.intraOpThreads,
      spinning: merged.spinning,
      log: merged.log,
    };
    const loaded: LoadedSession[] = [];
    try {
      const text = await createSession(spec.textModelPath, 'text model', sessionOptions);
      loaded.push(text);
      const vision = await createSession(spec.visionModelPath, 'vision model', sessionOptions);
      loaded.push(vision);
      checkSessions(spec, text.session, vision.session);
      const model = new ClipModel(spec, merged, text, vision, seams);
      await model.selfCheck();
      const placement = {
        text: confirmPlacement(text, 'text model', sessionOptions),
        vision: confirmPlacement(vision, 'vision model', sessionOptions),
      };
      const warmupMs = performance.now() - started;
      model.info.device = vision.provider;
      model.report = { provider: vision.provider, placement, gpu: await gpu, onnxRuntime: onnxRuntimeVersion(), warmupMs };
      merged.log(startupLine(model.info, model.report));
      return model;
    } catch (error) {
      await Promise.all(loaded.map(discardSession)).catch(() => undefined);
      throw error;
    }
  }

  /** What the model runs on: provider, node placement on CUDA, GPU, ONNX Runtime release, warm-up time. */
  get deviceReport(): DeviceReport {
    return this.report!;
  }

  /** What clients need to prepare inputs for this model and to interpret its vectors. */
  describe(): ModelDescription {
    return { info: this.info, preprocess: this.spec.image };
  }

  /** One result per input of the request, in order; an input that fails fails alone. */
  embed(request: EmbedRequest): Promise<EmbedResult[]> {
    switch (request.kind) {
      case 'text':
        return this.embedTexts(request.items);
      case 'crops':
        return this.embedCrops(request.items);
      case 'images':
        return this.embedImages(request.items);
      default: {
        const unreachable: never = request;
        throw new TypeError(`unknown request kind: ${JSON.stringify((unreachable as { kind: unknown }).kind)}`);
      }
    }
  }

  /** Decodes and crops one encoded image (JPEG, PNG, WebP) as this model needs; throws ClipInputError. */
  cropImage(bytes: Uint8Array): Promise<ImageCrop> {
    return decodeAndCrop(bytes, this.spec.image, this.options.imageLimits);
  }

  async embedTexts(texts: readonly string[], padding: Padding = 'longest'): Promise<EmbedResult[]> {
    const results: (EmbedResult | undefined)[] = texts.map((text) => {
      if (typeof text !== 'string') return failure(ClipErrorCode.BAD_USER_INPUT, 'The text is not a string.');
      if (text.length > this.options.maxTextChars) {
        return failure(ClipErrorCode.INPUT_TOO_LARGE, `The text is ${text.length} characters; the limit is ${this.options.maxTextChars}.`);
      }
      return undefined;
    });
    await this.runPending(results, texts, (chunk) => this.runText(chunk, padding), 'text model');
    return results as EmbedResult[];
  }

  /** Embeds crops made by `cropImage` (or by a gateway with the same preprocessing): H×W×3 uint8 each. */
  async embedCrops(crops: readonly Uint8Array[]): Promise<EmbedResult[]> {
    const expected = cropByteLength(this.spec.image);
    const results: (EmbedResult | undefined)[] = crops.map((crop) =>
      crop instanceof Uint8Array && crop.length === expected
        ? undefined
        : failure(
            ClipErrorCode.BAD_USER_INPUT,
            `The image crop is ${crop instanceof Uint8Array ? crop.length : 'not a byte array of'} bytes; this model takes ${this.spec.image.cropWidth}×${this.spec.image.cropHeight}×3 = ${expected} bytes.`,
          ),
    );
    await this.runPending(results, crops, (chunk) => this.runVision(chunk), 'vision model');
    return results as EmbedResult[];
  }

  /** Decodes, crops and embeds encoded images; an image that cannot be used fails only its own slot. */
  async embedImages(images: readonly Uint8Array[]): Promise<EmbedResult[]> {
    const crops = await Promise.all(
      images.map((bytes) =>
        this.cropImage(bytes).then(
          (crop) => crop.data,
          (error: unknown) => asInputError(error),
        ),
      ),
    );
    const results: (EmbedResult | undefined)[] = crops.map((c) => (c instanceof ClipInputError ? failure(c.code, c.message) : undefined));
    await this.runPending(results, crops as Uint8Array[], (chunk) => this.runVision(chunk), 'vision model');
    return results as EmbedResult[];
  }

  async release(): Promise<void> {
    await Promise.all([this.text.session.release(), this.vision.session.release()]);
  }

  /**
   * Runs every input whose slot is still empty (see runInBatches: batches halved on out of
   * memory). A DeviceError marks the model broken: it is thrown again by every later call,
   * without touching the device.
   */
  private async runPending<T>(
    results: (EmbedResult | undefined)[],
    inputs: readonly T[],
    run: (chunk: T[]) => Promise<Float32Array[]>,
    what: string,
  ): Promise<void> {
    if (this.broken) throw this.broken;
    try {
      await runInBatches(results, inputs, run, normalised, { maxBatch: this.options.maxRunBatch, what, log: this.options.log });
    } catch (error) {
      if (error instanceof DeviceError) this.broken = error;
      throw error;
    }
  }

  private async runText(texts: string[], padding: Padding): Promise<Float32Array[]> {
    const batch = this.tokenizer.encodeBatch(texts, padding);
    const dims = [batch.batchSize, batch.sequenceLength];
    const ids = (values: BigInt64Array) =>
      this.textIdType === 'int64' ? new Tensor('int64', values, dims) : new Tensor('int32', Int32Array.from(values, Number), dims);
    const feeds: Record<string, Tensor> = {};
    for (const name of this.text.session.inputNames) {
      if (name === 'input_ids') feeds[name] = ids(batch.inputIds);
      else if (name === 'attention_mask') feeds[name] = ids(batch.attentionMask);
      else if (name === 'position_ids') {
        const positions = new BigInt64Array(batch.batchSize * batch.sequenceLength).map((_, i) => BigInt(i % batch.sequenceLength));
        feeds[name] = ids(positions);
      }
    }
    this.seams.beforeRun?.('text', texts);
    const output = await this.text.session.run(feeds);
    return this.rows(output.text_embeds, texts.length, 'text_embeds');
  }

  private async runVision(crops: Uint8Array[]): Promise<Float32Array[]> {
    const { cropWidth, cropHeight } = this.spec.image;
    const pixels = new Tensor('float32', toPixelValues(crops, this.spec.image), [crops.length, 3, cropHeight, cropWidth]);
    this.seams.beforeRun?.('vision', crops);
    const output = await this.vision.session.run({ pixel_values: pixels });
    return this.rows(output.image_embeds, crops.length, 'image_embeds');
  }

  private rows(tensor: Tensor | undefined, count: number, name: string): Float32Array[] {
    if (!tensor || tensor.type !== 'float32' || tensor.dims.length !== 2 || tensor.dims[0] !== count || tensor.dims[1] !== this.spec.dim) {
      throw new ModelLoadError(
        `${name} came back as ${tensor ? `${tensor.type} [${tensor.dims.join(', ')}]` : 'nothing'}; expected float32 [${count}, ${this.spec.dim}] (projection_dim in config.json).`,
      );
    }
    const data = tensor.data as Float32Array;
    return Array.from({ length: count }, (_, i) => data.subarray(i * this.spec.dim, (i + 1) * this.spec.dim));
  }

  /** One run per tower at load, so a wrong export or a wrong projection_dim fails at start, not on the first request. */
  private async selfCheck(): Promise<void> {
    await this.runText([''], 'longest');
    await this.runVision([new Uint8Array(cropByteLength(this.spec.image)).fill(128)]);
  }
}

function checkSessions(spec: ClipModelSpec, text: InferenceSession, vision: InferenceSession): void {
  if (!text.inputNames.includes('input_ids')) {
    throw new ModelLoadError(
      `${spec.textModelPath} has inputs [${text.inputNames.join(', ')}]; expected input_ids (and optionally attention_mask).`,
    );
  }
  const unknown = text.inputNames.filter((name) => !TEXT_INPUTS.has(name));
  if (unknown.length > 0) throw new ModelLoadError(`${spec.textModelPath} needs inputs this loader cannot fill: ${unknown.join(', ')}.`);
  if (!text.outputNames.includes('text_embeds')) {
    throw new ModelLoadError(
      `${spec.textModelPath} has outputs [${text.outputNames.join(', ')}]; expected text_embeds (a CLIP text model with projection).`,
    );
  }
  if (!vision.inputNames.includes('pixel_values') || vision.inputNames.length !== 1) {
    throw new ModelLoadError(`${spec.visionModelPath} has inputs [${vision.inputNames.join(', ')}]; expected pixel_values alone.`);
  }
  const pixelType = tensorMetadata(vision, 'pixel_values', 'input')?.type;
  if (pixelType !== undefined && pixelType !== 'float32') {
    throw new ModelLoadError(
      `${spec.visionModelPath} takes ${pixelType} pixel_values; only float32 inputs are supported (choose dtype fp32 or a quantized one).`,
    );
  }
  if (!vision.outputNames.includes('image_embeds')) {
    throw new ModelLoadError(
      `${spec.visionModelPath} has outputs [${vision.outputNames.join(', ')}]; expected image_embeds (a CLIP vision model with projection).`,
    );
  }
}

function asInputError(error: unknown): ClipInputError {
  if (error instanceof ClipInputError) return error;
  return new ClipInputError(ClipErrorCode.IMAGE_DECODE_FAILED, 'The image could not be processed.', { cause: error });
}

/** L2-normalises into a fresh array (not a view of the run's output, which may be large). */
function normalised(vector: Float32Array): EmbedResult {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm) || norm === 0) {
    return failure(ClipErrorCode.INFERENCE_FAILED, 'The model produced no usable embedding for this input (zero or non-finite output).');
  }
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] / norm;
  return { ok: true, vector: out };
}
