// Where CLIP runs: one interface, three implementations, chosen by configuration.
import { bundledModelDir } from '../../functions/bundled-model';
import type { GatewayConfig } from '../config';
import type { InferenceBackend } from './backend';
import { HttpTransport } from './http';
import { InlineBackend } from './inline';
import { LambdaTransport } from './lambda';
import { LocalBackend } from './local';
import { RemoteBackend } from './remote';

export type { BackendKind, InferenceBackend } from './backend';
export { LocalBackend } from './local';
export { RemoteBackend, DEFAULT_REMOTE_BACKEND_OPTIONS, type RemoteBackendOptions } from './remote';
export { LambdaTransport } from './lambda';
export { HttpTransport } from './http';

export function createBackend(config: GatewayConfig, log: (message: string, error?: unknown) => void): InferenceBackend {
  const backend = config.backend;
  switch (backend.kind) {
    case 'local':
      if (config.localWorkers === 0) {
        return new InlineBackend(config.modelDir ?? bundledModelDir(), {
          dtype: config.dtype,
          device: config.device,
          spinning: config.spinning,
          imageLimits: config.imageLimits,
        });
      }
      return new LocalBackend({
        modelDir: config.modelDir ?? bundledModelDir(),
        workers: config.localWorkers,
        model: { dtype: config.dtype, device: config.device, spinning: config.spinning, imageLimits: config.imageLimits },
      });
    case 'lambda':
      return new RemoteBackend(new LambdaTransport({ functionName: backend.functionName, log }), { ...config.remote, log });
    case 'http':
      return new RemoteBackend(new HttpTransport(backend.url), { ...config.remote, log });
    default: {
      const unreachable: never = backend;
      throw new TypeError(`unknown backend kind: ${JSON.stringify((unreachable as { kind: unknown }).kind)}`);
    }
  }
}
