import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'prune-dist.js');

describe('scripts/prune-dist.js (part of npm run build)', () => {
  it('removes what was compiled from a source that is gone, folders left empty with it, and keeps the rest', () => {
    const gone = join(ROOT, 'dist', 'gateway', 'pruned-folder-of-a-test');
    mkdirSync(gone, { recursive: true });
    const outputs = ['moved.js', 'moved.js.map', 'moved.d.ts'].map((name) => join(gone, name));
    for (const output of outputs) writeFileSync(output, '');
    // npm test builds before jest runs: gateway/gateway.ts's output is there, and must stay.
    const kept = join(ROOT, 'dist', 'gateway', 'gateway.js');
    expect(existsSync(kept)).toBe(true);
    try {
      const run = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      expect(run.stderr).toMatch(/^Removed \d+ compiled files whose source is gone from dist\/\.\n$/);
      for (const output of outputs) expect(existsSync(output)).toBe(false);
      expect(existsSync(gone)).toBe(false);
      expect(existsSync(kept)).toBe(true);
    } finally {
      rmSync(gone, { recursive: true, force: true });
    }
  });
});
