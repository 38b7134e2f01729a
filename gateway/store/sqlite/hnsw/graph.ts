import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HierarchicalNSW } from 'hnswlib-node';

import { VectorCodes } from './codes';

/**
 * One model's HNSW graph (hnswlib through hnswlib-node) over its product vectors, labelled by the
 * products' integer keys (pk). hnswlib marks a deleted element rather than removing it, and may
 * reuse its slot for a new label; it cannot say whether a label is live without copying its vector
 * out, so which labels are live or deleted is kept here too, one byte a pk, and saved with the graph.
 * So is an 8-bit code of each live vector (codes.ts), for ranking many products at once.
 */

/** How the graph is built: hnswlib's M (links per node) and efConstruction (the build's beam width). */
export interface GraphShape {
  m: number;
  efConstruction: number;
}

const ABSENT = 0;
const LIVE = 1;
const DELETED = 2;

/** The graph file and its labels' states inside an index directory. */
const GRAPH_FILE = 'graph.hnsw';
const LABELS_FILE = 'labels.bin';
const CODES_FILE = 'codes.bin';

/** A neighbour as the graph ranks it: the product's pk and 1 - cosine similarity (the vectors are unit length). */
export interface GraphHit {
  pk: number;
  distance: number;
}

export class Graph {
  private constructor(
    private readonly index: HierarchicalNSW,
    readonly dim: number,
    private labels: Uint8Array,
    private readonly codes: VectorCodes,
    /** Live elements: products whose vector the graph holds. */
    public size: number,
  ) {}

  /** An empty graph with room for `capacity` vectors (it grows as needed). */
  static create(dim: number, capacity: number, shape: GraphShape): Graph {
    // Inner product: the vectors are unit length, so it ranks as cosine does, without normalising each one again.
    const index = new HierarchicalNSW('ip', dim);
    // Seed fixed: two builds of the same vectors in the same order make the same graph.
    index.initIndex({
      maxElements: Math.max(16, capacity),
      m: shape.m,
      efConstruction: shape.efConstruction,
      randomSeed: 100,
      allowReplaceDeleted: true,
    });
    return new Graph(index, dim, new Uint8Array(Math.max(16, capacity)), VectorCodes.create(dim, capacity), 0);
  }

  /**
   * The graph saved in `dir` by save(). A save made before graphs kept codes has none: they are made
   * from the graph's vectors (about half a minute a million), or, with `codes: 'saved'`, it is refused.
   */
  static async load(dir: string, dim: number, codes: 'saved' | 'saved or made' = 'saved or made'): Promise<Graph> {
    if (codes === 'saved' && !existsSync(join(dir, CODES_FILE))) throw new Error(`the graph in ${dir} was saved without codes`);
    const index = new HierarchicalNSW('ip', dim);
    // hnswlib reads the file on a thread of libuv's pool: the event loop stays free meanwhile.
    await index.readIndex(join(dir, GRAPH_FILE), true);
    if (index.getNumDimensions() !== dim)
      throw new Error(`the graph in ${dir} holds vectors of ${index.getNumDimensions()} values, not ${dim}`);
    const labels = new Uint8Array(await readFile(join(dir, LABELS_FILE)));
    let size = 0;
    for (const state of labels) if (state === LIVE) size++;
    const codesFile = join(dir, CODES_FILE);
    let kept: VectorCodes;
    if (existsSync(codesFile)) kept = await VectorCodes.load(codesFile, dim);
    else {
      // Saved before the graph kept codes: made from its own vectors (~36 µs each), far cheaper than a rebuild.
      kept = VectorCodes.create(dim, size);
      for (let pk = 0; pk < labels.length; pk++) if (labels[pk] === LIVE) kept.set(pk, index.getPoint(pk));
    }
    return new Graph(index, dim, labels, kept, size);
  }

  /** Writes the graph and its labels' states into `dir` (which must exist). */
  async save(dir: string): Promise<void> {
    await this.index.writeIndex(join(dir, GRAPH_FILE));
    await writeFile(join(dir, LABELS_FILE), this.labels);
    await this.codes.save(join(dir, CODES_FILE));
  }

  /** Adds the product's vector, or replaces the one it had. */
  upsert(pk: number, vector: Float32Array): void {
    const point = Array.from(vector);
    this.codes.set(pk, vector);
    const state = this.stateOf(pk);
    if (state === LIVE) {
      this.index.addPoint(point, pk);
      return;
    }
    if (state === DELETED) {
      // hnswlib updates a deleted element only once it is live again.
      this.index.unmarkDelete(pk);
      this.index.addPoint(point, pk);
    } else {
      if (this.index.getCurrentCount() >= this.index.getMaxElements()) {
        this.index.resizeIndex(Math.ceil(this.index.getMaxElements() * 1.5));
      }
      // A new label takes a deleted element's place when there is one.
      this.index.addPoint(point, pk, true);
    }
    this.setState(pk, LIVE);
    this.size++;
  }

  /** Removes the product's vector, if the graph holds one. */
  remove(pk: number): void {
    if (this.stateOf(pk) !== LIVE) return;
    this.index.markDelete(pk);
    this.codes.delete(pk);
    this.setState(pk, DELETED);
    this.size--;
  }

  /**
   * Up to k nearest live elements (fewer when fewer match or the search's beam, `ef`, found fewer),
   * nearest first; `allowed` limits them to the pks it accepts.
   */
  search(query: Float32Array, k: number, ef: number, allowed?: (pk: number) => boolean): GraphHit[] {
    if (this.size === 0 || k === 0) return [];
    this.index.setEf(Math.max(ef, k));
    const found = this.index.searchKnn(Array.from(query), Math.min(k, this.index.getMaxElements()), allowed);
    return found.neighbors.map((pk, i) => ({ pk, distance: found.distances[i] }));
  }

  /**
   * The cosine distance (1 - cosine similarity) of `query` to each of these products' vectors as
   * the graph holds them, computed in double precision; products it does not hold are left out.
   * The graph holds exactly the store's vectors once caught up, and reads them from memory, where
   * the store reads each from its vec0 table's chunk (slow once the file outgrows the memory map).
   */
  distances(query: Float32Array, pks: readonly number[]): { pk: number; distance: number }[] {
    let qq = 0;
    for (let d = 0; d < query.length; d++) qq += query[d] * query[d];
    const out: { pk: number; distance: number }[] = [];
    for (const pk of pks) {
      if (this.stateOf(pk) !== LIVE) continue;
      const v = this.index.getPoint(pk);
      let dot = 0;
      let vv = 0;
      for (let d = 0; d < v.length; d++) {
        dot += query[d] * v[d];
        vv += v[d] * v[d];
      }
      out.push({ pk, distance: 1 - dot / Math.sqrt(qq * vv) });
    }
    return out;
  }

  /**
   * The `n` of these products whose vectors' codes rank nearest to the query (nearest first; those
   * the graph does not hold left out): candidates to score exactly with distances().
   */
  nearestByCode(query: Float32Array, pks: readonly number[], n: number): number[] {
    return this.codes.nearest(query, pks, n);
  }

  private stateOf(pk: number): number {
    return pk < this.labels.length ? this.labels[pk] : ABSENT;
  }

  private setState(pk: number, state: number): void {
    if (pk >= this.labels.length) {
      const grown = new Uint8Array(Math.max(pk + 1, this.labels.length * 2));
      grown.set(this.labels);
      this.labels = grown;
    }
    this.labels[pk] = state;
  }
}
