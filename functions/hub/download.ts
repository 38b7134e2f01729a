// One file from the hub into the cache's blobs/, checked before it gets its name.
//
// @huggingface/hub's downloadFileToCacheDir writes the same layout, but cannot be used for this:
// it renames the download to its final blob name without checking its size or hash, so a
// corrupted transfer would look like a complete file to every later reader; it starts every
// interrupted download again from the first byte (it truncates `<etag>.incomplete`); it reports
// no progress; and it prints "Downloading ..." on stdout through console.debug, which would mix
// into the output of `npm run clip -- embed`. So the protocol is the library's (downloadFile:
// the resolve URL, its redirect, Range requests through WebBlob.slice) and the file handling is
// here: the bytes go to `<etag>.incomplete` (huggingface_hub's name, so either resumes the
// other's partial file), are hashed as they arrive, and are renamed to `<etag>` only when their
// size and SHA-256 (or git blob SHA-1, for files not in LFS) are those the hub gave.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

import { downloadFile, type PathInfo } from '@huggingface/hub';

import { HubError } from './errors';
import type { DownloadProgress } from './progress';
import { formatBytes } from './progress';

/** What the hub says a file is: the content hash its blob is named by, and its size. */
export interface ExpectedFile {
  path: string;
  /** The blob's name in the cache: the SHA-256 for a file in LFS, else git's blob SHA-1 (the hub's ETag). */
  etag: string;
  size: number;
  /** Which hash `etag` is. */
  hash: 'sha256' | 'git-sha1';
}

/** The hub's description of a path (paths-info) as the cache names and checks it, as downloadFileToCacheDir names it. */
export function expectedFile(info: PathInfo): ExpectedFile {
  if (info.lfs) return { path: info.path, etag: info.lfs.oid, size: info.lfs.size, hash: 'sha256' };
  if (!info.oid) throw new HubError(`The hub gave no hash for ${info.path}, so its download could not be checked.`);
  return { path: info.path, etag: info.oid, size: info.size, hash: 'git-sha1' };
}

/** Where the download comes from, and with what. */
export interface DownloadSource {
  repo: string;
  commit: string;
  endpoint: string;
  token?: string;
}

/** The bytes did not match what the hub said; the partial file is already gone. */
export class IntegrityError extends HubError {}

function newHash(file: ExpectedFile): Hash {
  const hash = createHash(file.hash === 'sha256' ? 'sha256' : 'sha1');
  // git hashes a blob with its header; the hub's ETag of a file outside LFS is that blob id.
  if (file.hash === 'git-sha1') hash.update(`blob ${file.size}\0`);
  return hash;
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

/** Feeds what an earlier attempt left on disk to the hash, so that a resumed download is checked whole. */
async function hashExisting(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Downloads `file` to `blob`, resuming `<blob>.incomplete` when an earlier attempt left one. Only
 * a file with the expected size and hash is renamed to `blob`; one that is not is deleted and an
 * IntegrityError says so. A transfer that breaks off leaves the `.incomplete` file for the next
 * attempt, and the error of the transfer is thrown.
 */
export async function downloadBlob(source: DownloadSource, file: ExpectedFile, blob: string, progress?: DownloadProgress): Promise<void> {
  await mkdir(dirname(blob), { recursive: true });
  const incomplete = `${blob}.incomplete`;
  let from = await sizeOf(incomplete);
  // A partial file as long as the whole or longer cannot be resumed: it is checked as it is, or restarted.
  if (from > file.size) {
    await rm(incomplete, { force: true });
    from = 0;
  }
  const hash = newHash(file);
  if (from > 0) await hashExisting(incomplete, hash);

  let received = from;
  // An empty file has nothing to download, but must exist to be renamed.
  if (file.size === 0) await (await open(incomplete, 'a')).close();
  if (from < file.size) {
    const remote = await downloadFile({
      repo: source.repo,
      path: file.path,
      revision: source.commit,
      hubUrl: source.endpoint,
      ...(source.token ? { accessToken: source.token } : {}),
      // Plain HTTP through the resolve URL for every file, as huggingface_hub without hf_xet does:
      // the Xet protocol's requests go to the hub's own CAS servers, past an HF_ENDPOINT mirror.
      xet: false,
    });
    if (!remote) throw new HubError(`${source.repo} has no ${file.path} at ${source.commit}.`);
    progress?.start(file.path, file.size, from);
    const output = await open(incomplete, from > 0 ? 'a' : 'w');
    let ok = false;
    try {
      // WebBlob.slice(from) asks for the rest with a Range request; the whole file otherwise.
      const stream = (from > 0 ? remote.slice(from) : remote).stream() as unknown as AsyncIterable<Uint8Array>;
      for await (const chunk of stream) {
        received += chunk.length;
        if (received > file.size) break;
        hash.update(chunk);
        await output.write(chunk);
        progress?.update(file.path, received);
      }
      // On disk before the rename, so that a crash cannot leave a named blob with unwritten bytes.
      await output.sync();
      ok = true;
    } finally {
      await output.close();
      if (!ok) progress?.end(file.path, false);
    }
  }
  const digest = hash.digest('hex');
  const problem =
    received !== file.size
      ? `${received > file.size ? 'more than' : 'only'} ${formatBytes(Math.min(received, file.size))} arrived of the ${formatBytes(file.size)} the hub lists`
      : digest !== file.etag
        ? `its ${file.hash === 'sha256' ? 'SHA-256' : 'git blob SHA-1'} is ${digest}, the hub's is ${file.etag}`
        : undefined;
  if (problem) {
    await rm(incomplete, { force: true });
    progress?.end(file.path, false);
    throw new IntegrityError(`${file.path} of ${source.repo} arrived corrupted (${problem}); the download was deleted.`);
  }
  await rename(incomplete, blob);
  progress?.end(file.path, true);
}
