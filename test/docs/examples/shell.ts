// A page's examples run as a reader runs them: one after another in one bash session (later ones
// use the `gql` function and `I=...` an earlier one defines), with real curl, npm and node.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT, type Example } from './pages';

/** What one example printed on stdout, and the exit status of its last command. */
export interface Printed {
  stdout: string;
  status: number;
}

/**
 * What the session's examples reach of the project, by their paths relative to it
 * (`models/tiny-clip/images/...`; `npm run catalogue`, which runs `dist/tools/catalogue.js`).
 */
const PROJECT_ENTRIES = ['package.json', '.npmrc', 'node_modules', 'dist', 'models'];

/**
 * A directory standing for the project root: its entries link to the project's, so the examples'
 * relative paths and npm scripts work as they do in the checkout, while the files an example
 * writes (`shapes.jsonl`) land here and not in the checkout, where two runs at once would share them.
 * `scripts/build-if-stale.js` (which npm scripts run first) is a copy, not a link, so that its
 * root is this directory (Node runs a linked script from its real path): it finds no sources here
 * and never rebuilds dist/ under the running gateway when a source changes meanwhile (the test
 * checks the build before it starts, as the other tests of the built gateway do).
 */
export function projectLookalike(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'docs-examples-'));
  for (const entry of PROJECT_ENTRIES) symlinkSync(join(ROOT, entry), join(dir, entry));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'build-if-stale.js'), join(dir, 'scripts', 'build-if-stale.js'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `examples` in order in one bash session in `cwd`, with `localhost:4000` in their text
 * replaced by `address` (host:port of the test's gateway), and answers what each printed. stderr
 * (npm's notices, progress bars) is kept for the failure message, not compared.
 */
export async function runInOneSession(
  examples: Example[],
  options: { cwd: string; address: string; env: Record<string, string>; timeoutMs: number },
): Promise<{ printed: Printed[]; stderr: string }> {
  // Between two examples, a line saying which one comes next and how the last command of the one
  // before ended; the examples' own output never contains it.
  const mark = `docs-example-${randomUUID()}`;
  const between = (i: number) => `printf '\\n${mark} ${i} %s\\n' "$?"\n`;
  const script =
    examples.map((example, i) => between(i) + example.script.replaceAll('localhost:4000', options.address)).join('') +
    between(examples.length);
  const file = join(options.cwd, `.${mark}.sh`);
  writeFileSync(file, script);
  try {
    const { stdout, stderr, code } = await run(file, options);
    if (code !== 0) throw new Error(`bash ended with ${code}:\n${stderr}`);
    const parts = stdout.split(new RegExp(`\\n${mark} (\\d+) (\\d+)\\n`));
    // ['', '0', status, out0, '1', status of 0, out1, ..., 'n', status of n-1, '']
    if (parts.length !== 3 * examples.length + 4) throw new Error(`the session's output is not cut in ${examples.length}:\n${stdout}`);
    const printed = examples.map((_, i) => ({ stdout: parts[3 * i + 3]!, status: Number(parts[3 * i + 5]) }));
    return { printed, stderr };
  } finally {
    rmSync(file, { force: true });
  }
}

function run(file: string, options: { cwd: string; env: Record<string, string>; timeoutMs: number }) {
  return new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    const bash = spawn('bash', ['--noprofile', '--norc', file], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so that a timeout ends curl and npm with it
    });
    let stdout = '';
    let stderr = '';
    bash.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    bash.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      process.kill(-bash.pid!, 'SIGKILL');
      reject(new Error(`the examples were still running after ${options.timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, options.timeoutMs);
    bash.once('error', reject);
    bash.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}
