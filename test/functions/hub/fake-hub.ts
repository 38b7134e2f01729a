// A Hugging Face hub on loopback, speaking the endpoints @huggingface/hub uses (read from its
// sources: model-info.ts, paths-info.ts, file-download-info.ts, WebBlob.ts) with the hub's headers,
// so the download code is tested against the protocol and never against huggingface.co.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

export interface FakeFile {
  bytes: Buffer;
  /** Stored with Git LFS: served by a 302 to the CDN path, with x-linked-etag (its SHA-256) and x-linked-size. */
  lfs: boolean;
}

export interface FakeRepo {
  /** The commit every revision name of this repo points at. */
  sha: string;
  /** Other names of that commit (branches, tags); `main` always is one. */
  refs?: string[];
  files: Map<string, FakeFile>;
  /** A gated repo: file downloads need `Authorization: Bearer <token>`. */
  token?: string;
}

export interface HubRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

/** A fault for the next downloads of one file (by repo path), from the CDN. */
export type Fault =
  /** Sends this many bytes of the body, then destroys the socket. */
  | { kind: 'cut'; after: number; times?: number }
  /** Sends the right length with the wrong bytes (one flipped in the middle). */
  | { kind: 'corrupt'; times?: number };

export const FAKE_COMMIT = 'c0ffee0000000000000000000000000000000001';

/** git's blob id, which the hub uses as the ETag of a file not stored with LFS. */
export function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * The bundled tiny CLIP as a hub repository would hold it: its files read once (another engineer
 * may be retraining it), the .onnx ones in LFS, plus q8 variants (copies of the fp32 weights, so
 * they load) and files no dtype needs.
 */
export function tinyClipRepo(overrides: Partial<FakeRepo> = {}): FakeRepo {
  const read = (path: string) => readFileSync(join(TINY_CLIP_DIR, ...path.split('/')));
  const files = new Map<string, FakeFile>();
  for (const path of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'TRAINING.md']) {
    files.set(path, { bytes: read(path), lfs: false });
  }
  for (const tower of ['text', 'vision']) {
    const weights = read(`onnx/${tower}_model.onnx`);
    files.set(`onnx/${tower}_model.onnx`, { bytes: weights, lfs: true });
    files.set(`onnx/${tower}_model_quantized.onnx`, { bytes: weights, lfs: true });
  }
  files.set('.gitattributes', { bytes: Buffer.from('*.onnx filter=lfs diff=lfs merge=lfs -text\n'), lfs: false });
  return { sha: FAKE_COMMIT, files, ...overrides };
}

const etagOf = (file: FakeFile) => (file.lfs ? sha256(file.bytes) : gitBlobSha1(file.bytes));

/** The hub's error shape: JSON with `error`, and X-Error-Code. */
function hubError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-error-code': code, 'x-error-message': message });
  res.end(JSON.stringify({ error: message }));
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly requests: HubRequest[] = [];
  private readonly faults = new Map<string, Fault>();
  private readonly server: Server;
  origin = '';

  constructor(repos: Record<string, FakeRepo>) {
    for (const [id, repo] of Object.entries(repos)) this.repos.set(id, repo);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Faults for the next CDN downloads of `path`. */
  fault(path: string, fault: Fault): void {
    this.faults.set(path, fault);
  }

  /** Requests for file contents (resolve and CDN), as opposed to the API's metadata. */
  fileRequests(): HubRequest[] {
    return this.requests.filter((r) => !r.path.startsWith('/api/'));
  }

  /** The CDN downloads of one file's bytes (not the 1-byte probes). */
  downloadsOf(path: string): HubRequest[] {
    const file = this.findFile(path);
    const etag = file && etagOf(file);
    return this.requests.filter((r) => r.path.startsWith('/cdn/') && r.path.includes(etag ?? '?') && r.range !== 'bytes=0-0');
  }

  private findFile(path: string): FakeFile | undefined {
    for (const repo of this.repos.values()) if (repo.files.has(path)) return repo.files.get(path);
    return undefined;
  }

  private repoAt(res: ServerResponse, id: string, revision: string): FakeRepo | undefined {
    const repo = this.repos.get(id);
    // As the hub does for a repo that does not exist or is private: 401, so as not to tell which.
    if (!repo) return void hubError(res, 401, 'RepoNotFound', 'Repository not found');
    if (revision !== repo.sha && !['main', ...(repo.refs ?? [])].includes(revision)) {
      return void hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    }
    return repo;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const path = decodeURIComponent(url.pathname);
    this.requests.push({
      method: req.method ?? 'GET',
      path,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const body = await new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => resolve(text));
    });

    let match = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    if (match && req.method === 'GET') {
      const repo = this.repoAt(res, match[1], match[2]);
      if (!repo) return;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(
        JSON.stringify({
          _id: `id-${match[1]}`,
          id: match[1],
          sha: repo.sha,
          private: false,
          gated: repo.token ? 'manual' : false,
          downloads: 0,
          likes: 0,
          lastModified: '2026-01-01T00:00:00.000Z',
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        }),
      );
      return;
    }

    match = /^\/api\/models\/([^/]+\/[^/]+)\/paths-info\/(.+)$/.exec(path);
    if (match && req.method === 'POST') {
      const repo = this.repoAt(res, match[1], match[2]);
      if (!repo) return;
      const { paths } = JSON.parse(body) as { paths: string[] };
      const infos = paths.flatMap((p) => {
        const file = repo.files.get(p);
        if (!file) return [];
        const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(file.bytes)}\nsize ${file.bytes.length}\n`;
        return [
          {
            type: 'file',
            path: p,
            size: file.bytes.length,
            oid: gitBlobSha1(file.lfs ? Buffer.from(pointer) : file.bytes),
            ...(file.lfs ? { lfs: { oid: sha256(file.bytes), size: file.bytes.length, pointerSize: pointer.length } } : {}),
          },
        ];
      });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(infos));
      return;
    }

    match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (match && (req.method === 'GET' || req.method === 'HEAD')) {
      const repo = this.repoAt(res, match[1], match[2]);
      if (!repo) return;
      if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
        const message = `Access to model ${match[1]} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
        return hubError(res, 401, 'GatedRepo', message);
      }
      const file = repo.files.get(match[3]);
      if (!file) return hubError(res, 404, 'EntryNotFound', `${match[3]} does not exist on "${match[2]}"`);
      const common = { 'x-repo-commit': repo.sha, 'accept-ranges': 'bytes' };
      if (file.lfs) {
        const etag = sha256(file.bytes);
        res.writeHead(302, {
          ...common,
          location: `/cdn/${etag}?repo=${encodeURIComponent(match[1])}`,
          etag: `"${gitBlobSha1(file.bytes)}"`,
          'x-linked-etag': `"${etag}"`,
          'x-linked-size': String(file.bytes.length),
          'content-length': '0',
        });
        res.end();
        return;
      }
      return this.sendBytes(req, res, match[3], file.bytes, { ...common, etag: `"${gitBlobSha1(file.bytes)}"` });
    }

    match = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (match && (req.method === 'GET' || req.method === 'HEAD')) {
      for (const repo of this.repos.values()) {
        for (const [filePath, file] of repo.files) {
          if (file.lfs && sha256(file.bytes) === match[1]) {
            return this.sendBytes(req, res, filePath, file.bytes, { etag: `"${match[1]}"`, 'accept-ranges': 'bytes' });
          }
        }
      }
      return hubError(res, 404, 'EntryNotFound', 'no such object');
    }
    hubError(res, 404, 'NotFound', `${req.method} ${path} is not an endpoint of this hub`);
  }

  /** The bytes (or the requested range of them), with the faults asked for this file applied to full-body downloads. */
  private sendBytes(req: IncomingMessage, res: ServerResponse, path: string, bytes: Buffer, headers: Record<string, string>): void {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
    if (range && start >= bytes.length) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    let body = bytes.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${bytes.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const fault = body.length > 1 ? this.faults.get(path) : undefined;
    if (fault) {
      const times = (fault.times ?? 1) - 1;
      if (times <= 0) this.faults.delete(path);
      else fault.times = times;
      if (fault.kind === 'cut') {
        res.write(body.subarray(0, fault.after));
        // Flushed, then the connection dies mid-body, as a dropped network would leave it.
        setTimeout(() => res.destroy(), 20);
        return;
      }
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    res.end(body);
  }
}
