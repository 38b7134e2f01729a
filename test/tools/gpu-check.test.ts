import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

import { summarise } from '../../tools/gpu-check/compare';
import { nvidiaSmiStandIn } from '../functions/clip/nvidia-smi-stand-in';
import { FAKE_COMMIT, FakeHub, tinyClipRepo } from '../functions/hub/fake-hub';
import { builtEntry } from '../helpers/build';
import { TINY_CLIP_DIR } from '../helpers/tiny-clip';

/**
 * The built command as `npm run gpu:check` runs it. This host has no GPU, so every run here
 * either fails (as it must without CUDA) or runs the pipeline on the CPU with --allow-cpu; the
 * assertions are about structure and agreement, never timings.
 */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [builtEntry('tools', 'gpu-check.js'), ...args], {
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

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1) ?? '';
const QUICK = ['--batch-sizes', '1,4', '--rounds', '2'];

let scratch: string;
let withL4: Record<string, string>;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'gpu-check-'));
  // A stand-in nvidia-smi (no driver here) first on the PATH: it prints what one NVIDIA L4 would.
  withL4 = { PATH: `${dirname(nvidiaSmiStandIn('one-l4'))}${delimiter}${process.env.PATH}` };
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run gpu:check on a host without a GPU', () => {
  it('fails, saying why in one sentence, and reports what it found first', async () => {
    const { code, stdout, stderr } = await run(QUICK);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^GPU check\n  ONNX Runtime {8}1\.30\.0 \(onnxruntime-node in .*node_modules[/\\]onnxruntime-node\)\n/);
    expect(stdout).toContain('  CUDA libraries      installed onnxruntime-node (NuGet via its install script)\n');
    expect(stdout).toMatch(
      /  CUDA provider       the CUDA execution provider library is not installed: .*libonnxruntime_providers_cuda\.so is missing/,
    );
    expect(stdout).toContain('  GPU                 none (nvidia-smi not found)\n');
    expect(lastLine(stdout)).toBe('Result: FAILED (the reason is on stderr).');
    expect(lastLine(stderr)).toMatch(
      /^gpu-check: FAILED: the CUDA execution provider is not active: text model: a GPU is required \(requireGpu, CLIP_REQUIRE_GPU=true\) but the CUDA execution provider library is not installed: .* is missing .*\.$/,
    );
  });

  it('fails even where nvidia-smi reports a GPU: a driver is not a running provider', async () => {
    const { code, stdout, stderr } = await run(QUICK, withL4);
    expect(code).toBe(1);
    expect(stdout).toContain('  GPU                 NVIDIA L4, driver 550.90.07, CUDA 12.4\n');
    expect(lastLine(stderr)).toMatch(/^gpu-check: FAILED: the CUDA execution provider is not active: /);
  });

  it('with --allow-cpu, runs the comparison and the sweep on the CPU and says it is no GPU result', async () => {
    const { code, stdout, stderr } = await run(['--allow-cpu', '--model-dir', TINY_CLIP_DIR, ...QUICK], withL4);
    expect(stderr).toMatch(
      /gpu-check: CLIP ready: model tiny-clip \(fp32\); execution provider CPU; GPU NVIDIA L4, driver 550\.90\.07, CUDA 12\.4;/,
    );
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines).toContain('  Execution provider  CPU (--allow-cpu: CUDA does not run this model here, so this is no GPU result)');
    expect(lines).toContain(`  Model               tiny-clip (fp32) from ${TINY_CLIP_DIR}`);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}Warm-up {13}\d+ ms \(load and self-check\)$/));

    // Every bundled image and every text, each at or above 0.9999 against the CPU.
    const images = /^ {2}images: (\d+) of (\d+) at or above 0\.9999; lowest (\d\.\d+) \(.+\)$/m.exec(stdout);
    const texts = /^ {2}texts: (\d+) of (\d+) at or above 0\.9999; lowest (\d\.\d+) \(.+\)$/m.exec(stdout);
    expect(images?.slice(1, 3)).toEqual(['24', '24']);
    expect(texts?.slice(1, 3)).toEqual(['8', '8']);
    expect(Number(images![3])).toBeGreaterThanOrEqual(0.9999);
    expect(Number(texts![3])).toBeGreaterThanOrEqual(0.9999);

    // One row per batch size, with images/s and the stand-in's memory figure.
    const table = lines.slice(lines.indexOf('  batch   images/s   GPU memory used (MiB, device-wide)') + 1);
    expect(table[0]).toMatch(/^ +1 +\d+\.\d +812$/);
    expect(table[1]).toMatch(/^ +4 +\d+\.\d +812$/);
    expect(lastLine(stdout)).toBe(
      'Result: PASSED on the CPU only (--allow-cpu): the check itself works here, but it says nothing about a GPU.',
    );
  });

  it('checks a model from the hub (--model REPO), fetched into the cache as npm run clip does', async () => {
    const hub = await new FakeHub({ 'test/tiny-clip': tinyClipRepo() }).start();
    try {
      const cache = join(scratch, 'hf-cache');
      const env = { ...withL4, HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cache, HF_TOKEN_PATH: join(scratch, 'no-token') };
      const { code, stdout } = await run(['--model', 'test/tiny-clip', '--allow-cpu', '--batch-sizes', '2', '--rounds', '1'], env);
      expect(stdout).toContain(
        `  Model               test/tiny-clip (fp32) from ${join(cache, 'models--test--tiny-clip', 'snapshots', FAKE_COMMIT)}\n`,
      );
      expect(stdout).toMatch(/^ {2}images: 24 of 24 at or above 0\.9999/m);
      expect(code).toBe(0);
    } finally {
      await hub.stop();
    }
  });

  it('refuses bad options before loading anything', async () => {
    const bad = async (args: string[], message: string | RegExp) => {
      const { code, stderr } = await run(args);
      expect(code).toBe(2);
      const first = stderr.split('\n')[0];
      if (typeof message === 'string') expect(first).toBe(`gpu-check: ${message}`);
      else expect(first).toMatch(message);
      expect(stderr).toContain('Usage: npm run gpu:check -- [options]');
    };
    await bad(['--batch-sizes', '8,x'], '--batch-sizes must be a comma-separated list of positive integers, got "8,x".');
    await bad(['--cuda-libs', 'nuget'], '--cuda-libs must be installed or npm, got "nuget".');
    await bad(['--cuda-libs-dir', scratch], '--cuda-libs-dir goes with --cuda-libs npm.');
    await bad(
      ['--model-dir', join(scratch, 'nothing')],
      `the model directory ${join(scratch, 'nothing')} (--model-dir) does not exist or is not a directory.`,
    );
    await bad(['--dtype', 'int3'], /^gpu-check: --dtype must be one of fp32, fp16, q8, .*, got "int3"\.$/);
  });
});

/**
 * A stand-in for `npm install` (tests download nothing), run as npm_execpath the way `npm run`
 * sets it: it records its arguments and lays out what the real install leaves. Its onnxruntime-node
 * is the project's 1.30.0 build under a package.json saying 1.29.0, and the npm package's two
 * CUDA libraries are text files, so ONNX Runtime fails to load them, as it fails on a host without CUDA.
 */
const NPM_STAND_IN = `
const fs = require('node:fs');
const path = require('node:path');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.NPM_STAND_IN_LOG, JSON.stringify(args) + '\\n');
const modules = path.join(args[args.indexOf('--prefix') + 1], 'node_modules');
const project = process.env.NPM_STAND_IN_MODULES;
const place = (from, to) => {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  try { fs.linkSync(from, to); } catch { fs.copyFileSync(from, to); }
};
fs.cpSync(path.join(project, 'onnxruntime-common'), path.join(modules, 'onnxruntime-common'), { recursive: true });
const ort = path.join(modules, 'onnxruntime-node');
fs.cpSync(path.join(project, 'onnxruntime-node', 'dist'), path.join(ort, 'dist'), { recursive: true });
const pkg = JSON.parse(fs.readFileSync(path.join(project, 'onnxruntime-node', 'package.json'), 'utf8'));
fs.writeFileSync(path.join(ort, 'package.json'), JSON.stringify({ ...pkg, version: '1.29.0' }));
for (const file of ['libonnxruntime.so.1', 'onnxruntime_binding.node']) {
  place(path.join(project, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', file), path.join(ort, 'bin', 'napi-v6', 'linux', 'x64', file));
}
const gpu = path.join(modules, 'com.github.asus4.onnxruntime.linux-x64-gpu');
fs.mkdirSync(path.join(gpu, 'Plugins', 'Linux', 'x64'), { recursive: true });
fs.writeFileSync(path.join(gpu, 'package.json'), JSON.stringify({ name: 'com.github.asus4.onnxruntime.linux-x64-gpu', version: '0.4.9' }));
for (const file of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so']) {
  fs.writeFileSync(path.join(gpu, 'Plugins', 'Linux', 'x64', file), 'a stand-in, not a shared library');
}
`;

describe('npm run gpu:check -- --cuda-libs npm', () => {
  it('installs the npm path apart from the project, runs the check on it, and names it', async () => {
    const npm = join(scratch, 'npm-stand-in.js');
    writeFileSync(npm, NPM_STAND_IN);
    const dir = join(scratch, 'cuda-libs');
    const env = {
      npm_execpath: npm,
      NPM_STAND_IN_LOG: join(scratch, 'npm-calls'),
      NPM_STAND_IN_MODULES: join(__dirname, '..', '..', 'node_modules'),
    };
    const first = await run(['--cuda-libs', 'npm', '--cuda-libs-dir', dir, ...QUICK], env);
    expect(
      readFileSync(env.NPM_STAND_IN_LOG, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        'onnxruntime-node@1.29.0',
        'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9',
      ],
    ]);
    const bin = join(dir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    expect(existsSync(join(bin, 'libonnxruntime_providers_cuda.so'))).toBe(true);
    expect(existsSync(join(bin, 'libonnxruntime_providers_shared.so'))).toBe(true);

    expect(first.stdout).toContain(`(onnxruntime-node in ${join(dir, 'node_modules', 'onnxruntime-node')})\n`);
    expect(first.stdout).toContain(
      `  CUDA libraries      npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 with onnxruntime-node@1.29.0 (in ${dir})\n`,
    );
    expect(first.stdout).toContain(`  CUDA provider       ${join(bin, 'libonnxruntime_providers_cuda.so')}`);
    expect(first.code).toBe(1);
    expect(lastLine(first.stderr)).toMatch(
      /^gpu-check: FAILED: the CUDA execution provider is not active: text model: a GPU is required \(requireGpu, CLIP_REQUIRE_GPU=true\) but creating its session on the CUDA execution provider failed: .*Failed to load shared library/,
    );

    // A second run uses what the first installed.
    const second = await run(['--cuda-libs', 'npm', '--cuda-libs-dir', dir, ...QUICK], env);
    expect(second.stderr).toContain(
      `gpu-check: Using onnxruntime-node@1.29.0 and com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 installed in ${dir}\n`,
    );
    expect(readFileSync(env.NPM_STAND_IN_LOG, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(second.code).toBe(1);
  });
});

describe('the comparison’s verdict', () => {
  it('counts what falls below 0.9999 or failed, and names each', () => {
    const { line, failures } = summarise('images', [
      { label: 'a.jpg', cosine: 0.99995 },
      { label: 'b.png', cosine: 0.9998 },
      { label: 'c.webp', cosine: NaN, error: 'CPU: INFERENCE_FAILED: no vector' },
    ]);
    expect(line).toBe('images: 1 of 3 at or above 0.9999; lowest 0.999800 (b.png)');
    expect(failures).toEqual(['b.png: cosine 0.999800', 'c.webp: CPU: INFERENCE_FAILED: no vector']);
  });
});
