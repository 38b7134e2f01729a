// Which model to serve and how to reach the Hugging Face hub, from the variables huggingface_hub
// reads, so that one environment (and one cache) serves Python and this project alike.
import { homedir } from 'node:os';
import { join } from 'node:path';

import { bool, EnvReader, httpUrl, nonEmpty, type Env, type Rule } from '../options';

/** The hub itself; HF_ENDPOINT names a mirror instead. */
export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** The revision a repo id means without CLIP_MODEL_REVISION, as on the hub. */
export const DEFAULT_REVISION = 'main';

/** Where and how to reach the hub. */
export interface HubSettings {
  /** The cache, in huggingface_hub's layout (HF_HUB_CACHE, else $HF_HOME/hub). Default ~/.cache/huggingface/hub. */
  cacheDir: string;
  /** The hub or a mirror of it (HF_ENDPOINT), without a trailing slash. Default https://huggingface.co. */
  endpoint: string;
  /** An access token for gated and private repos (HF_TOKEN). Never logged. Default: the token file, if there is one. */
  token?: string;
  /** The file `hf auth login` writes its token to (HF_TOKEN_PATH, else $HF_HOME/token); read only when `token` is unset. */
  tokenPath: string;
  /** Cache only, no network at all (HF_HUB_OFFLINE). Default false. */
  offline: boolean;
}

/** A model on the hub: a repo at a revision, and where to get it from. */
export interface HubModel extends HubSettings {
  /** `owner/name` (CLIP_MODEL). */
  repo: string;
  /** Branch, tag or commit hash (CLIP_MODEL_REVISION). Default main. */
  revision: string;
}

/** Where a model comes from: a directory on disk, a hub repo, or the tiny CLIP this project ships. */
export type ModelSource = { kind: 'directory'; directory: string } | { kind: 'hub'; hub: HubModel } | { kind: 'bundled' };

const REPO_PART = /^(?![.-])(?!.*(?:--|\.\.))[A-Za-z0-9._-]{1,96}(?<![.-])$/;

/** A model repo id as the hub spells it: `owner/name` (or a legacy `name` without an owner). */
export const repoId: Rule<string> = {
  expected: 'a Hugging Face repo id such as Xenova/clip-vit-base-patch32',
  accepts: (value): value is string => {
    if (typeof value !== 'string') return false;
    const parts = value.split('/');
    return parts.length <= 2 && parts.every((part) => REPO_PART.test(part));
  },
  parse: (raw) => raw.trim(),
};

/**
 * A branch, tag or commit. It becomes a path under the cache's refs/ (`refs/pr/1` included, as
 * huggingface_hub stores it), so nothing that would leave that folder is accepted.
 */
export const revisionName: Rule<string> = {
  expected: 'a branch, tag or commit hash such as main, v1.0 or refs/pr/1',
  accepts: (value): value is string =>
    typeof value === 'string' &&
    /^[^\s\\]+$/.test(value) &&
    !value.startsWith('/') &&
    !value.endsWith('/') &&
    value.split('/').every((part) => part !== '' && part !== '.' && part !== '..'),
  parse: (raw) => raw.trim(),
};

/** A Hugging Face access token; @huggingface/hub refuses any that does not start with hf_. Never quoted in an error. */
export const accessToken: Rule<string> = {
  expected: 'a Hugging Face access token (hf_...)',
  accepts: (value): value is string => typeof value === 'string' && /^hf_\S+$/.test(value),
  parse: (raw) => raw.trim(),
  problem: (raw) =>
    raw.trim().startsWith('hf_') ? 'contains white space (its value is not shown)' : 'does not start with hf_ (its value is not shown)',
};

/** The hub's base URL, without the trailing slash the client would double. */
export const endpointUrl: Rule<string> = { ...httpUrl, parse: (raw) => raw.trim().replace(/\/+$/, '') };

/** `~` at the start of a path, as huggingface_hub's expanduser reads it. */
function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (huggingface_hub's constants.py). */
export function hfHome(env: Env = process.env): string {
  const read = new EnvReader(env);
  const home = read.optional('HF_HOME', nonEmpty);
  if (home !== undefined) return expandHome(home);
  return join(expandHome(read.get('XDG_CACHE_HOME', nonEmpty, '~/.cache')), 'huggingface');
}

/**
 * The cache directory huggingface_hub uses: HF_HUB_CACHE, else the older HUGGINGFACE_HUB_CACHE,
 * else $HF_HOME/hub. @huggingface/hub's getHFHubCachePath() reads the same variables, but only from
 * process.env, and the gateway's configuration is read from an environment it is given.
 */
export function hubCacheDir(env: Env = process.env): string {
  const read = new EnvReader(env);
  const dir = read.optional('HF_HUB_CACHE', nonEmpty) ?? read.optional('HUGGINGFACE_HUB_CACHE', nonEmpty);
  return dir !== undefined ? expandHome(dir) : join(hfHome(env), 'hub');
}

/** HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE and the cache's location, each checked as it is read. */
export function hubSettingsFromEnv(env: Env = process.env): HubSettings {
  const read = new EnvReader(env);
  return {
    cacheDir: hubCacheDir(env),
    endpoint: read.get('HF_ENDPOINT', endpointUrl, DEFAULT_ENDPOINT),
    token: read.optional('HF_TOKEN', accessToken),
    tokenPath: expandHome(read.get('HF_TOKEN_PATH', nonEmpty, join(hfHome(env), 'token'))),
    offline: read.get('HF_HUB_OFFLINE', bool, false),
  };
}

/**
 * The model the environment names: CLIP_MODEL_DIR (a directory), CLIP_MODEL (a hub repo, at
 * CLIP_MODEL_REVISION), or neither (the bundled tiny CLIP). Both set is an error, as is a revision
 * without a repo. Reads only: nothing is downloaded or even looked at on disk here.
 */
export function modelSourceFromEnv(env: Env = process.env): ModelSource {
  const read = new EnvReader(env);
  const directory = read.optional('CLIP_MODEL_DIR', nonEmpty);
  const repo = read.optional('CLIP_MODEL', repoId);
  const revision = read.optional('CLIP_MODEL_REVISION', revisionName);
  if (directory !== undefined && repo !== undefined) {
    throw new TypeError(
      `CLIP_MODEL_DIR (${JSON.stringify(directory)}) and CLIP_MODEL (${JSON.stringify(repo)}) are both set: ` +
        'set CLIP_MODEL_DIR for a model directory on disk or CLIP_MODEL for a Hugging Face repo, not both',
    );
  }
  if (revision !== undefined && repo === undefined) {
    throw new TypeError(
      `CLIP_MODEL_REVISION is set (${JSON.stringify(revision)}) without CLIP_MODEL: it is the revision of the repo CLIP_MODEL names`,
    );
  }
  if (directory !== undefined) return { kind: 'directory', directory };
  if (repo === undefined) return { kind: 'bundled' };
  return { kind: 'hub', hub: { repo, revision: revision ?? DEFAULT_REVISION, ...hubSettingsFromEnv(env) } };
}
