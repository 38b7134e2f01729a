import { open, readFile } from 'node:fs/promises';

/** Codes written to a file at a time. */
const SAVE_BLOCK = 4096;

/**
 * An 8-bit copy of a graph's vectors (dim bytes and one factor each, about 0.5 GiB a million at
 * 512 dims), kept beside it: what a search under a selective filter ranks every matching product
 * by before the best few are scored exactly. hnswlib hands a stored vector out only as a plain
 * array, some 36 µs each at 512 dims, so exactly scoring ten thousand products (1% of a million)
 * would take a third of a second; ranking their codes takes a few milliseconds and agrees with the
 * exact order to within about 1e-3 of cosine similarity.
 *
 * Each vector is scaled so that its largest value becomes ±127 and rounded; `factors` turns a dot
 * product with the code back into cosine similarity (1 / (scale × the vector's norm)).
 */
export class VectorCodes {
  private constructor(
    readonly dim: number,
    /** pk → slot + 1 (0: none). */
    private slotOf: Int32Array,
    private codes: Int8Array,
    private factors: Float32Array,
    private free: number[],
    private used: number,
  ) {}

  static create(dim: number, capacity: number): VectorCodes {
    const slots = Math.max(16, capacity);
    return new VectorCodes(dim, new Int32Array(slots + 1), new Int8Array(slots * dim), new Float32Array(slots), [], 0);
  }

  /** Sets the code of `pk` from its vector. */
  set(pk: number, vector: ArrayLike<number>): void {
    if (!Number.isInteger(pk) || pk <= 0 || pk >= 2 ** 31)
      throw new RangeError(`a vector code's pk must be an integer in [1, 2^31), got ${pk}`);
    let slot = this.slotAt(pk);
    if (slot < 0) {
      slot = this.free.pop() ?? this.used++;
      if (slot >= this.factors.length) this.grow(Math.ceil(this.factors.length * 1.5));
      this.assign(pk, slot);
    }
    const { dim } = this;
    let largest = 0;
    let squares = 0;
    for (let d = 0; d < dim; d++) {
      const v = vector[d];
      largest = Math.max(largest, Math.abs(v));
      squares += v * v;
    }
    const scale = largest === 0 ? 0 : 127 / largest;
    const base = slot * dim;
    for (let d = 0; d < dim; d++) this.codes[base + d] = Math.round(vector[d] * scale);
    this.factors[slot] = scale === 0 ? 0 : 1 / (scale * Math.sqrt(squares));
  }

  delete(pk: number): void {
    const slot = this.slotAt(pk);
    if (slot < 0) return;
    this.slotOf[pk] = 0;
    this.free.push(slot);
  }

  has(pk: number): boolean {
    return this.slotAt(pk) >= 0;
  }

  /**
   * The `n` of these products (those with a code) whose codes are most similar to `query`, most
   * similar first: an estimate of cosine similarity's order, not its values (the query is not normalised).
   */
  nearest(query: Float32Array, pks: readonly number[], n: number): number[] {
    const { dim, codes, factors } = this;
    // The best n so far, kept sorted by descending similarity: most products fail the first comparison.
    const best: { pk: number; similarity: number }[] = [];
    let floor = -Infinity;
    for (const pk of pks) {
      const slot = this.slotAt(pk);
      if (slot < 0) continue;
      const base = slot * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += query[d] * codes[base + d];
      const similarity = dot * factors[slot];
      if (best.length === n && similarity <= floor) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].similarity < similarity) at--;
      best.splice(at, 0, { pk, similarity });
      if (best.length > n) best.pop();
      if (best.length === n) floor = best[n - 1].similarity;
    }
    return best.map((b) => b.pk);
  }

  /** Writes the codes to `path`: for each pk in ascending order, the pk (int32), its factor (float32), its code. */
  async save(path: string): Promise<void> {
    const { dim } = this;
    const record = 8 + dim;
    // Written a block at a time: the whole would be another half gigabyte a million.
    const block = Buffer.alloc(SAVE_BLOCK * record);
    const file = await open(path, 'w');
    try {
      let filled = 0;
      for (let pk = 0; pk < this.slotOf.length; pk++) {
        const slot = this.slotOf[pk] - 1;
        if (slot < 0) continue;
        block.writeInt32LE(pk, filled * record);
        block.writeFloatLE(this.factors[slot], filled * record + 4);
        block.set(new Uint8Array(this.codes.buffer, slot * dim, dim), filled * record + 8);
        if (++filled === SAVE_BLOCK) {
          await file.write(block);
          filled = 0;
        }
      }
      await file.write(block.subarray(0, filled * record));
    } finally {
      await file.close();
    }
  }

  /** The codes saved by save(), in slots 0, 1, ... in pk order. */
  static async load(path: string, dim: number): Promise<VectorCodes> {
    const bytes = await readFile(path);
    const record = 8 + dim;
    if (bytes.length % record !== 0) throw new Error(`${path} is not a whole number of ${dim}-value codes`);
    const count = bytes.length / record;
    const codes = VectorCodes.create(dim, count);
    for (let i = 0; i < count; i++) {
      const pk = bytes.readInt32LE(i * record);
      if (pk <= 0) throw new Error(`${path} holds a code for pk ${pk}`);
      if (codes.has(pk)) throw new Error(`${path} holds two codes for pk ${pk}`);
      codes.assign(pk, i);
      codes.factors[i] = bytes.readFloatLE(i * record + 4);
      codes.codes.set(new Int8Array(bytes.buffer, bytes.byteOffset + i * record + 8, dim), i * dim);
    }
    codes.used = count;
    return codes;
  }

  private slotAt(pk: number): number {
    return pk > 0 && pk < this.slotOf.length ? this.slotOf[pk] - 1 : -1;
  }

  /** Gives `pk` the slot, growing the pk map to hold it. */
  private assign(pk: number, slot: number): void {
    if (pk >= this.slotOf.length) {
      const grown = new Int32Array(Math.max(pk + 1, this.slotOf.length * 2));
      grown.set(this.slotOf);
      this.slotOf = grown;
    }
    this.slotOf[pk] = slot + 1;
  }

  private grow(slots: number): void {
    const codes = new Int8Array(slots * this.dim);
    codes.set(this.codes);
    this.codes = codes;
    const factors = new Float32Array(slots);
    factors.set(this.factors);
    this.factors = factors;
  }
}
