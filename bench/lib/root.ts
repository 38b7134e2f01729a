import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository: the nearest directory up with a package.json (from dist/bench/ when built, from bench/ under ts-jest or tsx). */
export const ROOT = (() => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return dir;
  return join(__dirname, '..', '..', '..');
})();
