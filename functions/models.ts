import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where the bundled tiny CLIP lives, relative to the package root. */
export const BUNDLED_MODEL_PATH = join('models', 'tiny-clip');

/**
 * The tiny CLIP shipped with the project (a real CLIP in miniature that knows only coloured
 * shapes), found from the package root so the same code works from the sources and from `dist/`.
 */
export function bundledModelDir(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, BUNDLED_MODEL_PATH);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`No bundled model found above ${from}; set CLIP_MODEL_DIR.`);
  }
}
