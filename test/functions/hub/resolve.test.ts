import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { ClipModel } from '../../../functions/clip/model';
import { HubError, listCache, resolveModel, type ResolveModelOptions } from '../../../functions/hub';
import { FAKE_COMMIT, FakeHub, gitBlobSha1, sha256, tinyClipRepo, type FakeRepo } from './fake-hub';

const REPO = 'test/tiny-clip';
const FP32 = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/text_model.onnx',
  'onnx/vision_model.onnx',
];

let hub: FakeHub;
let cacheDir: string;
const logs: string[] = [];

function resolve(options: Partial<ResolveModelOptions> = {}) {
  return resolveModel({
    repo: REPO,
    cacheDir,
    endpoint: hub.origin,
    // No token file of the machine running the tests is ever read.
    tokenPath: join(cacheDir, 'no-token'),
    retryDelayMs: 0,
    log: (line) => logs.push(line),
    ...options,
  });
}

async function startHub(repos: Record<string, FakeRepo> = { [REPO]: tinyClipRepo() }) {
  hub = await new FakeHub(repos).start();
}

beforeEach(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'hf-cache-'));
  logs.length = 0;
  await startHub();
});
afterEach(async () => {
  await hub.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

const folder = () => join(cacheDir, 'models--test--tiny-clip');
const etagOf = (path: string) => {
  const file = hub.repos.get(REPO)!.files.get(path)!;
  return file.lfs ? sha256(file.bytes) : gitBlobSha1(file.bytes);
};

/** A loopback port nothing listens on (any more): a hub that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every file under `dir`, relative, that is not a directory. */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? tree(join(dir, entry.name), path) : [path];
  });
}

describe('resolveModel from a hub', () => {
  it('downloads the files of the dtype into the huggingface_hub layout, and the model loads and embeds', async () => {
    const resolved = await resolve();
    expect(resolved).toMatchObject({ repo: REPO, revision: 'main', commit: FAKE_COMMIT, files: FP32, downloaded: FP32 });
    expect(resolved.directory).toBe(join(folder(), 'snapshots', FAKE_COMMIT));

    expect(readFileSync(join(folder(), 'refs', 'main'), 'utf8')).toBe(FAKE_COMMIT);
    // Blobs by LFS SHA-256 for the weights and by git blob SHA-1 for the rest, nothing else.
    expect(tree(join(folder(), 'blobs')).sort()).toEqual(FP32.map(etagOf).sort());
    expect(tree(resolved.directory).sort()).toEqual([...FP32].sort());
    for (const path of FP32) {
      const link = join(resolved.directory, ...path.split('/'));
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      const up = path.includes('/') ? '../../../' : '../../';
      expect(readlinkSync(link)).toBe(`${up}blobs/${etagOf(path)}`);
      expect(readFileSync(link).equals(hub.repos.get(REPO)!.files.get(path)!.bytes)).toBe(true);
    }

    const model = await ClipModel.load(resolved.directory, { log: () => undefined });
    try {
      // config.json gives no name: the repo's, not the snapshot's commit hash.
      expect(model.info.name).toBe(REPO);
      const [result] = await model.embedTexts(['a photo of a red circle.']);
      expect(result.ok && result.vector.length).toBe(64);
    } finally {
      await model.release();
    }
  });

  it('fetches only the files the dtype needs: fp32 no _quantized file, q8 only those, and a cached file not again', async () => {
    await resolve();
    const fetched = () => new Set(hub.fileRequests().map((r) => r.path.replace(/^\/test\/tiny-clip\/resolve\/[^/]+\//, '')));
    expect([...fetched()].filter((p) => /quantized|TRAINING|gitattributes/.test(p))).toEqual([]);

    hub.requests.length = 0;
    const q8 = await resolve({ dtype: 'q8' });
    // The quantized weights here are copies of the fp32 ones, so their blobs exist already: linked, not downloaded.
    expect(q8.files).toEqual([...FP32.slice(0, 4), 'onnx/text_model_quantized.onnx', 'onnx/vision_model_quantized.onnx']);
    expect(hub.fileRequests()).toEqual([]);
    expect(tree(q8.directory)).toEqual(expect.arrayContaining(['onnx/text_model_quantized.onnx', 'onnx/vision_model.onnx']));
    const model = await ClipModel.load(q8.directory, { dtype: 'q8', log: () => undefined });
    await model.release();
  });

  it('downloads q8 weights that are new, and no fp32 weights for them', async () => {
    const repo = tinyClipRepo();
    for (const tower of ['text', 'vision']) {
      // Different bytes, so different blobs: an ONNX file with a trailing byte still loads.
      const file = repo.files.get(`onnx/${tower}_model_quantized.onnx`)!;
      file.bytes = Buffer.concat([file.bytes, Buffer.from([0])]);
    }
    await hub.stop();
    await startHub({ [REPO]: repo });
    const q8 = await resolve({ dtype: 'q8' });
    expect(q8.downloaded).toEqual([...FP32.slice(0, 4), 'onnx/text_model_quantized.onnx', 'onnx/vision_model_quantized.onnx']);
    expect(hub.downloadsOf('onnx/text_model.onnx')).toHaveLength(0);
    expect(existsSync(join(q8.directory, 'onnx', 'text_model.onnx'))).toBe(false);
  });

  it('a second resolve reuses the cache: no request for any file, one to learn where main is', async () => {
    await resolve();
    hub.requests.length = 0;
    const again = await resolve();
    expect(again.downloaded).toEqual([]);
    expect(hub.fileRequests()).toEqual([]);
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /api/models/${REPO}/revision/main`]);

    // A commit hash cannot move: no request at all.
    hub.requests.length = 0;
    await resolve({ revision: FAKE_COMMIT });
    expect(hub.requests).toEqual([]);
  });

  it('pins a revision: a tag resolves to its commit and gets its own ref', async () => {
    await hub.stop();
    await startHub({ [REPO]: tinyClipRepo({ refs: ['v1'] }) });
    const resolved = await resolve({ revision: 'v1' });
    expect(resolved.commit).toBe(FAKE_COMMIT);
    expect(readFileSync(join(folder(), 'refs', 'v1'), 'utf8')).toBe(FAKE_COMMIT);
    expect(existsSync(join(folder(), 'refs', 'main'))).toBe(false);

    await expect(resolve({ revision: 'v2' })).rejects.toThrow(/test\/tiny-clip has no revision v2 \(CLIP_MODEL_REVISION.*404/);
  });

  it('says which dtypes a repo has when it lacks the one asked for', async () => {
    await expect(resolve({ dtype: 'fp16' })).rejects.toThrow(
      'test/tiny-clip at main has no onnx/text_model_fp16.onnx, onnx/vision_model_fp16.onnx, needed for dtype fp16; it has weights for dtype fp32, q8 (CLIP_DTYPE, or --dtype).',
    );
    expect(hub.fileRequests()).toEqual([]);
  });

  it('names the repo and HF_TOKEN for a repo that does not exist (the hub answers 401 so as not to tell private ones apart)', async () => {
    await expect(resolve({ repo: 'test/nothing-here' })).rejects.toThrow(
      /test\/nothing-here at main needs authentication, or does not exist: .*HF_TOKEN/,
    );
  });
});

describe('resolveModel offline (HF_HUB_OFFLINE)', () => {
  it('works from a filled cache without a single request', async () => {
    const online = await resolve();
    hub.requests.length = 0;
    const offline = await resolve({ offline: true });
    expect(offline.directory).toBe(online.directory);
    expect(hub.requests).toEqual([]);
  });

  it('fails on an empty cache, naming the missing revision and files and how to fill the cache', async () => {
    const error = await resolve({ offline: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as Error).message).toMatch(/^HF_HUB_OFFLINE is set and the cache at .* has no revision main of test\/tiny-clip/);
    expect((error as Error).message).toContain('onnx/vision_model.onnx');
    expect((error as Error).message).toContain('`npm run model -- pull test/tiny-clip --dtype fp32`');
    expect(hub.requests).toEqual([]);
  });

  it('names the one file a cached snapshot lacks', async () => {
    const { directory } = await resolve();
    rmSync(join(directory, 'onnx', 'vision_model.onnx'));
    await expect(resolve({ offline: true })).rejects.toThrow(
      /the cache at .* lacks onnx\/vision_model\.onnx of test\/tiny-clip at main \(commit c0ffee0\), needed for dtype fp32/,
    );
  });
});

describe('resolveModel on a broken network', () => {
  it('resumes a download whose connection was cut mid-file, never leaving a partial file under its final name', async () => {
    const size = hub.repos.get(REPO)!.files.get('onnx/vision_model.onnx')!.bytes.length;
    const half = Math.floor(size / 2);
    hub.fault('onnx/vision_model.onnx', { kind: 'cut', after: half });
    const blob = join(folder(), 'blobs', etagOf('onnx/vision_model.onnx'));

    // One attempt only: the cut is the outcome, and what it leaves behind can be looked at.
    await expect(resolve({ attempts: 1 })).rejects.toThrow(
      /^Could not get onnx\/vision_model\.onnx of test\/tiny-clip at main from http:\/\/127\.0\.0\.1:\d+: connection lost mid-transfer \(UND_ERR_SOCKET\)\. /,
    );
    expect(existsSync(blob)).toBe(false);
    expect(statSync(`${blob}.incomplete`).size).toBe(half);
    expect(existsSync(join(folder(), 'snapshots', FAKE_COMMIT, 'onnx', 'vision_model.onnx'))).toBe(false);
    // The lock was let go.
    expect(tree(join(cacheDir, '.locks'))).toEqual([]);

    const resolved = await resolve();
    expect(resolved.downloaded).toEqual(['onnx/vision_model.onnx']);
    const downloads = hub.downloadsOf('onnx/vision_model.onnx');
    expect(downloads.map((r) => r.range)).toEqual([undefined, `bytes=${half}-${size - 1}`]);
    expect(existsSync(`${blob}.incomplete`)).toBe(false);
    expect(sha256(readFileSync(blob))).toBe(etagOf('onnx/vision_model.onnx'));
    const model = await ClipModel.load(resolved.directory, { log: () => undefined });
    await model.release();
  });

  it('retries a cut download by itself and says so in its log', async () => {
    hub.fault('onnx/text_model.onnx', { kind: 'cut', after: 1000 });
    const resolved = await resolve();
    expect(resolved.downloaded).toContain('onnx/text_model.onnx');
    expect(logs.join('\n')).toMatch(
      /onnx\/text_model\.onnx: connection lost mid-transfer \(UND_ERR_SOCKET\); attempt 2 of 3 in 0 s, resuming where it stopped/,
    );
  });

  it('detects a corrupted file, deletes it, and downloads it again from the start', async () => {
    hub.fault('onnx/text_model.onnx', { kind: 'corrupt' });
    const resolved = await resolve();
    expect(logs.join('\n')).toMatch(
      /onnx\/text_model\.onnx of test\/tiny-clip arrived corrupted \(its SHA-256 is [0-9a-f]{64}, the hub's is/,
    );
    expect(hub.downloadsOf('onnx/text_model.onnx').map((r) => r.range)).toEqual([undefined, undefined]);
    expect(sha256(readFileSync(join(resolved.directory, 'onnx', 'text_model.onnx')))).toBe(etagOf('onnx/text_model.onnx'));
  });

  it('refuses a file that keeps arriving corrupted, keeping nothing of it', async () => {
    hub.fault('onnx/text_model.onnx', { kind: 'corrupt', times: 5 });
    hub.fault('config.json', { kind: 'corrupt', times: 5 });
    const error = (await resolve({ attempts: 2 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(HubError);
    // config.json comes first: a file outside LFS is checked against its git blob id.
    expect(error.message).toMatch(
      /^config\.json of test\/tiny-clip arrived corrupted \(its git blob SHA-1 is [0-9a-f]{40}, the hub's is [0-9a-f]{40}\); the download was deleted\. All 2 attempts were/,
    );
    const blobs = tree(join(folder(), 'blobs'));
    expect(blobs).toEqual([]);
    expect(existsSync(join(folder(), 'snapshots', FAKE_COMMIT, 'config.json'))).toBe(false);
  });

  it('uses the cache when the hub cannot be reached, and says so', async () => {
    await resolve();
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const resolved = await resolve({ attempts: 1, endpoint });
    expect(resolved.commit).toBe(FAKE_COMMIT);
    expect(logs.join('\n')).toMatch(
      /Could not reach http:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\); using test\/tiny-clip at main \(commit c0ffee0\) from the cache/,
    );
  });

  it('takes over the lock of a process that died mid-download, and waits for one that is alive', async () => {
    const locks = join(cacheDir, '.locks', 'models--test--tiny-clip');
    mkdirSync(locks, { recursive: true });
    const stale = join(locks, `${etagOf('config.json')}.clip.lock`);
    writeFileSync(stale, '{"pid": 1}');
    const old = new Date(Date.now() - 120_000);
    utimesSync(stale, old, old);
    const live = join(locks, `${etagOf('tokenizer.json')}.clip.lock`);
    writeFileSync(live, '{"pid": 2}');
    setTimeout(() => rmSync(live), 500);
    const resolved = await resolve();
    expect(resolved.downloaded).toEqual(FP32);
    expect(logs.join('\n')).toContain('tokenizer.json: another process is downloading it; waiting for it');
  });
});

describe('resolveModel with a gated repo', () => {
  const TOKEN = 'hf_testtoken0123456789';
  beforeEach(async () => {
    await hub.stop();
    await startHub({ [REPO]: tinyClipRepo({ token: TOKEN }) });
  });

  it('without a token, tells the user to set HF_TOKEN', async () => {
    const error = (await resolve({ attempts: 1 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(HubError);
    expect(error.message).toMatch(/needs authentication, or does not exist: a gated or private repo needs HF_TOKEN set/);
    expect(error.message).toContain('Access to model test/tiny-clip is restricted');
  });

  it('with HF_TOKEN, sends it as a bearer token and downloads', async () => {
    const resolved = await resolve({ token: TOKEN });
    expect(resolved.downloaded).toEqual(FP32);
    const resolves = hub.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.length).toBeGreaterThan(0);
    expect(resolves.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('with a wrong token, says it was refused and never shows it', async () => {
    const error = (await resolve({ token: 'hf_wrong_secret_value', attempts: 1 }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^HF_TOKEN was refused for config\.json of test\/tiny-clip at main/);
    expect(error.message).not.toContain('hf_wrong_secret_value');
    expect(logs.join('\n')).not.toContain('hf_wrong_secret_value');
  });

  it('reads the token from the token file (hf auth login) when HF_TOKEN is unset', async () => {
    const tokenPath = join(cacheDir, 'token');
    writeFileSync(tokenPath, `${TOKEN}\n`);
    expect((await resolve({ tokenPath })).downloaded).toEqual(FP32);
    writeFileSync(tokenPath, 'not a token');
    await expect(resolve({ tokenPath, dtype: 'q8' })).rejects.toThrow(
      /The token file .*token \(HF_TOKEN_PATH\) does not hold a Hugging Face access token \(hf_\.\.\.\); its content is not shown/,
    );
  });
});

describe('a cache written by Python huggingface_hub', () => {
  /** The layout huggingface_hub 0.3x / 1.x writes: blobs by etag, relative links per snapshot, the bare commit in refs/main. */
  function writePythonCache(commit: string): string {
    const repoDir = join(cacheDir, 'models--test--tiny-clip');
    const files = tinyClipRepo().files;
    for (const path of FP32) {
      const file = files.get(path)!;
      const etag = file.lfs ? sha256(file.bytes) : gitBlobSha1(file.bytes);
      mkdirSync(join(repoDir, 'blobs'), { recursive: true });
      writeFileSync(join(repoDir, 'blobs', etag), file.bytes);
      const link = join(repoDir, 'snapshots', commit, ...path.split('/'));
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(`${'../'.repeat(path.split('/').length + 1)}blobs/${etag}`, link);
    }
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    writeFileSync(join(repoDir, 'refs', 'main'), commit);
    mkdirSync(join(cacheDir, '.locks', 'models--test--tiny-clip'), { recursive: true });
    return repoDir;
  }

  it('is reused offline with no hub at all, and the model loads', async () => {
    const commit = 'abcdef0123456789abcdef0123456789abcdef01';
    writePythonCache(commit);
    await hub.stop();
    const resolved = await resolve({ offline: true, endpoint: `http://127.0.0.1:${await closedPort()}` });
    expect(resolved.directory).toBe(join(folder(), 'snapshots', commit));
    const model = await ClipModel.load(resolved.directory, { log: () => undefined });
    try {
      expect(model.info.name).toBe(REPO);
    } finally {
      await model.release();
    }
    await startHub(); // for afterEach
  });

  it('is listed with its revision, ref, files and sizes', async () => {
    writePythonCache('abcdef0123456789abcdef0123456789abcdef01');
    const [repo] = await listCache(cacheDir);
    expect(repo.repo).toBe(REPO);
    expect(repo.revisions).toHaveLength(1);
    expect(repo.revisions[0]).toMatchObject({ commit: 'abcdef0123456789abcdef0123456789abcdef01', refs: ['main'] });
    expect(repo.revisions[0].files.map((f) => f.path)).toEqual([...FP32].sort());
    const files = tinyClipRepo().files;
    expect(repo.size).toBe(FP32.reduce((sum, path) => sum + files.get(path)!.bytes.length, 0));
  });
});
