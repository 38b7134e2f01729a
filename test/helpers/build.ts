import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function newestSource(dir: string): { path: string; mtimeMs: number } {
  let newest = { path: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory()
      ? newestSource(path)
      : entry.name.endsWith('.ts')
        ? { path, mtimeMs: statSync(path).mtimeMs }
        : newest;
    if (candidate.mtimeMs > newest.mtimeMs) newest = candidate;
  }
  return newest;
}

/**
 * The compiled file for tests that run the real process from `dist/`. Fails loudly when it is
 * missing or older than a source it is built from, instead of silently testing stale code.
 */
export function builtEntry(...path: string[]): string {
  const entry = join(ROOT, 'dist', ...path);
  if (!existsSync(entry)) throw new Error(`${relative(ROOT, entry)} is not built; run \`npm run build\` (npm test does).`);
  const built = statSync(entry).mtimeMs;
  for (const folder of ['gateway', 'functions', 'infra']) {
    const newest = newestSource(join(ROOT, folder));
    if (newest.mtimeMs > built) {
      throw new Error(`dist/ is older than ${relative(ROOT, newest.path)}; run \`npm run build\` (npm test does) before this test.`);
    }
  }
  return entry;
}
