import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The tiny CLIP shipped with the project (test/fixtures/tiny-clip), found from the package root so
 * the same code works from the sources and from the compiled `dist/`.
 */
export function bundledModelDir(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'fixtures', 'tiny-clip');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`No bundled model found above ${from}; set CLIP_MODEL_DIR.`);
  }
}
