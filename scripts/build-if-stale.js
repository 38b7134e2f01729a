#!/usr/bin/env node
// Runs the build script only when dist/ is older than what it is built from, so that a second
// `npm start` (or `npm run clip`, `npm run lambda:local`) with no source change starts at once.
// A successful build leaves dist/.build-stamp; any newer TypeScript source or build setting
// makes the next run build again. With --check it only says whether a build is due (exit 1 if so).
'use strict';
const { execSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, statSync, writeFileSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');
// The build type-checks the tests too (tsconfig.json), so a changed test makes it due as well.
const SOURCES = ['gateway', 'functions', 'infra', 'bench', 'tools', 'test'];
const SETTINGS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build-pages.js'];

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'model') continue;
    const child = join(path, entry.name);
    if (entry.isDirectory() || /\.(ts|tsx|css|html)$/.test(entry.name)) latest = Math.max(latest, newest(child));
  }
  return latest;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const source = Math.max(...SOURCES.map((dir) => newest(join(root, dir))), ...SETTINGS.map((file) => newest(join(root, file))));
if (source > built && process.argv.includes('--check')) {
  process.stderr.write('dist/ is older than its sources; npm run build is due.\n');
  process.exit(1);
}
if (source > built) {
  process.stderr.write(built === 0 ? 'Building dist/ ...\n' : 'Sources changed since the last build; building dist/ ...\n');
  // package.json's build script, run as npm would (its tools on the PATH) but without starting
  // another npm, which would print its configuration warnings once more.
  const { build } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
  const PATH = [join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter);
  execSync(build, { cwd: root, stdio: 'inherit', env: { ...process.env, PATH } });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
