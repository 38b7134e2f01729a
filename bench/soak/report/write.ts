// The report written out: Markdown on stdout and beside report.json in --out.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { ROOT } from '../../lib';
import { progress } from '../progress';
import type { Run } from '../run';
import { markdown } from './markdown';

export function writeReport(run: Run): void {
  const text = markdown(run);
  process.stdout.write(text);
  mkdirSync(run.settings.out, { recursive: true });
  writeFileSync(join(run.settings.out, 'report.md'), text);
  writeFileSync(
    join(run.settings.out, 'report.json'),
    `${JSON.stringify(run, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 2)}\n`,
  );
  progress(`wrote ${relative(ROOT, join(run.settings.out, 'report.md'))} and report.json`);
}
