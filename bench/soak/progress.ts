// Progress on stderr, timed from the start of the soak; stdout gets only the report.
import { fmt } from '../lib';

export const started = performance.now();
/** Progress goes to stderr; stdout gets only the report. */
export const progress = (message: string) => process.stderr.write(`[soak ${fmt((performance.now() - started) / 1000, 0)} s] ${message}\n`);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
