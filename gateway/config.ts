import { availableParallelism } from 'node:os';

import { DEFAULT_IMAGE_LIMITS, MODEL_DTYPES, type ExecutionDevice, type ImageLimits, type ModelDtype } from '../functions/clip';
import { checkRemoteBackendOptions, DEFAULT_REMOTE_BACKEND_OPTIONS, type RemoteBackendOptions } from './backends/remote';
import { checkFetchImageOptions, DEFAULT_FETCH_IMAGE_OPTIONS, type FetchImageOptions } from './images/fetch-image';
import { checkBatcherOptions, DEFAULT_BATCHER_OPTIONS } from './loaders/batcher';

/** Where CLIP runs. */
export type BackendConfig =
  | { kind: 'local' }
  /** AWS Lambda through the SDK; region, credentials and AWS_ENDPOINT_URL_LAMBDA as the SDK reads them. */
  | { kind: 'lambda'; functionName: string }
  /** The HTTP adapter (functions/handlers/http.ts) at this base URL. */
  | { kind: 'http'; url: string };

export const BACKEND_KINDS = ['local', 'lambda', 'http'] as const;

export interface GatewayConfig {
  /** Where inference runs (env INFERENCE_BACKEND, LAMBDA_FUNCTION_NAME, CLIP_FUNCTION_URL). Default local. */
  backend: BackendConfig;
  /** Calls to a lambda or http backend (env REMOTE_TIMEOUT_MS, REMOTE_MAX_ATTEMPTS, REMOTE_MAX_IN_FLIGHT, REMOTE_MAX_REQUEST_BYTES, CIRCUIT_FAILURE_THRESHOLD, CIRCUIT_COOLDOWN_MS). */
  remote: Omit<RemoteBackendOptions, 'log'>;
  /** Model directory for the local backend. Undefined: the bundled tiny CLIP. */
  modelDir?: string;
  /** Weights to load (env CLIP_DTYPE). Default fp32. */
  dtype: ModelDtype;
  /** Device for the local backend (env CLIP_DEVICE). Default cpu. */
  device: ExecutionDevice;
  /**
   * Let ONNX Runtime's threads busy-wait between operators in the local backend (env CLIP_SPINNING).
   * Default false: the gateway's own work (decoding images, HTTP) shares the cores with inference,
   * and spinning threads would take its time.
   */
  spinning: boolean;
  /** Worker threads of the local backend (env LOCAL_WORKERS). Default: half the cores, at least 1. 0 runs inference on the event loop, for comparison only. */
  localWorkers: number;
  /** Most inputs in one backend batch (env BATCH_MAX_SIZE). Default 32. */
  maxBatchSize: number;
  /** Longest an input waits for others to join its batch, in ms (env BATCH_MAX_DELAY_MS). Default 5. */
  maxDelayMs: number;
  /** Text embeddings cached (env TEXT_CACHE_SIZE). Default 10000. */
  textCacheSize: number;
  /** Image embeddings cached, by content hash (env IMAGE_CACHE_SIZE). Default 2000. */
  imageCacheSize: number;
  /** Most inputs in one list argument of one request (env MAX_INPUTS_PER_REQUEST). Default 256. */
  maxInputsPerRequest: number;
  /** Most labels in one classify (env MAX_LABELS). Default 1000. */
  maxLabels: number;
  /** Most templates in one classify (env MAX_TEMPLATES). Default 32. */
  maxTemplates: number;
  /** Largest HTTP request body, in bytes (env BODY_LIMIT_BYTES). Default 32 MiB: one 20 MiB image in base64 fits. */
  bodyLimitBytes: number;
  /** Limits on each image (env IMAGE_MAX_BYTES, IMAGE_MAX_PIXELS). */
  imageLimits: ImageLimits;
  /** URL fetching (env IMAGE_FETCH_TIMEOUT_MS, IMAGE_FETCH_MAX_REDIRECTS, IMAGE_FETCH_ALLOW_NETWORKS). */
  fetch: FetchImageOptions;
  /** Origins allowed by CORS (env CORS_ORIGINS, comma-separated; `*` for any). Default `*`. */
  corsOrigins: string[] | '*';
  /** Serve Apollo Sandbox when a browser opens /graphql (env SANDBOX). Default true. */
  sandbox: boolean;
}

export function defaultConfig(): GatewayConfig {
  return {
    backend: { kind: 'local' },
    remote: { ...DEFAULT_REMOTE_BACKEND_OPTIONS, circuit: { ...DEFAULT_REMOTE_BACKEND_OPTIONS.circuit } },
    dtype: 'fp32',
    device: 'cpu',
    spinning: false,
    localWorkers: Math.max(1, Math.floor(availableParallelism() / 2)),
    maxBatchSize: DEFAULT_BATCHER_OPTIONS.maxBatchSize,
    maxDelayMs: DEFAULT_BATCHER_OPTIONS.maxDelayMs,
    textCacheSize: 10_000,
    imageCacheSize: 2_000,
    maxInputsPerRequest: 256,
    maxLabels: 1_000,
    maxTemplates: 32,
    bodyLimitBytes: 32 * 1024 * 1024,
    imageLimits: { ...DEFAULT_IMAGE_LIMITS },
    fetch: { ...DEFAULT_FETCH_IMAGE_OPTIONS, maxBytes: DEFAULT_IMAGE_LIMITS.maxBytes },
    corsOrigins: '*',
    sandbox: true,
  };
}

/** Checks a whole configuration; throws a TypeError naming the first bad setting. */
export function checkConfig(config: GatewayConfig): GatewayConfig {
  const positiveInt = (name: string, value: number) => {
    if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer: ${value}`);
  };
  switch (config.backend.kind) {
    case 'local':
      break;
    case 'lambda':
      if (!config.backend.functionName) throw new TypeError('LAMBDA_FUNCTION_NAME must be set when INFERENCE_BACKEND is lambda');
      break;
    case 'http':
      if (!/^https?:\/\//.test(config.backend.url))
        throw new TypeError(`CLIP_FUNCTION_URL must be an http(s) URL: ${JSON.stringify(config.backend.url)}`);
      break;
    default:
      throw new TypeError(
        `INFERENCE_BACKEND must be one of ${BACKEND_KINDS.join(', ')}: ${JSON.stringify((config.backend as { kind: unknown }).kind)}`,
      );
  }
  checkRemoteBackendOptions({ ...config.remote, log: () => {} });
  if (!MODEL_DTYPES.includes(config.dtype)) throw new TypeError(`dtype must be one of ${MODEL_DTYPES.join(', ')}: ${config.dtype}`);
  if (config.device !== 'cpu' && config.device !== 'cuda') throw new TypeError(`device must be cpu or cuda: ${config.device}`);
  if (!Number.isInteger(config.localWorkers) || config.localWorkers < 0)
    throw new TypeError(`localWorkers must be a non-negative integer: ${config.localWorkers}`);
  checkBatcherOptions({ ...DEFAULT_BATCHER_OPTIONS, maxBatchSize: config.maxBatchSize, maxDelayMs: config.maxDelayMs });
  positiveInt('textCacheSize', config.textCacheSize);
  positiveInt('imageCacheSize', config.imageCacheSize);
  positiveInt('maxInputsPerRequest', config.maxInputsPerRequest);
  positiveInt('maxLabels', config.maxLabels);
  positiveInt('maxTemplates', config.maxTemplates);
  positiveInt('bodyLimitBytes', config.bodyLimitBytes);
  positiveInt('imageLimits.maxBytes', config.imageLimits.maxBytes);
  positiveInt('imageLimits.maxPixels', config.imageLimits.maxPixels);
  checkFetchImageOptions(config.fetch);
  return config;
}

type Env = Record<string, string | undefined>;

function intFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer: ${JSON.stringify(raw)}`);
  return value;
}

function numberFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number: ${JSON.stringify(raw)}`);
  return value;
}

function boolFromEnv(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new TypeError(`${name} must be true or false: ${JSON.stringify(env[name])}`);
}

const list = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** The configuration from environment variables (see README), checked. */
export function configFromEnv(env: Env = process.env): GatewayConfig {
  const base = defaultConfig();
  const dtype = (env.CLIP_DTYPE?.trim() || base.dtype) as ModelDtype;
  const device = (env.CLIP_DEVICE?.trim() || base.device) as ExecutionDevice;
  const imageMaxBytes = intFromEnv(env, 'IMAGE_MAX_BYTES', base.imageLimits.maxBytes);
  const origins = list(env.CORS_ORIGINS);
  const kind = env.INFERENCE_BACKEND?.trim() || 'local';
  const backend = (
    kind === 'lambda'
      ? { kind, functionName: env.LAMBDA_FUNCTION_NAME?.trim() ?? '' }
      : kind === 'http'
        ? { kind, url: env.CLIP_FUNCTION_URL?.trim() ?? '' }
        : { kind }
  ) as BackendConfig;
  return checkConfig({
    backend,
    remote: {
      timeoutMs: intFromEnv(env, 'REMOTE_TIMEOUT_MS', base.remote.timeoutMs),
      maxAttempts: intFromEnv(env, 'REMOTE_MAX_ATTEMPTS', base.remote.maxAttempts),
      retryBaseMs: base.remote.retryBaseMs,
      retryMaxMs: base.remote.retryMaxMs,
      maxInFlight: intFromEnv(env, 'REMOTE_MAX_IN_FLIGHT', base.remote.maxInFlight),
      maxRequestBytes: intFromEnv(env, 'REMOTE_MAX_REQUEST_BYTES', base.remote.maxRequestBytes),
      maxItemsPerCall: base.remote.maxItemsPerCall,
      circuit: {
        failureThreshold: intFromEnv(env, 'CIRCUIT_FAILURE_THRESHOLD', base.remote.circuit.failureThreshold),
        cooldownMs: intFromEnv(env, 'CIRCUIT_COOLDOWN_MS', base.remote.circuit.cooldownMs),
      },
    },
    modelDir: env.CLIP_MODEL_DIR?.trim() || undefined,
    dtype,
    device,
    spinning: boolFromEnv(env, 'CLIP_SPINNING', base.spinning),
    localWorkers: numberFromEnv(env, 'LOCAL_WORKERS', base.localWorkers),
    maxBatchSize: intFromEnv(env, 'BATCH_MAX_SIZE', base.maxBatchSize),
    maxDelayMs: numberFromEnv(env, 'BATCH_MAX_DELAY_MS', base.maxDelayMs),
    textCacheSize: intFromEnv(env, 'TEXT_CACHE_SIZE', base.textCacheSize),
    imageCacheSize: intFromEnv(env, 'IMAGE_CACHE_SIZE', base.imageCacheSize),
    maxInputsPerRequest: intFromEnv(env, 'MAX_INPUTS_PER_REQUEST', base.maxInputsPerRequest),
    maxLabels: intFromEnv(env, 'MAX_LABELS', base.maxLabels),
    maxTemplates: intFromEnv(env, 'MAX_TEMPLATES', base.maxTemplates),
    bodyLimitBytes: intFromEnv(env, 'BODY_LIMIT_BYTES', base.bodyLimitBytes),
    imageLimits: {
      ...base.imageLimits,
      maxBytes: imageMaxBytes,
      maxPixels: intFromEnv(env, 'IMAGE_MAX_PIXELS', base.imageLimits.maxPixels),
    },
    fetch: {
      ...base.fetch,
      maxBytes: imageMaxBytes,
      timeoutMs: intFromEnv(env, 'IMAGE_FETCH_TIMEOUT_MS', base.fetch.timeoutMs),
      maxRedirects: numberFromEnv(env, 'IMAGE_FETCH_MAX_REDIRECTS', base.fetch.maxRedirects),
      allowNetworks: list(env.IMAGE_FETCH_ALLOW_NETWORKS),
    },
    corsOrigins: origins.length === 0 || origins.includes('*') ? '*' : origins,
    sandbox: boolFromEnv(env, 'SANDBOX', base.sandbox),
  });
}
