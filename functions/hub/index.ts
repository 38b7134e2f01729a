// Models from the Hugging Face hub, by repo id, through the cache huggingface_hub uses: what the
// gateway's local backend, the function handlers and the CLIs call before they load a model.
export { exportFiles, listCache, type CachedFile, type CachedRepo, type CachedRevision } from './cache';
export {
  DEFAULT_ENDPOINT,
  DEFAULT_REVISION,
  hubCacheDir,
  hubSettingsFromEnv,
  modelSourceFromEnv,
  repoId,
  revisionName,
  type HubModel,
  type HubSettings,
  type ModelSource,
} from './env';
export { HubError } from './errors';
export { consoleProgress, formatBytes, type ConsoleProgressOptions, type DownloadProgress } from './progress';
export { resolveModel, type ResolvedModel, type ResolveModelOptions } from './resolve';
