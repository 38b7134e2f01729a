// A hub repo id → a model directory on disk: the files a dtype needs, from the cache when they
// are there, downloaded into it when not.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { modelInfo, pathsInfo } from '@huggingface/hub';

import { MODEL_DTYPE, MODEL_DTYPES, modelFiles, type ModelDtype } from '../clip/model-dir';
import { check, nonEmpty, nonNegativeInt, positiveInt } from '../options';
import {
  blobPath,
  COMMIT_HASH,
  isFile,
  linkSnapshotFile,
  localPath,
  missingFiles,
  readRef,
  repoFolder,
  snapshotDir,
  withBlobLock,
  writeRef,
} from './cache';
import { downloadBlob, expectedFile, IntegrityError, type DownloadSource } from './download';
import { accessToken, DEFAULT_ENDPOINT, DEFAULT_REVISION, endpointUrl, hfHome, hubCacheDir, repoId, revisionName } from './env';
import { explainHubError, HubError, isRetryable, messageOf, networkCause, type RequestContext } from './errors';
import { formatBytes, type DownloadProgress } from './progress';

export interface ResolveModelOptions {
  /** The repo, `owner/name`. */
  repo: string;
  /** Branch, tag or commit hash. Default main. */
  revision?: string;
  /** Which weights; only the files this dtype needs are fetched. Default fp32. */
  dtype?: ModelDtype;
  /** The cache directory. Default: hubCacheDir() (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** The hub or a mirror. Default https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated and private repos. Default: the one in `tokenPath`, if any. Never logged. */
  token?: string;
  /** Where `hf auth login` keeps a token. Default $HF_HOME/token. */
  tokenPath?: string;
  /** Use the cache only and make no request at all. Default false. */
  offline?: boolean;
  /** Told about each download. Default: nothing shown. */
  progress?: DownloadProgress;
  /** Lines about what is fetched, retried or reused. Default: none. */
  log?: (line: string) => void;
  /** Tries for each request and each file before giving up. Default 3. */
  attempts?: number;
  /** Wait before the second try, doubled for each further one, in ms. Default 1000. */
  retryDelayMs?: number;
}

/** A model directory in the cache, ready for ClipModel.load. */
export interface ResolvedModel {
  /** snapshots/<commit> of the repo's cache folder. */
  directory: string;
  repo: string;
  revision: string;
  commit: string;
  /** The files the dtype needs, relative to `directory`. */
  files: string[];
  /** Those this call downloaded (none when the cache had them all). */
  downloaded: string[];
  /** Bytes this call downloaded. */
  downloadedBytes: number;
}

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_RETRY_DELAY_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The dtypes whose two tower files a repo's file list has: what CLIP_DTYPE can be for it. */
function offeredDtypes(paths: string[]): ModelDtype[] {
  return MODEL_DTYPES.filter((dtype) => modelFiles(dtype).every((file) => paths.includes(file)));
}

/** The token file's token, or undefined when there is none; one that is not a token is an error naming the file, never its content. */
async function tokenFromFile(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
  if (text === '') return undefined;
  if (!accessToken.accepts(text)) {
    throw new HubError(
      `The token file ${path} (HF_TOKEN_PATH) does not hold a Hugging Face access token (hf_...); its content is not shown.`,
    );
  }
  return text;
}

/**
 * The model directory for `repo` at `revision` with the files `dtype` needs, in the Hugging Face
 * cache: taken from it when complete (no request for any file; one to learn the revision's commit
 * unless the revision is a commit hash), downloaded into it otherwise, each file checked against
 * the hub's size and hash. Offline, only the cache is read, and a missing file is an error naming it.
 */
export async function resolveModel(options: ResolveModelOptions): Promise<ResolvedModel> {
  const repo = check('repo', options.repo, repoId);
  const revision = check('revision', options.revision ?? DEFAULT_REVISION, revisionName);
  const dtype = check('dtype', options.dtype ?? 'fp32', MODEL_DTYPE);
  const cacheDir = check('cacheDir', options.cacheDir ?? hubCacheDir(), nonEmpty);
  const endpoint = check('endpoint', options.endpoint ?? DEFAULT_ENDPOINT, endpointUrl).replace(/\/+$/, '');
  const attempts = check('attempts', options.attempts ?? DEFAULT_ATTEMPTS, positiveInt);
  const retryDelayMs = check('retryDelayMs', options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, nonNegativeInt);
  // check() would quote the value, and this one is a secret.
  if (options.token !== undefined && !accessToken.accepts(options.token)) {
    throw new TypeError('token must be a Hugging Face access token (hf_...); its value is not shown');
  }
  const log = options.log ?? (() => undefined);
  const folder = repoFolder(cacheDir, repo);
  const files = modelFiles(dtype);
  const result = (commit: string, downloaded: string[] = [], downloadedBytes = 0): ResolvedModel => ({
    directory: snapshotDir(folder, commit),
    repo,
    revision,
    commit,
    files,
    downloaded,
    downloadedBytes,
  });
  const pullCommand = `npm run model -- pull ${repo} --dtype ${dtype}${revision === DEFAULT_REVISION ? '' : ` --revision ${revision}`}`;

  /** The cached commit of the revision, if every file the dtype needs is in its snapshot. */
  const fromCache = async (): Promise<{ commit?: string; missing: string[] }> => {
    const commit = COMMIT_HASH.test(revision) ? revision : await readRef(folder, revision);
    if (!commit) return { missing: files };
    return { commit, missing: await missingFiles(snapshotDir(folder, commit), files) };
  };

  if (options.offline) {
    const { commit, missing } = await fromCache();
    if (commit && missing.length === 0) {
      log(`${repo} at ${revision} (commit ${commit.slice(0, 7)}) from the cache at ${cacheDir} (HF_HUB_OFFLINE)`);
      return result(commit);
    }
    const what = commit
      ? `lacks ${missing.join(', ')} of ${repo} at ${revision} (commit ${commit.slice(0, 7)}), needed for dtype ${dtype}`
      : `has no revision ${revision} of ${repo} (no ${join(folder, 'refs', revision)}), so none of its files (${files.join(', ')})`;
    throw new HubError(
      `HF_HUB_OFFLINE is set and the cache at ${cacheDir} ${what}. Fill the cache where the hub can be reached, ` +
        `with \`${pullCommand}\` (or Python's \`hf download ${repo} ${files.join(' ')}\`), and give this process that ` +
        'cache (HF_HUB_CACHE); or unset HF_HUB_OFFLINE to download here.',
    );
  }

  if (COMMIT_HASH.test(revision)) {
    // A commit never changes: with its files cached, there is nothing to ask the hub.
    const cached = await fromCache();
    if (cached.missing.length === 0) {
      log(`${repo} at commit ${revision.slice(0, 7)} from the cache at ${cacheDir}`);
      return result(revision);
    }
  }

  const token = options.token ?? (await tokenFromFile(options.tokenPath ?? join(hfHome(), 'token')));
  const context: RequestContext = { repo, revision, endpoint, token: token !== undefined };
  const credentials = token ? { accessToken: token } : {};

  /** An API call, tried again on network failures and 5xx answers. */
  const withRetries = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt >= attempts || !isRetryable(error)) throw error;
        const delay = retryDelayMs * 2 ** (attempt - 1);
        log(`${what} failed: ${networkCause(error)}; attempt ${attempt + 1} of ${attempts} in ${delay / 1000} s`);
        await sleep(delay);
      }
    }
  };

  let commit: string;
  let paths: string[];
  try {
    const info = await withRetries(`Looking up ${repo} at ${revision}`, () =>
      modelInfo({ name: repo, revision, hubUrl: endpoint, additionalFields: ['sha', 'filePaths'], ...credentials }),
    );
    commit = info.sha;
    paths = info.filePaths ?? [];
  } catch (error) {
    // As huggingface_hub does: a hub out of reach is no reason to stop when the cache has it all.
    if (isRetryable(error)) {
      const cached = await fromCache();
      if (cached.commit && cached.missing.length === 0) {
        log(
          `Could not reach ${endpoint}: ${networkCause(error)}; using ${repo} at ${revision} (commit ${cached.commit.slice(0, 7)}) from the cache at ${cacheDir}`,
        );
        return result(cached.commit);
      }
    }
    throw explainHubError(error, context);
  }
  if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) {
    throw new HubError(
      `${endpoint} gave no commit hash for ${repo} at ${revision} (got ${JSON.stringify(commit)}); is HF_ENDPOINT a Hugging Face hub?`,
    );
  }
  if (revision !== commit) await writeRef(folder, revision, commit);
  const snapshot = snapshotDir(folder, commit);
  const missing = await missingFiles(snapshot, files);
  if (missing.length === 0) {
    log(`${repo} at ${revision} (commit ${commit.slice(0, 7)}) from the cache at ${cacheDir}`);
    return result(commit);
  }

  const absent = missing.filter((file) => !paths.includes(file));
  if (absent.length > 0) {
    const offered = offeredDtypes(paths);
    throw new HubError(
      `${repo} at ${revision} has no ${absent.join(', ')}, needed for dtype ${dtype}; ` +
        (offered.length > 0
          ? `it has weights for dtype ${offered.join(', ')} (CLIP_DTYPE, or --dtype).`
          : 'it has no ONNX export of both CLIP towers in onnx/ (the layout of Xenova/clip-vit-base-patch32).'),
    );
  }
  const infos = await withRetries(`Listing ${missing.length} files of ${repo}`, () =>
    pathsInfo({ repo, paths: missing, revision: commit, hubUrl: endpoint, ...credentials }),
  ).catch((error: unknown) => {
    throw explainHubError(error, context);
  });

  log(`Fetching ${missing.join(', ')} of ${repo} at ${revision} (commit ${commit.slice(0, 7)}) into ${cacheDir}`);
  const source: DownloadSource = { repo, commit, endpoint, token };
  const downloaded: string[] = [];
  let downloadedBytes = 0;
  for (const path of missing) {
    const info = infos.find((i) => i.path === path);
    if (!info) throw new HubError(`${endpoint} listed ${path} in ${repo} at ${revision} but gave no details of it (paths-info).`);
    const expected = expectedFile(info);
    const blob = blobPath(folder, expected.etag);
    const complete = async () => (await isFile(blob)) && (await stat(blob)).size === expected.size;
    if (!(await complete())) {
      await withBlobLock(
        cacheDir,
        folder,
        expected.etag,
        () => log(`${path}: another process is downloading it; waiting for it`),
        async () => {
          // The process that held the lock may have finished it.
          if (await complete()) return;
          for (let attempt = 1; ; attempt++) {
            try {
              await downloadBlob(source, expected, blob, options.progress);
              downloaded.push(path);
              downloadedBytes += expected.size;
              return;
            } catch (error) {
              const integrity = error instanceof IntegrityError;
              if (attempt >= attempts || !(integrity || isRetryable(error))) {
                if (!integrity) throw explainHubError(error, { ...context, file: path });
                throw new HubError(
                  `${error.message} ${attempts === 1 ? 'It was the only attempt' : `All ${attempts} attempts were`}: the hub (or the ` +
                    `mirror HF_ENDPOINT names) sends other bytes than it lists, or something on the way changes them.`,
                  { cause: error },
                );
              }
              const delay = retryDelayMs * 2 ** (attempt - 1);
              log(
                `${path}: ${integrity ? messageOf(error) : networkCause(error)}; ` +
                  `attempt ${attempt + 1} of ${attempts} in ${delay / 1000} s, ${integrity ? 'from the start' : 'resuming where it stopped'}`,
              );
              await sleep(delay);
            }
          }
        },
      );
    }
    await linkSnapshotFile(blob, localPath(snapshot, path));
  }
  log(`${repo} at ${revision} (commit ${commit.slice(0, 7)}) is in ${snapshot}: ${formatBytes(downloadedBytes)} downloaded`);
  return result(commit, downloaded, downloadedBytes);
}
