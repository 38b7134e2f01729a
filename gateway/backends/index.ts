// Where CLIP runs: one interface, implementations chosen by the backend's own options: in this
// process, or a remote function (Lambda, HTTP, SageMaker), alone or as the primary of two tiers.
import { consoleProgress, resolveModel, type HubModel } from '../../functions/hub';
import { bundledModelDir } from '../../functions/models';
import type { Logger } from '../common/log';
import type { InferenceBackend } from './backend';
import { HttpTransport } from './http';
import { LambdaTransport } from './lambda';
import { LocalBackend, type LocalModelOptions } from './local';
import { RemoteBackend, type CallOutcome, type RemoteCallOptions } from './remote';
import { SageMakerTransport } from './sagemaker';
import { TieredBackend, type TieredBackendOptions } from './tiered';

export type { BackendKind, BackendStatus, EmbedOptions, InferenceBackend, TierState, TierStatus } from './backend';
export type { TierCountersSnapshot } from './tier-counters';
export { defaultWorkerCount, LocalBackend, type LocalModelOptions } from './local';
export { DEFAULT_REMOTE_CALL_OPTIONS, RemoteBackend, type RemoteBackendOptions, type RemoteCallOptions } from './remote';
export { LambdaTransport } from './lambda';
export { HttpTransport } from './http';
export { SageMakerTransport } from './sagemaker';
export { DEFAULT_TIERED_OPTIONS, TieredBackend, type TieredBackendOptions } from './tiered';
export { registerTierMetrics } from './tier-metrics';

export const BACKEND_KINDS = ['local', 'lambda', 'http', 'sagemaker'] as const;
/** What can stand in for a primary that scales to zero. */
export const SPILLOVER_KINDS = ['local', 'lambda', 'http'] as const;

/** Which backend, with its own settings. */
export type BackendOptions =
  | {
      kind: 'local';
      /** Model directory. Default: the one `hub` resolves to, else the bundled tiny CLIP. */
      modelDir?: string;
      /** A Hugging Face repo (CLIP_MODEL), made a `modelDir` in the cache by resolveBackendModel when the gateway starts. Default: none. */
      hub?: HubModel;
      /** Worker threads. Default: defaultWorkerCount(). 0 runs inference on the event loop, for comparison only. */
      workers?: number;
      model: LocalModelOptions;
    }
  /** AWS Lambda through the SDK; region, credentials and AWS_ENDPOINT_URL_LAMBDA as the SDK reads them. */
  | { kind: 'lambda'; functionName: string; remote: RemoteCallOptions }
  /** The HTTP adapter (functions/handlers/http.ts) at this base URL, with these headers on every call (a platform's auth; never logged). */
  | { kind: 'http'; url: string; headers?: Record<string, string>; remote: RemoteCallOptions }
  /** A SageMaker endpoint (and inference component) through the SDK; region, credentials and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME as the SDK reads them. */
  | { kind: 'sagemaker'; endpointName: string; inferenceComponent?: string; remote: RemoteCallOptions }
  /** A remote primary that may scale to zero, with a spillover that serves while it is cold (see TieredBackend). */
  | {
      kind: 'tiered';
      primary: PrimaryOptions;
      spillover: SpilloverOptions;
      tiering: TieredBackendOptions;
    };

/** What can be a primary: a remote GPU function, whose calls say when it is cold. */
export type PrimaryOptions = Extract<BackendOptions, { kind: 'http' | 'sagemaker' }>;
export type SpilloverOptions = Extract<BackendOptions, { kind: (typeof SPILLOVER_KINDS)[number] }>;

/**
 * The options with a hub model made a local directory: found in the Hugging Face cache, or
 * downloaded into it (a bar per file on a terminal, log lines otherwise). Asynchronous, unlike
 * reading the configuration, and done once at start, before any worker loads the model. Other
 * options are returned as they are: a remote backend's CLIP is the function's business.
 */
export async function resolveBackendModel(options: BackendOptions, log: Logger): Promise<BackendOptions> {
  if (options.kind === 'tiered') return { ...options, spillover: (await resolveBackendModel(options.spillover, log)) as SpilloverOptions };
  if (options.kind !== 'local' || !options.hub || options.modelDir) return options;
  const lines = (line: string) => log(line);
  const resolved = await resolveModel({
    ...options.hub,
    dtype: options.model.dtype,
    log: lines,
    progress: consoleProgress({ log: lines }),
  });
  return { ...options, modelDir: resolved.directory };
}

/**
 * The backend these options name. Only the inline backend loads ONNX Runtime into this process,
 * so it is loaded only when chosen: a gateway in front of Lambda never loads the native binding.
 */
export function createBackend(options: BackendOptions, log: Logger): InferenceBackend {
  switch (options.kind) {
    case 'local': {
      if (options.hub && !options.modelDir) {
        throw new TypeError(
          `the local backend's model ${options.hub.repo} is a hub repo: resolveBackendModel() makes it a directory first`,
        );
      }
      const modelDir = options.modelDir ?? bundledModelDir();
      if (options.workers === 0) {
        // require, not import(): the package is CommonJS, and import() would load an ES module.
        const { InlineBackend } = require('./inline') as typeof import('./inline');
        return new InlineBackend(modelDir, options.model);
      }
      return new LocalBackend({ modelDir, workers: options.workers, model: options.model });
    }
    case 'lambda':
    case 'http':
    case 'sagemaker':
      return createRemoteBackend(options, log);
    case 'tiered':
      return new TieredBackend(
        (observe) => createRemoteBackend(options.primary, log, observe),
        createBackend(options.spillover, log),
        options.tiering,
        log,
      );
    default: {
      const unreachable: never = options;
      throw new TypeError(`unknown backend kind: ${JSON.stringify((unreachable as { kind: unknown }).kind)}`);
    }
  }
}

function createRemoteBackend(
  options: Extract<BackendOptions, { kind: 'lambda' | 'http' | 'sagemaker' }>,
  log: Logger,
  observe?: (outcome: CallOutcome) => void,
): RemoteBackend {
  const transport = (() => {
    switch (options.kind) {
      case 'lambda':
        return new LambdaTransport({ functionName: options.functionName, log });
      case 'http':
        return new HttpTransport(options.url, options.headers);
      case 'sagemaker':
        return new SageMakerTransport({ endpointName: options.endpointName, inferenceComponent: options.inferenceComponent, log });
    }
  })();
  return new RemoteBackend(transport, { ...options.remote, log, ...(observe ? { observe } : {}) });
}
