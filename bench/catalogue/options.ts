// What the catalogue's section of the bench is given, what it adds to the targets, and its progress.
import { fmt } from '../lib';

export type Target = [what: string, value: string, met: boolean | undefined];

export interface CatalogueBenchOptions {
  modelDir: string;
  quick: boolean;
  /** The largest catalogue the embedded store is measured at (the scale curve runs up to it). */
  products: number;
  /** Which parts run: `ingest`, `sqlite`, `postgres` (the PostgreSQL part takes the SQLite part's model, so it needs that part). */
  parts: ReadonlySet<string>;
  /** Interleaved rounds of the HTTP comparison. */
  rounds: number;
  say: (line?: string) => void;
  targets: Target[];
}

export const started = performance.now();
/** Progress goes to stderr, never into the report. */
export const progress = (message: string) =>
  process.stderr.write(`[catalogue ${fmt((performance.now() - started) / 1000, 0)} s] ${message}\n`);
