import { createBackend, type BackendOptions } from '../../../gateway/backends';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

/** Waits until `done` holds, polling; fails after `ms` saying what it was waiting for. */
async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !done();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the local backend's log", () => {
  it.each([
    ['worker threads', 1, /^\[clip worker \d+\] CLIP ready: model tiny-clip \(fp32\); execution provider CPU;/],
    ['the event loop (LOCAL_WORKERS=0)', 0, /^CLIP ready: model tiny-clip \(fp32\); execution provider CPU;/],
  ])("goes through the gateway's logger, from %s", async (_where, workers, ready) => {
    const lines: string[] = [];
    const options: BackendOptions = { kind: 'local', modelDir: TINY_CLIP_DIR, workers, model: {} };
    const backend = createBackend(options, (message) => lines.push(message));
    try {
      await backend.start();
      await until(() => lines.some((line) => ready.test(line)), 'the model-ready line');
      expect(lines.filter((line) => ready.test(line))).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });
});
