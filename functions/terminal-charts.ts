// Charts for a terminal: label probabilities as bars of Unicode blocks, similarities as a table
// shaded like a heatmap. Colour only where it is wanted (a TTY, no NO_COLOR): otherwise the same
// characters without escapes, so that a pipe or a file gets plain text.
import { createColors } from 'picocolors';

export interface ChartStyle {
  /** ANSI colours on; see colourWanted(). */
  colour: boolean;
  /** Widest bar, in terminal columns. */
  width: number;
}

/** Colour for a stream that is a terminal, unless NO_COLOR says otherwise (FORCE_COLOR forces it). */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar `fraction` (0..1) of `width` columns long, to the eighth of a column. */
export function bar(fraction: number, width: number): string {
  const eighths = Math.round(Math.min(1, Math.max(0, fraction)) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/** One line per label, best first as given: the label, its bar, its percentage. */
export function labelBars(scores: { label: string; score: number }[], style: ChartStyle): string[] {
  const c = createColors(style.colour);
  const labelWidth = Math.max(...scores.map((s) => s.label.length));
  return scores.map((s, i) => {
    const line = `${s.label.padEnd(labelWidth)}  ${bar(s.score, style.width).padEnd(style.width)} ${`${(s.score * 100).toFixed(1)}%`.padStart(6)}`;
    const [label, rest] = [line.slice(0, labelWidth), line.slice(labelWidth)];
    return i === 0 ? c.bold(label) + c.cyan(rest) : label + c.blue(rest);
  });
}

const SHADES = [' ', '░', '▒', '▓', '█'];

/**
 * Rows × columns of similarities as a table: each cell its value and a shade from the row's
 * lowest to the matrix's highest, the best column of each row in bold; a key for the columns below.
 */
export function similarityTable(rows: string[], columns: string[], values: number[][], style: Pick<ChartStyle, 'colour'>): string[] {
  const c = createColors(style.colour);
  const flat = values.flat();
  const [low, high] = [Math.min(...flat), Math.max(...flat)];
  const shade = (v: number) => SHADES[high > low ? Math.round(((v - low) / (high - low)) * (SHADES.length - 1)) : SHADES.length - 1];
  const rowWidth = Math.max(4, ...rows.map((r) => r.length));
  // Column numbers over the values, which are right-aligned in six columns.
  const header = ' '.repeat(rowWidth) + columns.map((_, i) => `  ${`#${i + 1}`.padStart(6)}   `).join('');
  const lines = [header.trimEnd()];
  rows.forEach((row, r) => {
    const best = values[r].indexOf(Math.max(...values[r]));
    const cells = values[r].map((v, i) => {
      const cell = `${v.toFixed(3).padStart(6)} ${shade(v).repeat(2)}`;
      return `  ${i === best ? c.bold(c.cyan(cell)) : c.blue(cell)}`;
    });
    lines.push((row.padEnd(rowWidth) + cells.join('')).trimEnd());
  });
  lines.push('', ...columns.map((name, i) => `#${i + 1}  ${name}`));
  return lines;
}
