// The backend's settings from the environment: INFERENCE_BACKEND and the variables of the backend
// it names, and SPILLOVER_BACKEND's second tier. Read here, beside the backends they configure;
// gateway/config.ts reads the rest and asks this file for the backend.
import { EXECUTION_DEVICE, MODEL_DTYPE } from '../../functions/clip';
// Where the model comes from is read from env.ts alone: the hub client itself loads only when a hub model is resolved.
import { DEFAULT_REVISION, modelSourceFromEnv } from '../../functions/hub/env';
import {
  bool,
  EnvReader,
  httpUrl,
  nonEmpty,
  nonNegativeInt,
  oneOf,
  positiveInt,
  timeoutMs,
  type Env,
  type Rule,
  type VariableMeanings,
} from '../../functions/options';
import { BACKEND_KINDS, SPILLOVER_KINDS, type BackendOptions, type PrimaryOptions, type SpilloverOptions } from './options';
import { DEFAULT_REMOTE_CALL_OPTIONS, type RemoteCallOptions } from './remote-options';
import { DEFAULT_TIERED_OPTIONS } from './tiered';

/**
 * What each variable read here means, for the configuration reference (docs/configuration.md,
 * made by `npm run docs:config`); the defaults it shows are the ones this file reads them with.
 */
export const BACKEND_VARIABLES: VariableMeanings = {
  'Where CLIP runs': {
    INFERENCE_BACKEND:
      '`local` (worker threads in the gateway), `lambda` (AWS Lambda), `http` (the function behind HTTP) or `sagemaker` (a SageMaker endpoint); see [serverless functions](serverless-functions.md)',
    LAMBDA_FUNCTION_NAME:
      "the function's name, ARN or alias ARN; region, credentials and `AWS_ENDPOINT_URL_LAMBDA` as the AWS SDK reads them",
    CLIP_FUNCTION_URL: "base URL of the function's HTTP adapter",
    CLIP_FUNCTION_HEADERS:
      'a JSON object of headers sent on every call to the HTTP function, for a platform\'s own auth (`{"Authorization":"Bearer ..."}` on RunPod); never logged',
    SAGEMAKER_ENDPOINT: 'the endpoint; region, credentials and `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` as the AWS SDK reads them',
    SAGEMAKER_INFERENCE_COMPONENT: { meaning: "the endpoint's inference component", unset: 'none: the endpoint itself' },
  },
  'Calls to a remote function (lambda, http, sagemaker)': {
    REMOTE_TIMEOUT_MS: 'deadline of one call; a call that runs out is not retried (`BACKEND_TIMEOUT`)',
    REMOTE_MAX_ATTEMPTS:
      'attempts for a call that failed in a way worth retrying (throttled, 5xx, connection errors), with jittered backoff',
    REMOTE_MAX_IN_FLIGHT: 'calls in flight at once (a bulkhead)',
    REMOTE_MAX_REQUEST_BYTES:
      'payload budget of one call: a batch is cut into calls that fit, and an input too large for any call fails alone',
    REMOTE_READY_CACHE_MS: 'how long the answer of a `/readyz` probe of the function is reused',
    REMOTE_READY_TIMEOUT_MS: "that probe's deadline",
    CIRCUIT_FAILURE_THRESHOLD: 'failures in a row that open the circuit breaker in front of the function',
    CIRCUIT_COOLDOWN_MS: 'how long an open circuit fails calls at once before it lets one through',
  },
  'A GPU tier and its spillover': {
    SPILLOVER_BACKEND: {
      meaning:
        'beside a `sagemaker` or `http` primary that may scale to zero: `local`, `lambda` or `http`, which serves while the primary is cold (see [serverless functions](serverless-functions.md#a-gpu-tier-that-scales-to-zero))',
      unset: 'none: one tier',
    },
    SPILLOVER_FUNCTION_URL: "with `SPILLOVER_BACKEND=http`: the spillover function's base URL",
    SPILL_AFTER_MS: 'how long a call to a primary in doubt may go unanswered before the spillover gets it too (the first answer wins)',
    GPU_WAKE_INTERVAL_MS: 'least time between wake calls to a cold primary, sent only while traffic lasts',
  },
  'The model (INFERENCE_BACKEND=local)': {
    CLIP_MODEL: {
      meaning:
        'a Hugging Face repo id with the ONNX layout, e.g. `Xenova/clip-vit-base-patch32`, downloaded into the cache on the first start (see [models](models.md)); not with `CLIP_MODEL_DIR`',
      unset: 'the bundled tiny CLIP',
    },
    CLIP_MODEL_REVISION: { meaning: 'branch, tag or commit of `CLIP_MODEL`', unset: `\`${DEFAULT_REVISION}\`` },
    CLIP_MODEL_DIR: { meaning: 'a model directory on disk instead (see [models](models.md#model-files))', unset: 'the bundled tiny CLIP' },
    CLIP_DTYPE: 'weights: `fp32`, `q8` (`*_quantized.onnx`), `fp16`, `int8`, `uint8`, `q4`, ...',
    CLIP_DEVICE: "`cuda` tries ONNX Runtime's CUDA execution provider and falls back to the CPU with a log line",
    CLIP_SPINNING: "ONNX Runtime's threads busy-wait between operators; off, since the gateway's own work shares the cores",
    LOCAL_WORKERS: {
      meaning: 'worker threads running CLIP, each with its own ONNX Runtime sessions; 0 runs it on the event loop (for comparison only)',
      unset: 'half the cores, at least 1',
    },
  },
  'The Hugging Face hub (with CLIP_MODEL)': {
    HF_HUB_CACHE: { meaning: "the model cache, in `huggingface_hub`'s layout (shared with Python)", unset: '`$HF_HOME/hub`' },
    HUGGINGFACE_HUB_CACHE: 'the older name of `HF_HUB_CACHE`, read when that is unset',
    HF_HOME: { meaning: 'where the cache and the token file are', unset: '`$XDG_CACHE_HOME/huggingface`' },
    XDG_CACHE_HOME: 'where `HF_HOME` is when it is unset',
    HF_ENDPOINT: 'the hub, or a mirror of it',
    HF_TOKEN: { meaning: 'an access token for gated or private repos; never logged', unset: 'the token in `HF_TOKEN_PATH`, if any' },
    HF_TOKEN_PATH: 'the file `hf auth login` writes its token to; read only when `HF_TOKEN` is unset',
    HF_HUB_OFFLINE: '`1`: the cache only, no network at all',
  },
};

function remoteFromEnv(read: EnvReader, base: RemoteCallOptions): RemoteCallOptions {
  return {
    ...base,
    timeoutMs: read.get('REMOTE_TIMEOUT_MS', timeoutMs, base.timeoutMs),
    maxAttempts: read.get('REMOTE_MAX_ATTEMPTS', positiveInt, base.maxAttempts),
    maxInFlight: read.get('REMOTE_MAX_IN_FLIGHT', positiveInt, base.maxInFlight),
    maxRequestBytes: read.get('REMOTE_MAX_REQUEST_BYTES', positiveInt, base.maxRequestBytes),
    readyCacheMs: read.get('REMOTE_READY_CACHE_MS', nonNegativeInt, base.readyCacheMs),
    readyTimeoutMs: read.get('REMOTE_READY_TIMEOUT_MS', timeoutMs, base.readyTimeoutMs),
    circuit: {
      failureThreshold: read.get('CIRCUIT_FAILURE_THRESHOLD', positiveInt, base.circuit.failureThreshold),
      cooldownMs: read.get('CIRCUIT_COOLDOWN_MS', nonNegativeInt, base.circuit.cooldownMs),
    },
  };
}

/**
 * INFERENCE_BACKEND's backend, and with SPILLOVER_BACKEND the two tiers: a remote GPU primary
 * (sagemaker or http) and the spillover that serves while it is cold (see TieredBackend).
 */
export function backendFromEnv(env: Env, read: EnvReader, localDefaults: { spinning: boolean }): BackendOptions {
  const kind = read.get('INFERENCE_BACKEND', oneOf(BACKEND_KINDS), 'local');
  const spillover = read.optional('SPILLOVER_BACKEND', oneOf(SPILLOVER_KINDS));
  if (spillover === undefined) {
    for (const name of ['SPILL_AFTER_MS', 'GPU_WAKE_INTERVAL_MS']) {
      // Blank counts as unset, as for every other variable.
      const raw = env[name];
      if (raw !== undefined && raw.trim() !== '')
        throw new TypeError(
          `${name} is set (${JSON.stringify(raw)}) but SPILLOVER_BACKEND is not: it only applies to a primary with a spillover`,
        );
    }
    return singleBackendFromEnv(kind, 'INFERENCE_BACKEND', env, read, localDefaults);
  }
  if (kind !== 'sagemaker' && kind !== 'http') {
    throw new TypeError(
      `SPILLOVER_BACKEND is ${spillover} but INFERENCE_BACKEND is ${kind}: a spillover stands in for a remote GPU primary, so INFERENCE_BACKEND must be sagemaker or http`,
    );
  }
  return {
    kind: 'tiered',
    primary: singleBackendFromEnv(kind, 'INFERENCE_BACKEND', env, read, localDefaults) as PrimaryOptions,
    spillover:
      spillover === 'http'
        ? {
            kind: 'http',
            url: read.required('SPILLOVER_FUNCTION_URL', httpUrl, 'when SPILLOVER_BACKEND is http'),
            remote: remoteFromEnv(read, DEFAULT_REMOTE_CALL_OPTIONS),
          }
        : (singleBackendFromEnv(spillover, 'SPILLOVER_BACKEND', env, read, localDefaults) as SpilloverOptions),
    tiering: {
      spillAfterMs: read.get('SPILL_AFTER_MS', nonNegativeInt, DEFAULT_TIERED_OPTIONS.spillAfterMs),
      wakeIntervalMs: read.get('GPU_WAKE_INTERVAL_MS', timeoutMs, DEFAULT_TIERED_OPTIONS.wakeIntervalMs),
    },
  };
}

function singleBackendFromEnv(
  kind: (typeof BACKEND_KINDS)[number],
  /** The variable that chose it, for messages. */
  chosenBy: 'INFERENCE_BACKEND' | 'SPILLOVER_BACKEND',
  env: Env,
  read: EnvReader,
  localDefaults: { spinning: boolean },
): Exclude<BackendOptions, { kind: 'tiered' }> {
  switch (kind) {
    case 'local': {
      // Read here, resolved (looked up in the cache, downloaded) when the gateway starts: the
      // configuration stays a pure function of the environment.
      const source = modelSourceFromEnv(env);
      return {
        kind,
        modelDir: source.kind === 'directory' ? source.directory : undefined,
        ...(source.kind === 'hub' ? { hub: source.hub } : {}),
        workers: read.optional('LOCAL_WORKERS', nonNegativeInt),
        model: {
          dtype: read.optional('CLIP_DTYPE', MODEL_DTYPE),
          device: read.optional('CLIP_DEVICE', EXECUTION_DEVICE),
          spinning: read.get('CLIP_SPINNING', bool, localDefaults.spinning),
        },
      };
    }
    // CLIP runs in the function, which reads CLIP_MODEL itself: the gateway downloads nothing.
    case 'lambda':
      return {
        kind,
        functionName: read.required('LAMBDA_FUNCTION_NAME', nonEmpty, `when ${chosenBy} is lambda`),
        remote: remoteFromEnv(read, DEFAULT_REMOTE_CALL_OPTIONS),
      };
    case 'http': {
      const headers = read.optional('CLIP_FUNCTION_HEADERS', headerObject);
      return {
        kind,
        url: read.required('CLIP_FUNCTION_URL', httpUrl, 'when INFERENCE_BACKEND is http'),
        ...(headers ? { headers } : {}),
        remote: remoteFromEnv(read, DEFAULT_REMOTE_CALL_OPTIONS),
      };
    }
    case 'sagemaker': {
      const inferenceComponent = read.optional('SAGEMAKER_INFERENCE_COMPONENT', nonEmpty);
      return {
        kind,
        endpointName: read.required('SAGEMAKER_ENDPOINT', nonEmpty, 'when INFERENCE_BACKEND is sagemaker'),
        ...(inferenceComponent ? { inferenceComponent } : {}),
        remote: remoteFromEnv(read, DEFAULT_REMOTE_CALL_OPTIONS),
      };
    }
  }
}

/** An HTTP header's name, as RFC 9110 spells a token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the transport sets itself, or that would break the call. */
const RESERVED_HEADERS = new Set(['content-type', 'accept', 'content-length', 'host', 'connection', 'transfer-encoding']);

/**
 * A JSON object of header names to values (CLIP_FUNCTION_HEADERS), for a platform that wants its
 * own auth on every call. Its values are secrets: a refusal names the header, never its value.
 */
const headerObject: Rule<Record<string, string>> = {
  expected: 'a JSON object of header names to string values, such as {"Authorization": "Bearer ..."}',
  accepts: (value): value is Record<string, string> =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(value).every(
      ([name, v]) => HEADER_NAME.test(name) && !RESERVED_HEADERS.has(name.toLowerCase()) && typeof v === 'string' && !/[\r\n]/.test(v),
    ),
  parse: (raw) => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  },
  problem: (raw) => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return 'is not JSON (its value is not shown)';
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object (its value is not shown)';
    for (const [name, v] of Object.entries(value)) {
      if (!HEADER_NAME.test(name)) return `has ${JSON.stringify(name)}, which is not a header name`;
      if (RESERVED_HEADERS.has(name.toLowerCase())) return `sets ${name}, which the gateway sets itself`;
      if (typeof v !== 'string' || /[\r\n]/.test(v)) return `gives ${name} a value that is not a one-line string (its value is not shown)`;
    }
    return 'is not usable (its value is not shown)';
  },
};
