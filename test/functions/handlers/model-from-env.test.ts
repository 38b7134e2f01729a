import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModelFromEnv } from '../../../functions/handlers/model-from-env';
import { loadReference } from '../../helpers/tiny-clip';
import { FakeHub, tinyClipRepo } from '../hub/fake-hub';

/** What the Lambda and HTTP adapters load: CLIP_MODEL resolved through the cache before the model loads. */
describe('loadModelFromEnv with CLIP_MODEL', () => {
  let hub: FakeHub;
  let cacheDir: string;
  const lines: string[] = [];
  const env = () => ({
    CLIP_MODEL: 'test/tiny-clip',
    HF_HUB_CACHE: cacheDir,
    HF_ENDPOINT: hub.origin,
    HF_TOKEN_PATH: join(cacheDir, 'no-token'),
  });

  beforeAll(async () => {
    hub = await new FakeHub({ 'test/tiny-clip': tinyClipRepo() }).start();
    cacheDir = mkdtempSync(join(tmpdir(), 'function-hf-cache-'));
  });
  afterAll(async () => {
    await hub.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('downloads the dtype’s files and serves them, and offline loads them from the cache alone', async () => {
    const model = await loadModelFromEnv({ ...env(), CLIP_DTYPE: 'q8' }, (line) => lines.push(line));
    try {
      expect(model.info).toMatchObject({ name: 'test/tiny-clip', dtype: 'q8' });
      expect(model.spec.textModelPath).toMatch(
        /models--test--tiny-clip[/\\]snapshots[/\\][0-9a-f]{40}[/\\]onnx[/\\]text_model_quantized\.onnx$/,
      );
    } finally {
      await model.release();
    }
    expect(lines.join('\n')).toMatch(/Downloading onnx\/text_model_quantized\.onnx \(614\.\d kB\)/);

    hub.requests.length = 0;
    const offline = await loadModelFromEnv({ ...env(), CLIP_DTYPE: 'q8', HF_HUB_OFFLINE: '1' }, () => undefined);
    await offline.release();
    expect(hub.requests).toEqual([]);
    await expect(loadModelFromEnv({ ...env(), HF_HUB_OFFLINE: '1' }, () => undefined)).rejects.toThrow(
      /^HF_HUB_OFFLINE is set and the cache at .* lacks onnx\/text_model\.onnx, onnx\/vision_model\.onnx of test\/tiny-clip/,
    );
  });

  it('refuses CLIP_MODEL with CLIP_MODEL_DIR before asking the hub anything', async () => {
    hub.requests.length = 0;
    await expect(loadModelFromEnv({ ...env(), CLIP_MODEL_DIR: '/models/clip' })).rejects.toThrow(/are both set/);
    expect(hub.requests).toEqual([]);
  });
});

describe('loadModelFromEnv image options', () => {
  const rocket = loadReference().decoding.find((image) => image.file.endsWith('skimage-rocket.jpg'))!;
  const differs = (a: Uint8Array, b: Uint8Array) => a.some((v, i) => v !== b[i]);

  it('resizes as Pillow does with IMAGE_RESAMPLING=pillow, and refuses an unknown value by name', async () => {
    const pillow = await loadModelFromEnv({ IMAGE_RESAMPLING: 'pillow' }, () => undefined);
    const libvips = await loadModelFromEnv({}, () => undefined);
    try {
      expect(differs((await pillow.cropImage(rocket.bytes)).data, rocket.crop)).toBe(false);
      expect(differs((await libvips.cropImage(rocket.bytes)).data, rocket.crop)).toBe(true);
    } finally {
      await Promise.all([pillow.release(), libvips.release()]);
    }
    await expect(loadModelFromEnv({ IMAGE_RESAMPLING: 'vips' })).rejects.toThrow(/^IMAGE_RESAMPLING must be .*libvips.*pillow.*got "vips"/);
  });

  it('converts embedded colour profiles with IMAGE_ICC_PROFILES=convert', async () => {
    const managed = await loadModelFromEnv({ IMAGE_ICC_PROFILES: 'convert', IMAGE_RESAMPLING: 'pillow' }, () => undefined);
    try {
      expect(differs((await managed.cropImage(rocket.bytes)).data, rocket.crop)).toBe(true);
    } finally {
      await managed.release();
    }
  });
});

describe('loadModelFromEnv and the GPU', () => {
  it('refuses CLIP_REQUIRE_GPU without CLIP_DEVICE=cuda, naming both', async () => {
    await expect(loadModelFromEnv({ CLIP_REQUIRE_GPU: 'true' }, () => undefined)).rejects.toThrow(
      'CLIP_REQUIRE_GPU=true needs CLIP_DEVICE=cuda, got CLIP_DEVICE unset (cpu)',
    );
    await expect(loadModelFromEnv({ CLIP_REQUIRE_GPU: '1', CLIP_DEVICE: 'cpu' }, () => undefined)).rejects.toThrow(
      'CLIP_REQUIRE_GPU=true needs CLIP_DEVICE=cuda, got CLIP_DEVICE="cpu"',
    );
    await expect(loadModelFromEnv({ CLIP_REQUIRE_GPU: 'sure' }, () => undefined)).rejects.toThrow(
      'CLIP_REQUIRE_GPU must be true or false, got "sure"',
    );
  });

  it('fails the load on this CPU host with CLIP_REQUIRE_GPU=true, naming why; without it, runs on the CPU', async () => {
    const lines: string[] = [];
    await expect(loadModelFromEnv({ CLIP_DEVICE: 'cuda', CLIP_REQUIRE_GPU: 'true' }, (line) => lines.push(line))).rejects.toThrow(
      /^text model: a GPU is required \(requireGpu, CLIP_REQUIRE_GPU=true\) but the CUDA execution provider library is not installed/,
    );
    expect(lines.filter((line) => line.startsWith('CLIP ready'))).toEqual([]);

    const model = await loadModelFromEnv({ CLIP_DEVICE: 'cuda', CLIP_REQUIRE_GPU: 'false' }, (line) => lines.push(line));
    expect(model.info.device).toBe('cpu');
    expect(lines.at(-1)).toMatch(/^CLIP ready: model tiny-clip \(fp32\); execution provider CPU; GPU /);
    await model.release();
  });
});
