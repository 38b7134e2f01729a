import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { formatBytes } from '../../functions/hub/progress';
import { builtEntry } from '../helpers/build';
import { loadReference, TINY_CLIP_DIR } from '../helpers/tiny-clip';
import { FakeHub, tinyClipRepo } from './hub/fake-hub';

const CLI = builtEntry('functions', 'cli.js');
const IMAGES = join(TINY_CLIP_DIR, 'images');
const image = (name: string) => join(IMAGES, name);
const labels = loadReference().classes.flatMap((label) => ['--label', label]);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI as a user runs it, without CLIP_MODEL_DIR or CLIP_MODEL (the bundled tiny CLIP). */
function cli(...args: string[]): Promise<Run> {
  return cliWith({}, ...args);
}

/** The same, with these variables set too. */
function cliWith(variables: Record<string, string>, ...args: string[]): Promise<Run> {
  return cliAs(undefined, variables, ...args);
}

/** The same, run as another user (`uid`) when given. */
function cliAs(uid: number | undefined, variables: Record<string, string>, ...args: string[]): Promise<Run> {
  const env = { ...process.env, ...variables };
  if (!variables.CLIP_MODEL_DIR) delete env.CLIP_MODEL_DIR;
  if (!variables.CLIP_MODEL) delete env.CLIP_MODEL;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 30_000, uid }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

/** Whether uid 65534 (nobody) can read `path`: every folder above it open to others, and the file too. */
function readableByNobody(path: string): boolean {
  const probe = spawnSync(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(path)}, 4)`], { uid: 65534 });
  return probe.status === 0;
}

/** What ONNX Runtime's session creation logs: its absence means no model was loaded. */
const MODEL_LOADED = /execution provider/;

describe('clip-cli classify', () => {
  it('classifies the bundled images, printing labels with percentages, best first', async () => {
    // The tiny CLIP reads these seven right; it takes the tiny triangle and the pink circle on grey for others.
    const files = [
      'wide-red-circle.jpg',
      'tall-blue-star.png',
      'large-green-square.jpg',
      'pink-star.webp',
      'rgba-yellow-triangle.png',
      'palette-cyan-square.png',
      'exif-rotated-purple-triangle.jpg',
    ];
    const run = await cli('classify', ...files.map(image), ...labels, '--json', '--top', '5');
    expect(run.stderr).toMatch(MODEL_LOADED);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(files.length);
    lines.forEach((line, i) => {
      const expected = files[i]
        .replace(/\.\w+$/, '')
        .split('-')
        .slice(-2)
        .join(' ');
      const result = JSON.parse(line) as { file: string; labels: { label: string; score: number; similarity: number }[] };
      expect(result.file).toBe(image(files[i]));
      // The top five of the 32 labels, best first.
      expect(result.labels).toHaveLength(5);
      expect(result.labels[0].label).toBe(expected);
      const scores = result.labels.map((l) => l.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    });
    expect((JSON.parse(lines[0]) as { labels: { score: number }[] }).labels[0].score).toBeGreaterThan(0.9);
  });

  it('draws a bar chart per image: plain text into a pipe, the same bars in colour when forced', async () => {
    const red = image('wide-red-circle.jpg');
    const [json, plain, coloured] = await Promise.all([
      cli('classify', red, ...labels, '--json', '--top', '3'),
      cli('classify', red, ...labels, '--top', '3'),
      cliWith({ FORCE_COLOR: '1' }, 'classify', red, ...labels, '--top', '3'),
    ]);
    const best = (JSON.parse(json.stdout) as { labels: { label: string; score: number }[] }).labels;
    const lines = plain.stdout.trimEnd().split('\n');
    expect(plain.code).toBe(0);
    expect(lines[0]).toBe(red);
    expect(lines).toHaveLength(4);
    // "  red circle   ████…▌  97.3%": the label, a bar as long as its share of 30 columns, the percentage.
    lines.slice(1).forEach((line, i) => {
      const match = /^ {2}(\S+ \S+) +([█▏▎▍▌▋▊▉]*) *(\d+\.\d)%$/.exec(line);
      expect(match).not.toBeNull();
      expect(match![1]).toBe(best[i].label);
      expect(match![3]).toBe((best[i].score * 100).toFixed(1));
      const columns = [...match![2]].reduce((sum, ch) => sum + (ch === '█' ? 1 : '▏▎▍▌▋▊▉'.indexOf(ch) / 8 + 1 / 8), 0);
      expect(Math.abs(columns - best[i].score * 30)).toBeLessThanOrEqual(1 / 16);
    });
    expect(plain.stdout).not.toMatch(/\x1b\[/);
    expect(coloured.stdout).toMatch(/\x1b\[/);
    expect(coloured.stdout.replace(/\x1b\[\d+m/g, '')).toBe(plain.stdout);
  });
});

describe('clip-cli similarity', () => {
  it('prints texts × images as cosine similarities, the same as the dot products of embed', async () => {
    const files = [image('wide-red-circle.jpg'), image('tall-blue-star.png')];
    const texts = ['a photo of a red circle.', 'a photo of a blue star.'];
    const textArgs = texts.flatMap((t) => ['--text', t]);
    const [json, table, embedded] = await Promise.all([
      cli('similarity', ...textArgs, ...files, '--json'),
      cli('similarity', ...textArgs, ...files),
      cli('embed', ...textArgs, ...files),
    ]);
    expect([json.code, table.code, embedded.code]).toEqual([0, 0, 0]);
    const result = JSON.parse(json.stdout) as { texts: string[]; images: string[]; similarity: number[][] };
    expect([result.texts, result.images]).toEqual([texts, files]);
    const vectors = embedded.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { vector: number[] }).vector);
    const dot = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * b[i], 0);
    for (const r of [0, 1]) for (const c of [0, 1]) expect(result.similarity[r][c]).toBeCloseTo(dot(vectors[r], vectors[2 + c]), 5);
    // Each text is nearest its own picture.
    expect(result.similarity[0][0]).toBeGreaterThan(result.similarity[0][1]);
    expect(result.similarity[1][1]).toBeGreaterThan(result.similarity[1][0]);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +#1 +#2$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^a photo of a red circle\\. +${result.similarity[0][0].toFixed(3)} [ ░▒▓█]{2} +${result.similarity[0][1].toFixed(3)}(?: [ ░▒▓█]{1,2})?$`,
      ),
    );
    expect(lines.slice(-2)).toEqual([`#1  ${files[0]}`, `#2  ${files[1]}`]);
  });
});

describe('clip-cli refuses a bad command line at once, before loading the model', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'clip-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Every refusal and its sentence is checked in-process, in test/functions/cli/arguments.test.ts;
  // this one shows what the process makes of one, after every check that comes before the model.
  const red = image('wide-red-circle.jpg');
  it('an image file that does not exist: exit code 2, one line on stderr, nothing on stdout, no model loaded', async () => {
    const missing = join(dir, 'missing.png');
    const run = await cli('classify', missing, '--label', 'red circle');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`clip-cli: ${missing} does not exist.\n`);
    expect(run.stderr).not.toMatch(MODEL_LOADED);
  });

  // root reads whatever the mode bits say: run as root, the command runs as nobody (uid 65534),
  // from a folder anyone may enter, so that only the file's own mode refuses it. That needs the
  // CLI itself within nobody's reach; where it is not, the test says why it is skipped.
  const asRoot = process.getuid?.() === 0;
  const unreachable = asRoot && !readableByNobody(CLI) ? `run as root, and uid 65534 cannot reach ${CLI} to run it as` : undefined;
  (unreachable ? it.skip : it)(`an image file that cannot be read${unreachable ? ` (skipped: ${unreachable})` : ''}`, async () => {
    const open = mkdtempSync(join(tmpdir(), 'clip-cli-locked-'));
    chmodSync(open, 0o755);
    const locked = join(open, 'locked.png');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0o000);
    const run = await cliAs(asRoot ? 65534 : undefined, {}, 'classify', locked, '--label', 'red circle');
    rmSync(open, { recursive: true, force: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`clip-cli: ${locked} cannot be read (permission denied).\n`);
  });

  it('an unknown command, with the usage on stderr', async () => {
    const run = await cli('clasify', red, '--label', 'red circle');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [first, ...rest] = run.stderr.split('\n');
    expect(first).toBe('clip-cli: unknown command "clasify"; the commands are classify, similarity and embed.');
    expect(rest.join('\n')).toContain('Usage:\n  clip-cli classify IMAGE... --label LABEL');
    expect(run.stderr).not.toMatch(MODEL_LOADED);
  });

  it('no command, and an unknown option, with the usage on stderr', async () => {
    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^clip-cli: no command given; the commands are classify, similarity and embed\.\n\nUsage:/);
    const option = await cli('classify', red, '--lable', 'red circle');
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^clip-cli: Unknown option '--lable'\..*\n\nUsage:/);
  });

  it('--help prints the usage on stdout and succeeds', async () => {
    const run = await cli('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage:\n/);
    expect(run.stderr).toBe('');
  });
});

describe('clip-cli --model with a Hugging Face repo id', () => {
  let hub: FakeHub;
  let cacheDir: string;
  const hubEnv = () => ({ HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cacheDir, HF_TOKEN_PATH: join(cacheDir, 'no-token') });
  beforeAll(async () => {
    hub = await new FakeHub({ 'test/tiny-clip': tinyClipRepo() }).start();
    cacheDir = mkdtempSync(join(tmpdir(), 'clip-cli-hf-'));
  });
  afterAll(async () => {
    await hub.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('downloads it into the cache (progress on stderr, stdout only the output), then runs from the cache offline', async () => {
    const run = await cliWith(hubEnv(), 'embed', '--text', 'a red circle', '--model', 'test/tiny-clip');
    expect(run.code).toBe(0);
    const weights = tinyClipRepo().files.get('onnx/vision_model.onnx')!.bytes.length;
    expect(run.stderr).toContain(`Downloading onnx/vision_model.onnx (${formatBytes(weights)})`);
    const [line, ...rest] = run.stdout.trim().split('\n');
    expect(rest).toEqual([]);
    expect((JSON.parse(line) as { vector: number[] }).vector).toHaveLength(64);

    const offline = await cliWith({ ...hubEnv(), HF_HUB_OFFLINE: '1', CLIP_MODEL: 'test/tiny-clip' }, 'embed', '--text', 'a red circle');
    expect(offline.code).toBe(0);
    expect(offline.stdout).toBe(run.stdout);
  });

  it('says when a --model that is no directory is no repo either', async () => {
    const run = await cliWith(hubEnv(), 'embed', '--text', 'x', '--model', 'models/clip-vit-typo');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^clip-cli: models\/clip-vit-typo \(--model\) is no directory here, so it was taken for a Hugging Face repo id: models\/clip-vit-typo at main needs authentication, or does not exist/,
    );
    expect(run.stderr).not.toMatch(MODEL_LOADED);
  });

  it('refuses --revision for a model directory, and CLIP_MODEL with CLIP_MODEL_DIR', async () => {
    const revision = await cliWith(hubEnv(), 'embed', '--text', 'x', '--model', TINY_CLIP_DIR, '--revision', 'v1');
    expect(revision.code).toBe(2);
    expect(revision.stderr).toBe(`clip-cli: --revision is for a Hugging Face repo; --model ${TINY_CLIP_DIR} is a directory.\n`);
    const both = await cliWith({ ...hubEnv(), CLIP_MODEL: 'test/tiny-clip', CLIP_MODEL_DIR: TINY_CLIP_DIR }, 'embed', '--text', 'x');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^clip-cli: CLIP_MODEL_DIR \(".*"\) and CLIP_MODEL \("test\/tiny-clip"\) are both set/);
  });
});
