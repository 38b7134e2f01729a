#!/usr/bin/env node
// What `npm test` checks before jest runs, side by side (each is one process on one core): the
// formatting (prettier), the layers (dependency-cruiser, .dependency-cruiser.cjs), and the build
// when it is due (scripts/build-if-stale.js), whose tsc type-checks the code and the tests. Each
// one's output is printed whole when it ends; the exit code is 1 if any failed.
'use strict';
const { spawn } = require('node:child_process');
const { delimiter, join } = require('node:path');

const root = join(__dirname, '..');
const FOLDERS = ['gateway', 'functions', 'infra', 'test', 'bench', 'tools', 'examples'];
const CHECKS = [
  ['formatting', 'prettier', ['--check', ...FOLDERS]],
  ['layers', 'depcruise', ['gateway', 'functions', 'bench', 'tools', '--config', '.dependency-cruiser.cjs', '--output-type', 'err-long']],
  ['build', process.execPath, [join(__dirname, 'build-if-stale.js')]],
];

const PATH = [join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter);

function run([name, command, args]) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd: root, env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('error', (error) => output.push(Buffer.from(`${error.message}\n`)));
    child.on('close', (code) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(`${code === 0 ? 'ok' : 'FAILED'}: ${name} (${seconds} s)\n${Buffer.concat(output).toString()}`);
      resolve(code === 0);
    });
  });
}

Promise.all(CHECKS.map(run)).then((results) => {
  process.exitCode = results.every(Boolean) ? 0 : 1;
});
