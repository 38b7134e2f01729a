#!/usr/bin/env node
// `npm run model -- pull REPO`: a CLIP from the Hugging Face hub into the Hugging Face cache ahead
// of time (for a container image, a machine that will be offline, or just to wait once).
// `npm run model -- list`: what that cache holds.
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';

import { MODEL_DTYPE, MODEL_DTYPES, type ModelDtype } from '../functions/clip';
import {
  consoleProgress,
  DEFAULT_REVISION,
  exportFiles,
  formatBytes,
  hubSettingsFromEnv,
  listCache,
  repoId,
  resolveModel,
  revisionName,
  type HubSettings,
  type ResolvedModel,
} from '../functions/hub';
import { check, EnvReader } from '../functions/options';

const USAGE = `Usage:
  npm run model -- pull REPO [--dtype DTYPE ...] [--revision REV] [--dir DIR]
  npm run model -- list

pull fetches the files of a Hugging Face repo (e.g. Xenova/clip-vit-base-patch32) that a dtype
needs into the Hugging Face cache, checked against the hub's sizes and SHA-256; what is cached
already is not fetched again, and an interrupted pull resumes.
  --dtype DTYPE    ${MODEL_DTYPES.join(' | ')} (default: $CLIP_DTYPE, else fp32); give it again for more
  --revision REV   branch, tag or commit (default main)
  --dir DIR        also write the files to DIR as a plain model directory (CLIP_MODEL_DIR=DIR),
                   e.g. inside a Docker build context
list shows the cached models: repos, revisions with their refs, files and sizes.

  --cache-dir DIR  the cache (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)

The environment as huggingface_hub reads it: HF_ENDPOINT (a mirror), HF_TOKEN (gated or private
repos; else the token file of \`hf auth login\`), HF_HUB_OFFLINE=1 (the cache only, no network).
`;

class UsageError extends Error {}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

async function pull(repo: string, dtypes: ModelDtype[], revision: string, dir: string | undefined, settings: HubSettings): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const progress = consoleProgress({ log });
  const resolved: { dtype: ModelDtype; model: ResolvedModel }[] = [];
  for (const dtype of dtypes) {
    resolved.push({ dtype, model: await resolveModel({ ...settings, repo, revision, dtype, log, progress }) });
  }
  const { directory, commit } = resolved[0].model;
  const files = [...new Set(resolved.flatMap((r) => r.model.files))];
  const downloaded = resolved.reduce((sum, r) => sum + r.model.downloadedBytes, 0);
  say(
    `${repo} at ${revision} (commit ${commit.slice(0, 7)}), dtype ${dtypes.join(', ')}: ${files.length} files, ` +
      `${formatBytes(downloaded)} downloaded, in ${directory}`,
  );
  const dtypeVariable = dtypes.length === 1 && dtypes[0] !== 'fp32' ? ` CLIP_DTYPE=${dtypes[0]}` : '';
  if (dir !== undefined) {
    await exportFiles(directory, files, dir);
    say(`Written to ${dir} as a model directory: serve it with CLIP_MODEL_DIR=${dir}${dtypeVariable}`);
    return 0;
  }
  const defaultCache = hubSettingsFromEnv({}).cacheDir;
  const cacheVariable = resolvePath(settings.cacheDir) === resolvePath(defaultCache) ? '' : `HF_HUB_CACHE=${settings.cacheDir} `;
  const revisionVariable = revision === DEFAULT_REVISION ? '' : ` CLIP_MODEL_REVISION=${revision}`;
  say(`Serve it with ${cacheVariable}CLIP_MODEL=${repo}${revisionVariable}${dtypeVariable} (add HF_HUB_OFFLINE=1 to use the cache only)`);
  return 0;
}

async function list(cacheDir: string): Promise<number> {
  const repos = await listCache(cacheDir);
  if (repos.length === 0) {
    say(`No models in the cache at ${cacheDir}.`);
    return 0;
  }
  say(`The cache at ${cacheDir}:`);
  for (const repo of repos) {
    say(`${repo.repo}  ${formatBytes(repo.size)} on disk`);
    for (const revision of repo.revisions) {
      const refs = revision.refs.length > 0 ? ` (${revision.refs.join(', ')})` : '';
      say(`  ${revision.commit}${refs}: ${revision.files.length} files, ${formatBytes(revision.size)}`);
      const width = Math.max(...revision.files.map((f) => f.path.length));
      for (const file of revision.files) {
        say(`    ${file.path.padEnd(width)}  ${file.size === undefined ? 'missing (its blob is gone)' : formatBytes(file.size)}`);
      }
    }
    if (repo.incomplete > 0) {
      say(`  ${repo.incomplete} unfinished download${repo.incomplete === 1 ? '' : 's'}, resumed by the next pull`);
    }
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dtype: { type: 'string', multiple: true },
      revision: { type: 'string' },
      dir: { type: 'string' },
      'cache-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usage = (message: string) => new UsageError(`${message}.`);
  let settings: HubSettings;
  let defaultDtype: ModelDtype;
  try {
    settings = hubSettingsFromEnv(process.env);
    defaultDtype = new EnvReader(process.env).get('CLIP_DTYPE', MODEL_DTYPE, 'fp32');
  } catch (error) {
    throw usage((error as Error).message);
  }
  if (values['cache-dir'] !== undefined) settings = { ...settings, cacheDir: values['cache-dir'] };
  const [command, ...rest] = positionals;
  if (command === 'list') {
    if (rest.length > 0 || values.dtype || values.revision || values.dir)
      throw usage('list takes no repo and no --dtype, --revision or --dir');
    return list(settings.cacheDir);
  }
  if (command !== 'pull') {
    throw usage(
      command
        ? `unknown command ${JSON.stringify(command)}; the commands are pull and list`
        : 'no command given; the commands are pull and list',
    );
  }
  if (rest.length !== 1) throw usage('pull takes one repo id, such as Xenova/clip-vit-base-patch32');
  const repo = check('the repo', rest[0], repoId, usage);
  const revision = check('--revision', values.revision ?? DEFAULT_REVISION, revisionName, usage);
  const dtypes = [...new Set((values.dtype ?? [defaultDtype]).map((dtype) => check('--dtype', dtype, MODEL_DTYPE, usage)))];
  if (values.dir !== undefined && values.dir.trim() === '') throw usage('--dir needs a directory');
  return pull(repo, dtypes, revision, values.dir, settings);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const isUsage = error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`model: ${error instanceof Error ? error.message : String(error)}\n${isUsage ? `\n${USAGE}` : ''}`);
    process.exit(isUsage ? 2 : 1);
  },
);
