import { spawn } from 'node:child_process';

import { builtEntry } from './build';

/** What a run of a built command said, and how it ended. */
export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `dist/tools/<file>` with these arguments (its environment this process's), and collects what it says. */
export function runBuiltTool(file: string, args: string[]): Promise<ToolRun> {
  const entry = builtEntry('tools', file);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
