import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { configFromEnv } from '../../gateway/config';
import { FakeHub, tinyClipRepo } from '../functions/hub/fake-hub';
import { createTestGateway } from '../helpers/gateway';

/** CLIP_MODEL through the gateway: the download happens once at start, before the model loads. */
describe('a gateway serving a hub model', () => {
  let hub: FakeHub;
  let cacheDir: string;

  beforeAll(async () => {
    hub = await new FakeHub({ 'test/tiny-clip': tinyClipRepo() }).start();
    cacheDir = mkdtempSync(join(tmpdir(), 'gateway-hf-cache-'));
  });
  afterAll(async () => {
    await hub.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const start = (workers: string) => {
    const { backend } = configFromEnv({
      CLIP_MODEL: 'test/tiny-clip',
      HF_HUB_CACHE: cacheDir,
      HF_ENDPOINT: hub.origin,
      HF_TOKEN_PATH: join(cacheDir, 'no-token'),
      LOCAL_WORKERS: workers,
    });
    return createTestGateway({ backend });
  };

  it('downloads it into the cache and serves it under its repo name, then starts from the cache', async () => {
    // Worker threads: the resolved directory is what every worker loads.
    const first = await start('1');
    try {
      const { data } = await first.graphql<{ model: { name: string; dim: number } }>('{ model { name dim } }');
      expect(data?.model).toEqual({ name: 'test/tiny-clip', dim: 64 });
      const embedded = await first.graphql<{ embed: { dim: number }[] }>('{ embed(inputs: [{ text: "a red circle" }]) { dim } }');
      expect(embedded.data?.embed).toEqual([{ dim: 64 }]);
      expect(first.logs.join('\n')).toMatch(/Fetching .*onnx\/vision_model\.onnx of test\/tiny-clip at main/);
      expect(first.logs.join('\n')).not.toMatch(/bundled tiny CLIP/);
    } finally {
      await first.stop();
    }
    expect(hub.fileRequests().length).toBeGreaterThan(0);

    hub.requests.length = 0;
    const second = await start('0');
    try {
      expect(hub.fileRequests()).toEqual([]);
      expect(second.logs.join('\n')).toMatch(/test\/tiny-clip at main \(commit c0ffee0\) from the cache/);
    } finally {
      await second.stop();
    }
  });
});
