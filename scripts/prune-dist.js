#!/usr/bin/env node
// Removes what tsc compiled from a TypeScript file that is gone (moved or deleted): tsc only ever
// writes, so dist/gateway/store/sqlite.js would outlive gateway/store/sqlite.ts and shadow the
// folder that replaced it. Run after tsc (part of `npm run build`), so that dist/ stays whole
// while it is rebuilt: a gateway or a test running from it meanwhile keeps its files.
'use strict';
const { existsSync, readdirSync, rmSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');
/** The folders tsc compiles into dist/ (tsconfig.json's include); the pages' bundles are not tsc's. */
const COMPILED = ['gateway', 'functions', 'infra', 'test', 'bench', 'tools'];
const OUTPUT = /\.(js|js\.map|d\.ts)$/;

/** Removes the outputs under `dir` whose source is gone, and the folders left empty; returns how many files went. */
function prune(dir) {
  let removed = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      removed += prune(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
      continue;
    }
    if (!OUTPUT.test(entry.name)) continue;
    const source = join(root, relative(dist, path)).replace(OUTPUT, '.ts');
    if (!existsSync(source)) {
      rmSync(path);
      removed++;
    }
  }
  return removed;
}

let removed = 0;
for (const folder of COMPILED) if (existsSync(join(dist, folder))) removed += prune(join(dist, folder));
if (removed > 0) process.stderr.write(`Removed ${removed} compiled files whose source is gone from dist/.\n`);
