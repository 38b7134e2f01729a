// The Hugging Face cache on disk, in huggingface_hub's layout (https://huggingface.co/docs/hub/local-cache):
//   <cache>/models--owner--name/blobs/<etag>                   the bytes, once per content
//   <cache>/models--owner--name/snapshots/<commit>/<path>      relative symlinks ../../blobs/<etag>
//   <cache>/models--owner--name/refs/<revision>                the commit a branch or tag was at
// so that a cache filled by Python serves this project and the other way round.
import {
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, relative } from 'node:path';

import { getRepoFolderName } from '@huggingface/hub';

/** A full commit hash: a revision that names a snapshot directly, without refs/. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** Where one repo's cache lives: `models--owner--name` under the cache directory. */
export function repoFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
}

/** A repo path (POSIX separators, as the hub has them) under a snapshot or export directory. */
export function localPath(directory: string, path: string): string {
  return join(directory, ...path.split('/'));
}

export const snapshotDir = (folder: string, commit: string) => join(folder, 'snapshots', commit);
export const blobPath = (folder: string, etag: string) => join(folder, 'blobs', etag);
const refPath = (folder: string, revision: string) => join(folder, 'refs', ...revision.split('/'));

/** The commit refs/<revision> records, or undefined when this cache never fetched that revision. */
export async function readRef(folder: string, revision: string): Promise<string | undefined> {
  try {
    const commit = (await readFile(refPath(folder, revision), 'utf8')).trim();
    return COMMIT_HASH.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Records where a branch or tag points, replacing the file whole so that no reader sees half of it. */
export async function writeRef(folder: string, revision: string, commit: string): Promise<void> {
  const path = refPath(folder, revision);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  // No newline: huggingface_hub writes the bare hash, and some readers do not strip.
  await writeFile(temporary, commit);
  await rename(temporary, path);
}

/** Whether `path` is a readable file, following symlinks (a dangling snapshot link is not one). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The files of `files` a snapshot lacks. */
export async function missingFiles(snapshot: string, files: string[]): Promise<string[]> {
  const present = await Promise.all(files.map((file) => isFile(localPath(snapshot, file))));
  return files.filter((_, i) => !present[i]);
}

/**
 * Points snapshots/<commit>/<path> at its blob with a relative link, as huggingface_hub does
 * (the cache stays valid when moved). Made under a temporary name and renamed over the old one,
 * so the path never goes missing. Where symlinks cannot be made, the blob is copied, as both
 * huggingface_hub and @huggingface/hub do.
 */
export async function linkSnapshotFile(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const temporary = `${pointer}.${process.pid}.tmp`;
  await rm(temporary, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), temporary);
  } catch {
    await copyFile(blob, temporary);
  }
  await rename(temporary, pointer);
}

/** How long a lock whose owner stopped touching it is honoured. */
const LOCK_STALE_MS = 60_000;
const LOCK_HEARTBEAT_MS = 10_000;
const LOCK_POLL_MS = 250;

/**
 * Holds `.locks/<repo folder>/<etag>.clip.lock` while a blob is downloaded, so that two processes
 * (a gateway starting while `npm run model -- pull` runs, two containers on one volume) never
 * write the same `.incomplete` file. Its holder touches it every 10 s; a lock untouched for a
 * minute belongs to a process that died, and is taken over. (huggingface_hub's own `<etag>.lock`
 * is an flock, which Node cannot take; the two only meet if Python downloads the same blob at
 * the same moment, and then the hash check refuses whatever they mixed.)
 */
export async function withBlobLock<T>(
  cacheDir: string,
  folder: string,
  etag: string,
  onWait: () => void,
  work: () => Promise<T>,
): Promise<T> {
  const path = join(cacheDir, '.locks', relative(cacheDir, folder), `${etag}.clip.lock`);
  await mkdir(dirname(path), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname() }));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const touched = await stat(path).then(
        (s) => s.mtimeMs,
        () => 0,
      );
      if (Date.now() - touched > LOCK_STALE_MS) {
        await rm(path, { force: true });
        continue;
      }
      if (!waited) onWait();
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await work();
  } finally {
    clearInterval(heartbeat);
    await rm(path, { force: true });
  }
}

/** One file of a cached snapshot. */
export interface CachedFile {
  /** Its path in the repo. */
  path: string;
  /** Bytes, or undefined when the snapshot's link points at a blob that is gone. */
  size?: number;
}

export interface CachedRevision {
  commit: string;
  /** The branches and tags of refs/ that point at this commit. */
  refs: string[];
  directory: string;
  files: CachedFile[];
  /** Bytes of its files (a blob shared by two files counts once per file). */
  size: number;
}

export interface CachedRepo {
  repo: string;
  folder: string;
  revisions: CachedRevision[];
  /** Bytes of its blobs: what deleting the repo's folder would free. */
  size: number;
  /** Downloads that stopped before they were complete (`blobs/*.incomplete`), resumed by the next pull. */
  incomplete: number;
}

async function entries(dir: string) {
  return readdir(dir, { withFileTypes: true }).catch(() => []);
}

/** Every file under `dir`, as POSIX paths relative to it; snapshots keep the repo's folders (onnx/). */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await entries(dir)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(join(dir, entry.name), path)));
    else out.push(path);
  }
  return out.sort();
}

/**
 * The model repos in a cache, with their snapshots, refs, files and sizes. Written here rather than
 * with @huggingface/hub's scanCacheDir: its scanSnapshotDir does not descend into a snapshot's
 * folders, so it would not see onnx/*.onnx (the weights, nearly all of a CLIP's bytes), and one
 * dangling link or stale ref makes it skip the whole repo.
 */
export async function listCache(cacheDir: string): Promise<CachedRepo[]> {
  const repos: CachedRepo[] = [];
  for (const entry of await entries(cacheDir)) {
    if (!entry.isDirectory() || !entry.name.startsWith('models--')) continue;
    const folder = join(cacheDir, entry.name);
    const refs = new Map<string, string[]>();
    for (const ref of await walk(join(folder, 'refs'))) {
      const commit = await readRef(folder, ref);
      if (commit) refs.set(commit, [...(refs.get(commit) ?? []), ref]);
    }
    const revisions: CachedRevision[] = [];
    for (const snapshot of await entries(join(folder, 'snapshots'))) {
      if (!snapshot.isDirectory()) continue;
      const directory = join(folder, 'snapshots', snapshot.name);
      const files: CachedFile[] = [];
      for (const path of await walk(directory)) {
        const size = await stat(localPath(directory, path)).then(
          (s) => s.size,
          () => undefined,
        );
        files.push({ path, size });
      }
      revisions.push({
        commit: snapshot.name,
        refs: refs.get(snapshot.name) ?? [],
        directory,
        files,
        size: files.reduce((sum, f) => sum + (f.size ?? 0), 0),
      });
    }
    let size = 0;
    let incomplete = 0;
    for (const blob of await entries(join(folder, 'blobs'))) {
      if (blob.name.endsWith('.incomplete')) incomplete++;
      else
        size += await lstat(join(folder, 'blobs', blob.name)).then(
          (s) => s.size,
          () => 0,
        );
    }
    repos.push({ repo: entry.name.slice('models--'.length).split('--').join('/'), folder, revisions, size, incomplete });
  }
  return repos.sort((a, b) => a.repo.localeCompare(b.repo));
}

/**
 * Copies a snapshot's files into a plain directory (no links), for a container image or a tool
 * that reads a model directory. Hard links where the two share a file system (no space twice),
 * else copies; each file appears under its name only when complete.
 */
export async function exportFiles(snapshot: string, files: string[], target: string): Promise<void> {
  for (const file of files) {
    const destination = localPath(target, file);
    await mkdir(dirname(destination), { recursive: true });
    const temporary = `${destination}.${process.pid}.tmp`;
    await rm(temporary, { force: true });
    const source = localPath(snapshot, file);
    try {
      // The blob itself, not the link: a link copied into a build context would point nowhere.
      await link(await realpath(source), temporary);
    } catch {
      await copyFile(source, temporary);
    }
    await rename(temporary, destination);
  }
}
