import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readModelDirectory } from '../../functions/clip';
import { formatBytes } from '../../functions/hub/progress';
import { FakeHub, tinyClipRepo } from '../functions/hub/fake-hub';
import { builtEntry } from '../helpers/build';

/** Runs the built command as `npm run model -- ...` does, with the hub on loopback and a cache of the test's own. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [builtEntry('tools', 'model.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Sizes as the command prints them, from the tiny CLIP the stand-in hub serves (it changes when the model is retrained). */
const repo = tinyClipRepo();
const sizeOf = (...paths: string[]) => formatBytes(paths.reduce((sum, path) => sum + repo.files.get(path)!.bytes.length, 0));
const CONFIGS = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];
const Q8 = [...CONFIGS, 'onnx/text_model_quantized.onnx', 'onnx/vision_model_quantized.onnx'];
const ALL = [...Q8, 'onnx/text_model.onnx', 'onnx/vision_model.onnx'];
const escape = (text: string) => text.replace(/[.()]/g, (c) => `\\${c}`);

describe('tools/model.ts (npm run model)', () => {
  let hub: FakeHub;
  let dir: string;
  const env = () => ({ HF_ENDPOINT: hub.origin, HF_HUB_CACHE: join(dir, 'cache'), HF_TOKEN_PATH: join(dir, 'no-token') });

  beforeAll(async () => {
    hub = await new FakeHub({ 'test/tiny-clip': tinyClipRepo() }).start();
    dir = mkdtempSync(join(tmpdir(), 'model-cli-'));
  });
  afterAll(async () => {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls a repo into the cache, says how to serve it, and a second pull downloads nothing', async () => {
    const first = await run(['pull', 'test/tiny-clip', '--dtype', 'q8'], env());
    expect(first.stderr).toContain(`Downloading onnx/vision_model_quantized.onnx (${sizeOf('onnx/vision_model_quantized.onnx')})`);
    expect(first.code).toBe(0);
    const snapshot = join(dir, 'cache', 'models--test--tiny-clip', 'snapshots', 'c0ffee0000000000000000000000000000000001');
    expect(first.stdout).toBe(
      `test/tiny-clip at main (commit c0ffee0), dtype q8: 6 files, ${sizeOf(...Q8)} downloaded, in ${snapshot}\n` +
        `Serve it with HF_HUB_CACHE=${join(dir, 'cache')} CLIP_MODEL=test/tiny-clip CLIP_DTYPE=q8 (add HF_HUB_OFFLINE=1 to use the cache only)\n`,
    );

    hub.requests.length = 0;
    const second = await run(['pull', 'test/tiny-clip', '--dtype', 'q8'], env());
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('dtype q8: 6 files, 0 B downloaded');
    expect(hub.fileRequests()).toEqual([]);
  });

  it('lists the cache: repo, revision and ref, files and sizes', async () => {
    await run(['pull', 'test/tiny-clip'], env());
    const { code, stdout } = await run(['list'], env());
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe(`The cache at ${join(dir, 'cache')}:`);
    // The stand-in serves the same bytes as fp32 and q8: one blob each on disk, as huggingface_hub stores them.
    expect(lines[1]).toBe(`test/tiny-clip  ${sizeOf(...Q8)} on disk`);
    expect(lines[2]).toBe(`  c0ffee0000000000000000000000000000000001 (main): 8 files, ${sizeOf(...ALL)}`);
    expect(lines.slice(3).map((l) => l.trim().split(/\s{2,}/)[0])).toEqual([
      'config.json',
      'onnx/text_model.onnx',
      'onnx/text_model_quantized.onnx',
      'onnx/vision_model.onnx',
      'onnx/vision_model_quantized.onnx',
      'preprocessor_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(stdout).toMatch(new RegExp(`onnx/vision_model\\.onnx {2,}${escape(sizeOf('onnx/vision_model.onnx'))}`));
  });

  it('--dir writes a plain model directory (files, not links) that the loader reads, and works offline from the cache', async () => {
    const target = join(dir, 'export');
    const { code, stdout, stderr } = await run(['pull', 'test/tiny-clip', '--dir', target], { ...env(), HF_HUB_OFFLINE: '1' });
    expect(stderr).toMatch(/from the cache .*\(HF_HUB_OFFLINE\)/);
    expect(code).toBe(0);
    expect(stdout).toContain(`Written to ${target} as a model directory: serve it with CLIP_MODEL_DIR=${target}\n`);
    expect(lstatSync(join(target, 'onnx', 'vision_model.onnx')).isFile()).toBe(true);
    expect(
      readFileSync(join(target, 'onnx', 'vision_model.onnx')).equals(
        hub.repos.get('test/tiny-clip')!.files.get('onnx/vision_model.onnx')!.bytes,
      ),
    ).toBe(true);
    expect(readModelDirectory(target).dim).toBe(64);
  });

  it('fails offline without the files, naming them, and refuses a bad command line with the usage', async () => {
    const offline = await run(['pull', 'test/tiny-clip', '--dtype', 'fp16'], { ...env(), HF_HUB_OFFLINE: '1' });
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(
      /^model: HF_HUB_OFFLINE is set and the cache at .* lacks onnx\/text_model_fp16\.onnx, onnx\/vision_model_fp16\.onnx/,
    );

    const bad = await run(['pull', 'not a repo'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^model: the repo must be a Hugging Face repo id such as Xenova\/clip-vit-base-patch32, got "not a repo"\.\n\nUsage:/,
    );
    const dtype = await run(['pull', 'test/tiny-clip', '--dtype', 'fp64'], env());
    expect(dtype.code).toBe(2);
    expect(dtype.stderr).toMatch(/^model: --dtype must be one of fp32, .*, got "fp64"\./);
  });

  it('lists an empty cache as such', async () => {
    const { code, stdout } = await run(['list', '--cache-dir', join(dir, 'empty')], env());
    expect(code).toBe(0);
    expect(stdout).toBe(`No models in the cache at ${join(dir, 'empty')}.\n`);
  });
});
