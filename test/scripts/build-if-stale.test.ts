import { spawnSync } from 'node:child_process';
import { statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'build-if-stale.js');

describe('scripts/build-if-stale.js (run before npm start, clip, lambda:local)', () => {
  it('finds dist/ current right after a build, and due once a source is newer', () => {
    // npm test builds before jest runs, so dist/ is current here.
    const check = () => spawnSync(process.execPath, [SCRIPT, '--check'], { encoding: 'utf8' });
    expect(check()).toMatchObject({ status: 0, stderr: '' });
    const stamp = join(__dirname, '..', '..', 'dist', '.build-stamp');
    const { atime, mtime } = statSync(stamp);
    try {
      utimesSync(stamp, atime, new Date(0));
      expect(check()).toMatchObject({ status: 1, stderr: 'dist/ is older than its sources; npm run build is due.\n' });
    } finally {
      utimesSync(stamp, atime, mtime);
    }
  });
});
