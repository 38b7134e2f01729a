// A taxonomy tree's tagging cost: Shopify's whole Standard Product Taxonomy (the shipped 2025-08
// file, 10,595 categories) tagging 10,000 products top-down at beams of 1, 5 and 20. Node and
// product vectors are seeded random unit vectors of 512 dimensions (ViT-B/32's): what a tag costs
// does not depend on what the vectors mean, only on the tree's shape and the beam (which nodes the
// beam opens depends on the scores, so random vectors open as many as any). Embedding the nodes'
// prompts is the model's cost and is measured with the model, not here.
//
// Part of the catalogue's section (benchTree), or alone: `node dist/bench/catalogue/tree.js
// [--products N] [--rounds R]` after `npm run build`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { check, positiveInt } from '../../functions/options';
import { leavesOf, matrixProduct, parseShopifyCategories, treePrompts, TreeTagger } from '../../gateway/catalogue';
import { fmt, fmtSpread, processMemory, ROOT, seeded, spread, type Spread } from '../lib';
import { progress, type CatalogueBenchOptions, type Target } from './options';

const DIMENSION = 512;
const WIDTHS = [1, 5, 20];
const CATEGORIES = join(ROOT, 'taxonomies', 'shopify-2025-08', 'categories.txt');
/** What the tree must do at the default beam, as BENCHMARKS.md's targets state it. */
const TARGET_SECONDS = 15;
/** Memory that tagging adds to the process at its peak (the tree's own vectors and the products' are there before). */
const TARGET_ADDED_RSS_MIB = 256;

interface WidthFigures {
  width: number;
  seconds: Spread;
  /** CPU time of the process (every thread, ONNX Runtime's too) per round: steadier than wall time on a shared machine. */
  cpuSeconds: Spread;
  /** The process's peak resident memory while this width tagged (VmHWM, reset before). */
  peakRssBytes: number;
  /** Resident memory just before this width tagged: the peak less this is what tagging added. */
  rssBeforeBytes: number;
  /** Products whose leaf is the flat best leaf (the highest similarity among all leaves). */
  flatAgreement: number;
}

export interface TreeFigures {
  products: number;
  nodes: number;
  leaves: number;
  levels: number[];
  prompts: number;
  parseMs: Spread;
  promptsMs: number;
  layoutMs: number;
  /** The matrix products alone, in tagMany's batches: the share of a tag that is similarities. */
  similaritiesSeconds: Spread;
  similaritiesCpuSeconds: Spread;
  widths: WidthFigures[];
  peakRssBytes: number;
  /** Whether the peak could be reset between phases (/proc/self/clear_refs); if not, each phase's peak is the process's so far. */
  peakPerPhase: boolean;
}

/** Resets the process's peak resident memory (VmHWM) to its current size, so that the next reading is one phase's peak. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

function unitVectors(count: number, random: () => number): Float32Array[] {
  // Box–Muller normals, then scaled to unit length: directions uniform on the sphere.
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: count }, () => {
    const v = Float32Array.from({ length: DIMENSION }, normal);
    const norm = Math.hypot(...v);
    for (let i = 0; i < DIMENSION; i++) v[i] /= norm;
    return v;
  });
}

export async function treeTagging(products: number, rounds: number): Promise<TreeFigures> {
  const text = readFileSync(CATEGORIES, 'utf8');
  const parseTimes: number[] = [];
  let tree = parseShopifyCategories(text);
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    tree = parseShopifyCategories(text);
    parseTimes.push(performance.now() - t0);
  }
  const p0 = performance.now();
  const prompts = treePrompts(tree);
  const promptsMs = performance.now() - p0;
  const levels: number[] = [];
  for (const node of tree.nodes) levels[node.depth - 1] = (levels[node.depth - 1] ?? 0) + 1;
  const leaves = leavesOf(tree);

  const random = seeded(2027);
  const nodeVectors = unitVectors(tree.nodes.length, random);
  const productVectors = unitVectors(products, random);
  progress(`tree: ${tree.nodes.length} nodes, ${products} products of ${DIMENSION} dimensions`);

  const l0 = performance.now();
  const layout = new TreeTagger(tree, nodeVectors, { logitScale: 100 });
  const layoutMs = performance.now() - l0;

  // The similarities alone, batched as tagMany batches them, and the flat best leaf of each
  // product from them (every node has a vector here, so columns are node indices).
  const batch = layout.batchSize;
  const labels = new Float32Array(DIMENSION * tree.nodes.length);
  nodeVectors.forEach((v, n) => v.forEach((x, d) => (labels[d * tree.nodes.length + n] = x)));
  const similaritiesOf = async (from: number, rows: number) => {
    const a = new Float32Array(rows * DIMENSION);
    for (let p = 0; p < rows; p++) a.set(productVectors[from + p], p * DIMENSION);
    return matrixProduct(a, rows, labels, DIMENSION, tree.nodes.length);
  };
  // A first pass, not timed (it loads ONNX Runtime): the flat best leaf of each product.
  const flat = new Int32Array(products);
  for (let from = 0; from < products; from += batch) {
    const rows = Math.min(batch, products - from);
    const similarities = await similaritiesOf(from, rows);
    for (let p = 0; p < rows; p++) {
      const row = p * tree.nodes.length;
      let best = leaves[0];
      for (const leaf of leaves) if (similarities[row + leaf] > similarities[row + best]) best = leaf;
      flat[from + p] = best;
    }
  }
  const similarityTimes: number[] = [];
  const similarityCpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let from = 0; from < products; from += batch) await similaritiesOf(from, Math.min(batch, products - from));
    similarityCpu.push(cpuSecondsSince(c0));
    similarityTimes.push((performance.now() - t0) / 1000);
  }
  progress(`tree: similarities ${fmt(spread(similarityTimes).median, 2)} s`);

  // The walk's code warmed up by the JIT before any width is timed, or the first would pay for it.
  await layout.tagMany(productVectors.slice(0, 4 * batch));
  const widths: WidthFigures[] = [];
  let peakPerPhase = true;
  for (const width of WIDTHS) {
    const tagger = new TreeTagger(tree, nodeVectors, { logitScale: 100, beamWidth: width });
    peakPerPhase = resetPeak() && peakPerPhase;
    const rssBeforeBytes = process.memoryUsage().rss;
    const times: number[] = [];
    const cpu: number[] = [];
    let agree = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const tags = await tagger.tagMany(productVectors);
      cpu.push(cpuSecondsSince(c0));
      times.push((performance.now() - t0) / 1000);
      if (r === 0) agree = tags.filter((tag, p) => tag.leaf === flat[p]).length;
    }
    widths.push({
      width,
      seconds: spread(times),
      cpuSeconds: spread(cpu),
      rssBeforeBytes,
      peakRssBytes: processMemory(process.pid).peakRssBytes,
      flatAgreement: agree / products,
    });
    progress(`tree: beam ${width}: ${fmt(spread(times).median, 2)} s`);
  }
  return {
    products,
    nodes: tree.nodes.length,
    leaves: leaves.length,
    levels,
    prompts: prompts.texts.length,
    parseMs: spread(parseTimes),
    promptsMs,
    layoutMs,
    similaritiesSeconds: spread(similarityTimes),
    similaritiesCpuSeconds: spread(similarityCpu),
    widths,
    peakRssBytes: Math.max(...widths.map((w) => w.peakRssBytes)),
    peakPerPhase,
  };
}

export function reportTree(say: (line?: string) => void, targets: Target[], figures: TreeFigures): void {
  const { products, nodes, leaves, levels, widths, similaritiesSeconds } = figures;
  const mib = (bytes: number) => fmt(bytes / 2 ** 20, 0);
  const n = (value: number) => value.toLocaleString('en');
  say(`### 6.5 A taxonomy tree: Shopify's categories, top-down with a beam`);
  say();
  say(
    `Shopify's Standard Product Taxonomy 2025-08 (\`taxonomies/shopify-2025-08/categories.txt\`): ${n(nodes)} categories, ${n(leaves)} of them leaves, levels of ${levels.map(n).join(' / ')}. Read and checked in ${fmtSpread(figures.parseMs, 0)} ms (\`parseShopifyCategories\`, ${figures.parseMs.runs} runs); its prompts with the default template and context, ${n(figures.prompts)} distinct texts, listed in ${fmt(figures.promptsMs, 0)} ms (embedding them is the model's cost, not measured here). ${n(products)} products tagged by \`TreeTagger.tagMany\` (batches of 512, one matrix product each, then the bottom-up maximum and the beam per product in typed arrays); node and product vectors are seeded random unit vectors of ${DIMENSION} dimensions, since what a tag costs does not depend on what they mean. Laying the tree out for tagging took ${fmt(figures.layoutMs, 0)} ms. Medians of ${similaritiesSeconds.runs} rounds, (min–max).`,
  );
  say();
  say(
    `| beam width | tagging ${n(products)} products, s | products/s | CPU s | of which similarities (matrix products): s, CPU s | the tree walk: s, CPU s | peak RSS, MiB (added by tagging) | leaf = flat best leaf |`,
  );
  say(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  const cpuMatrix = figures.similaritiesCpuSeconds.median;
  for (const w of widths) {
    say(
      `| ${w.width} | ${fmtSpread(w.seconds, 2)} | ${n(Math.round(products / w.seconds.median))} | ${fmt(w.cpuSeconds.median, 2)} | ${fmt(similaritiesSeconds.median, 2)}, ${fmt(cpuMatrix, 2)} | ${fmt(w.seconds.median - similaritiesSeconds.median, 2)}, ${fmt(w.cpuSeconds.median - cpuMatrix, 2)} | ${mib(w.peakRssBytes)} (+${mib(w.peakRssBytes - w.rssBeforeBytes)}) | ${fmt(w.flatAgreement * 100, 1)}% |`,
    );
  }
  say();
  say(
    `The tree walk is the bottom-up pass (every node's effective similarity, twice ${n(nodes)} steps a product) plus the beam and the tag's path; a beam of 1 is nearly the bottom-up pass alone. Peak RSS is the process's (VmHWM${figures.peakPerPhase ? ', reset before each width' : ', since the start: /proc/self/clear_refs was not writable'}), with Node, ONNX Runtime, the tree, the node and product vectors and the bench's own copy of the similarities' right-hand side already in it; in brackets, how far above the resident memory just before that width it went: the tagger's layout (a 512 × nodes float32 matrix, 22 MB), one batch's similarities (22 MB) and the tags. On random vectors the coarse nodes' own similarities are noise, so a narrow beam follows them away from the best leaf more often than real prompts would; a beam as wide as the tree always gives it.`,
  );
  say();
  const at5 = widths.find((w) => w.width === 5)!;
  // The first width run allocates the tagger's layout and buffers, which later widths reuse: what
  // tagging adds is the most any width added, not beam 5's own share.
  const added = Math.max(...widths.map((w) => w.peakRssBytes - w.rssBeforeBytes));
  targets.push([
    `catalogue: tree, ${n(products)} products × Shopify's ${n(nodes)} categories at beam 5 (≤ ${TARGET_SECONDS} s, tagging adding ≤ ${TARGET_ADDED_RSS_MIB} MiB to the process at its peak)`,
    `${fmt(at5.seconds.median, 2)} s, +${mib(added)} MiB (peak ${mib(figures.peakRssBytes)} MiB)`,
    at5.seconds.median <= TARGET_SECONDS && added <= TARGET_ADDED_RSS_MIB * 2 ** 20,
  ]);
}

/** The tree's part of the catalogue's section. */
export async function benchTree(options: CatalogueBenchOptions): Promise<void> {
  reportTree(options.say, options.targets, await treeTagging(10_000, options.rounds));
}

if (require.main === module) {
  const { values } = parseArgs({ options: { products: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '3' } } });
  const products = check('--products', Number(values.products), positiveInt);
  const rounds = check('--rounds', Number(values.rounds), positiveInt);
  const say = (line = '') => process.stdout.write(`${line}\n`);
  const targets: Target[] = [];
  treeTagging(products, rounds).then(
    (figures) => {
      reportTree(say, targets, figures);
      for (const [what, value, met] of targets) say(`| ${what} | ${value} | ${met ? 'yes' : 'no'} |`);
    },
    (error: unknown) => {
      process.stderr.write(`bench tree: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
