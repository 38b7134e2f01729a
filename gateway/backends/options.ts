import type { HubModel } from '../../functions/hub';
import type { LocalModelOptions } from './local';
import type { RemoteCallOptions } from './remote-options';
import type { TieredBackendOptions } from './tiered';

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
