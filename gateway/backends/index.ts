// Where CLIP runs: one interface, implementations chosen by the backend's own options: in this
// process, or a remote function (Lambda, HTTP, SageMaker), alone or as the primary of two tiers.
import { bundledModelDir } from '../../functions/models';
import type { Logger } from '../common/log';
import type { InferenceBackend } from './backend';
import type { BackendOptions, SpilloverOptions } from './options';
import { HttpTransport } from './http';
import { LambdaTransport } from './lambda';
import { LocalBackend } from './local';
import { RemoteBackend, type CallOutcome } from './remote';
import { SageMakerTransport } from './sagemaker';
import { TieredBackend } from './tiered';

export type { BackendKind, BackendStatus, EmbedOptions, InferenceBackend, TierCountersSnapshot, TierState, TierStatus } from './backend';
export { defaultWorkerCount, LocalBackend, type LocalModelOptions } from './local';
export { DEFAULT_REMOTE_CALL_OPTIONS, RemoteBackend, type RemoteBackendOptions, type RemoteCallOptions } from './remote';
export { LambdaTransport } from './lambda';
export { HttpTransport } from './http';
export { SageMakerTransport } from './sagemaker';
export { DEFAULT_TIERED_OPTIONS, TieredBackend, type TieredBackendOptions } from './tiered';
export { registerTierMetrics } from './tier-metrics';
export { BACKEND_KINDS, SPILLOVER_KINDS, type BackendOptions, type PrimaryOptions, type SpilloverOptions } from './options';
export { backendFromEnv } from './from-env';

/**
 * The options with a hub model made a local directory: found in the Hugging Face cache, or
 * downloaded into it (a bar per file on a terminal, log lines otherwise). Asynchronous, unlike
 * reading the configuration, and done once at start, before any worker loads the model. Other
 * options are returned as they are: a remote backend's CLIP is the function's business.
 */
export async function resolveBackendModel(options: BackendOptions, log: Logger): Promise<BackendOptions> {
  if (options.kind === 'tiered') return { ...options, spillover: (await resolveBackendModel(options.spillover, log)) as SpilloverOptions };
  if (options.kind !== 'local' || !options.hub || options.modelDir) return options;
  // Required only here: the Hugging Face client (and its hashing WebAssembly) is for a hub model alone.
  const { consoleProgress, resolveModel } = require('../../functions/hub') as typeof import('../../functions/hub');
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
        return new InlineBackend(modelDir, { ...options.model, log: (line) => log(line) });
      }
      return new LocalBackend({ modelDir, workers: options.workers, model: options.model, log: (line) => log(line) });
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
