// The two charts of CLIP results, on Chart.js (only the parts used are registered, so the bundle
// carries no more): a bar chart of one image's label probabilities, and a heatmap (chartjs-chart-
// matrix) of cosine similarities whose values show on hover in an HTML tooltip.
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip, type TooltipModel } from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';

import { h, percent } from './dom';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, MatrixController, MatrixElement);

const INK = '#1f2933';
const BAR = '#3563c9';
const BEST = '#1b3f8f';

/** A horizontal bar per label, best first as given, scores 0..1 shown as percentages. */
export function labelBars(scores: { label: string; score: number }[], title: string): HTMLElement {
  const canvas = h('canvas', { role: 'img', 'aria-label': `${title}: ${scores.map((s) => `${s.label} ${percent(s.score)}`).join(', ')}` });
  const box = h('div', { class: 'chart bars' }, canvas);
  // Room for every label, however many: a fixed-height chart would squeeze them unreadable.
  box.style.height = `${Math.max(80, scores.length * 26 + 36)}px`;
  new Chart(canvas, {
    type: 'bar',
    data: {
      labels: scores.map((s) => s.label),
      datasets: [
        {
          data: scores.map((s) => s.score * 100),
          backgroundColor: scores.map((_, i) => (i === 0 ? BEST : BAR)),
          borderRadius: 3,
        },
      ],
    },
    options: {
      indexAxis: 'y',
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { min: 0, max: 100, ticks: { callback: (value) => `${value}%`, color: INK } },
        y: { ticks: { color: INK, autoSkip: false } },
      },
      plugins: { tooltip: { callbacks: { label: (item) => percent(Number(item.raw) / 100) } } },
    },
  });
  return box;
}

/** Light for the lowest value of the matrix, dark blue for the highest. */
function shade(value: number, low: number, high: number): string {
  const t = high > low ? (value - low) / (high - low) : 1;
  return `hsl(221 68% ${Math.round(94 - t * 62)}%)`;
}

interface Cell {
  x: string;
  y: string;
  v: number;
}

/**
 * Rows × columns of values as coloured cells; hovering a cell shows its row, column and value.
 * `columns` are short names for the axis (the caller shows the pictures themselves).
 */
export function heatmap(rows: string[], columns: string[], values: number[][]): HTMLElement {
  const flat = values.flat();
  const [low, high] = [Math.min(...flat), Math.max(...flat)];
  const cells: Cell[] = rows.flatMap((y, r) => columns.map((x, c) => ({ x, y, v: values[r]![c]! })));
  const canvas = h('canvas', {
    role: 'img',
    'aria-label': `Cosine similarities of ${rows.length} rows and ${columns.length} columns; the table below has the values.`,
  });
  const tip = h('div', { class: 'tip', role: 'tooltip', hidden: true });
  const box = h('div', { class: 'chart heatmap' }, canvas, tip);
  box.style.height = `${Math.max(120, rows.length * 44 + 60)}px`;
  const external = ({ chart, tooltip }: { chart: Chart; tooltip: TooltipModel<'matrix'> }) => {
    const cell = tooltip.dataPoints?.[0]?.raw as Cell | undefined;
    if (tooltip.opacity === 0 || !cell) {
      tip.hidden = true;
      return;
    }
    tip.hidden = false;
    tip.textContent = `${cell.y} × ${cell.x}: ${cell.v.toFixed(4)}`;
    tip.style.left = `${chart.canvas.offsetLeft + tooltip.caretX}px`;
    tip.style.top = `${chart.canvas.offsetTop + tooltip.caretY}px`;
  };
  new Chart(canvas, {
    type: 'matrix',
    data: {
      datasets: [
        {
          data: cells,
          backgroundColor: (context) => shade((context.raw as Cell).v, low, high),
          borderColor: '#fff',
          borderWidth: 1,
          width: ({ chart }) => (chart.chartArea?.width ?? 0) / columns.length - 2,
          height: ({ chart }) => (chart.chartArea?.height ?? 0) / rows.length - 2,
        },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { type: 'category', labels: columns, offset: true, grid: { display: false }, ticks: { color: INK } },
        y: { type: 'category', labels: rows, offset: true, grid: { display: false }, ticks: { color: INK, autoSkip: false } },
      },
      plugins: { tooltip: { enabled: false, external } },
    },
  });
  return box;
}
