// The synthetic catalogue: clustered unit vectors, kept in memory for the exact answers.
import { seeded } from '../lib';
import type { ProductFilter } from '../../gateway/store';

export const DIM = 512;
export const K = 20;
export const CLUSTERS = 1000;
/** Noise norm relative to a centre's: cos(product, its centre) ≈ 0.78, as for photos of one kind of product. */
export const NOISE = 0.8;
/** One product in BRANDS carries each brand: a filter on one brand matches 10%. */
export const BRANDS = 10;
export const FILTER: ProductFilter = { attributes: { brand: 'b3' } };
export const inFilter = (i: number) => i % BRANDS === 3;
/** One product in SHELVES stands on each shelf: a filter on one shelf matches 1%. */
export const SHELVES = 100;
export const RARE_FILTER: ProductFilter = { attributes: { shelf: 's37' } };
export const inRareFilter = (i: number) => i % SHELVES === 37;
/** Facet and labels of the synthetic tags that labelTopProducts reads. */
export const TAG_FACET = 'category';
export const TAG_LABELS = 50;

export class ClusteredVectors {
  readonly vectors: Float32Array;
  readonly clusters: Uint16Array;
  private readonly centres: Float32Array;
  /** Standard normal samples drawn once: indexing them is ~20× cheaper than Box–Muller per value. */
  private readonly normal = new Float32Array(1 << 16);
  private readonly random: () => number;
  count = 0;

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    this.random = seeded(seed);
    for (let i = 0; i < this.normal.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.random()));
      const a = 2 * Math.PI * this.random();
      this.normal[i] = r * Math.cos(a);
      this.normal[i + 1] = r * Math.sin(a);
    }
    this.vectors = new Float32Array(capacity * DIM);
    this.clusters = new Uint16Array(capacity);
    this.centres = new Float32Array(CLUSTERS * DIM);
    for (let c = 0; c < CLUSTERS; c++) {
      const centre = this.centres.subarray(c * DIM, (c + 1) * DIM);
      for (let d = 0; d < DIM; d++) centre[d] = this.gauss();
      unit(centre);
    }
  }

  private gauss(): number {
    return this.normal[(this.random() * 65536) | 0];
  }

  /** A vector near cluster c, written into `out`. */
  private near(c: number, out: Float32Array): Float32Array {
    const scale = NOISE / Math.sqrt(DIM);
    const base = c * DIM;
    for (let d = 0; d < DIM; d++) out[d] = this.centres[base + d] + scale * this.gauss();
    return unit(out);
  }

  /** Makes products up to `n` (the first ones stay as they are, so every size holds the smaller ones). */
  grow(n: number): void {
    for (let i = this.count; i < n; i++) {
      const c = (this.random() * CLUSTERS) | 0;
      this.clusters[i] = c;
      this.near(c, this.vectors.subarray(i * DIM, (i + 1) * DIM));
    }
    this.count = Math.max(this.count, n);
  }

  vector(i: number): Float32Array {
    return this.vectors.subarray(i * DIM, (i + 1) * DIM);
  }

  /** Query vectors near random clusters: never a stored vector itself. */
  queries(count: number, seed: number): Float32Array[] {
    const random = seeded(seed);
    return Array.from({ length: count }, () => this.near((random() * CLUSTERS) | 0, new Float32Array(DIM)));
  }

  /** The exact k nearest among the first n products (cosine: dot products of unit vectors), by brute force. */
  exact(queries: Float32Array[], n: number, k: number, accept: (i: number) => boolean = () => true): number[][] {
    const best = queries.map(() => ({ index: new Int32Array(k).fill(-1), score: new Float64Array(k).fill(-Infinity) }));
    const v = this.vectors;
    for (let i = 0; i < n; i++) {
      if (!accept(i)) continue;
      const base = i * DIM;
      for (let q = 0; q < queries.length; q++) {
        const query = queries[q];
        let dot = 0;
        for (let d = 0; d < DIM; d++) dot += query[d] * v[base + d];
        const top = best[q];
        if (dot <= top.score[k - 1]) continue;
        let j = k - 1;
        while (j > 0 && top.score[j - 1] < dot) {
          top.score[j] = top.score[j - 1];
          top.index[j] = top.index[j - 1];
          j--;
        }
        top.score[j] = dot;
        top.index[j] = i;
      }
    }
    return best.map((b) => [...b.index].filter((i) => i >= 0));
  }
}

export function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (let d = 0; d < v.length; d++) norm += v[d] * v[d];
  norm = Math.sqrt(norm);
  for (let d = 0; d < v.length; d++) v[d] /= norm;
  return v;
}
