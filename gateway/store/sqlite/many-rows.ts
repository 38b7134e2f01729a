import type { Connection } from './connection';

/**
 * One statement for many rows. A call into SQLite through better-sqlite3 costs about what writing
 * a small row does, so a re-tagging chunk's thousands of tag and outbox rows go 256 a statement,
 * the rest in statements of 128, 64, … 1 rows: at most nine texts a kind of write, each prepared
 * once and kept by the connection.
 */

/** The most rows a statement takes: 8 parameters a row stays far under SQLite's 32,766. */
const MOST_ROWS = 256;

/** `n` SQL VALUES rows of `row` (such as `(?, ?, ?)`), comma-separated. */
export function valuesRows(row: string, n: number): string {
  return Array<string>(n).fill(row).join(', ');
}

/** Each kind of write's statement texts by row count, made once: the text is also the connection's key for its prepared statement. */
const texts = new WeakMap<(n: number) => string, Map<number, string>>();

function textOf(text: (n: number) => string, n: number): string {
  let byRows = texts.get(text);
  if (!byRows) texts.set(text, (byRows = new Map()));
  let made = byRows.get(n);
  if (made === undefined) byRows.set(n, (made = text(n)));
  return made;
}

/** A kind of write: its statement for n rows (one function for the kind, its texts made once), and a row's `width` parameters written into a list at `at`. */
export interface ManyRows<T> {
  text: (n: number) => string;
  width: number;
  params: (row: T, into: unknown[], at: number) => void;
}

/** Runs a kind of write over `rows`, in order. */
export function runForRows<T>(c: Connection, { text, width, params }: ManyRows<T>, rows: readonly T[]): void {
  for (let from = 0, n = MOST_ROWS; from < rows.length;) {
    while (n > rows.length - from) n >>= 1;
    const values: unknown[] = new Array(n * width);
    for (let i = 0; i < n; i++) params(rows[from + i], values, i * width);
    c.sql(textOf(text, n)).run(values);
    from += n;
  }
}
