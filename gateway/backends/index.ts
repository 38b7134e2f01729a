// Where CLIP runs: one interface, three implementations, chosen by the backend's own options.
import { bundledModelDir } from '../../functions/models';
import type { Logger } from '../common/log';
import type { InferenceBackend } from './backend';
import { HttpTransport } from './http';
import { LambdaTransport } from './lambda';
import { LocalBackend, type LocalModelOptions } from './local';
import { RemoteBackend, type RemoteCallOptions } from './remote';

export type { BackendKind, InferenceBackend } from './backend';
export { defaultWorkerCount, LocalBackend, type LocalModelOptions } from './local';
export { DEFAULT_REMOTE_CALL_OPTIONS, RemoteBackend, type RemoteBackendOptions, type RemoteCallOptions } from './remote';
export { LambdaTransport } from './lambda';
export { HttpTransport } from './http';

export const BACKEND_KINDS = ['local', 'lambda', 'http'] as const;

/** Which backend, with its own settings. */
export type BackendOptions =
  | {
      kind: 'local';
      /** Model directory. Default: the bundled tiny CLIP. */
      modelDir?: string;
      /** Worker threads. Default: defaultWorkerCount(). 0 runs inference on the event loop, for comparison only. */
      workers?: number;
      model: LocalModelOptions;
    }
  /** AWS Lambda through the SDK; region, credentials and AWS_ENDPOINT_URL_LAMBDA as the SDK reads them. */
  | { kind: 'lambda'; functionName: string; remote: RemoteCallOptions }
  /** The HTTP adapter (functions/handlers/http.ts) at this base URL. */
  | { kind: 'http'; url: string; remote: RemoteCallOptions };

/**
 * The backend these options name. Only the inline backend loads ONNX Runtime into this process,
 * so it is loaded only when chosen: a gateway in front of Lambda never loads the native binding.
 */
export function createBackend(options: BackendOptions, log: Logger): InferenceBackend {
  switch (options.kind) {
    case 'local': {
      const modelDir = options.modelDir ?? bundledModelDir();
      if (options.workers === 0) {
        // require, not import(): the package is CommonJS, and import() would load an ES module.
        const { InlineBackend } = require('./inline') as typeof import('./inline');
        return new InlineBackend(modelDir, options.model);
      }
      return new LocalBackend({ modelDir, workers: options.workers, model: options.model });
    }
    case 'lambda':
      return new RemoteBackend(new LambdaTransport({ functionName: options.functionName, log }), { ...options.remote, log });
    case 'http':
      return new RemoteBackend(new HttpTransport(options.url), { ...options.remote, log });
    default: {
      const unreachable: never = options;
      throw new TypeError(`unknown backend kind: ${JSON.stringify((unreachable as { kind: unknown }).kind)}`);
    }
  }
}
