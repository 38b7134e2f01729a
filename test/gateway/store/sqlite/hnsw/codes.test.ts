import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { VectorCodes } from '../../../../../gateway/store/sqlite/hnsw/codes';
import { cosine, seededRandom } from '../../../../helpers/tiny-clip';
import { gaussian, normalise } from '../../contract/fixtures';

/**
 * The 8-bit codes a graph keeps of its vectors (gateway/store/sqlite/hnsw/codes.ts): they rank
 * products as cosine similarity does (checked against it), survive a save and a load, and reuse
 * the slots of deleted products.
 */

const DIM = 64;

describe('VectorCodes', () => {
  const random = seededRandom(7);
  const vector = () => normalise(Float32Array.from({ length: DIM }, () => gaussian(random)));

  /** The n of `pks` nearest to `query` by cosine similarity, computed exactly. */
  function exactNearest(query: Float32Array, vectors: Map<number, Float32Array>, pks: number[], n: number): number[] {
    return pks
      .filter((pk) => vectors.has(pk))
      .map((pk) => ({ pk, similarity: cosine(query, vectors.get(pk)!) }))
      .sort((a, b) => b.similarity - a.similarity)
      .slice(0, n)
      .map((x) => x.pk);
  }

  function filled(count: number): { codes: VectorCodes; vectors: Map<number, Float32Array> } {
    const codes = VectorCodes.create(DIM, 8);
    const vectors = new Map<number, Float32Array>();
    for (let pk = 1; pk <= count; pk++) {
      vectors.set(pk, vector());
      codes.set(pk, vectors.get(pk)!);
    }
    return { codes, vectors };
  }

  it('ranks products as cosine similarity does, among the pks given, leaving out those without a code', () => {
    const { codes, vectors } = filled(2000);
    const pks = [...vectors.keys()].filter((pk) => pk % 3 !== 0).concat([5000, 6000]);
    for (let q = 0; q < 20; q++) {
      const query = vector();
      const ranked = codes.nearest(query, pks, 40);
      expect(ranked).toHaveLength(40);
      expect(ranked.every((pk) => pk % 3 !== 0 && vectors.has(pk))).toBe(true);
      // The 10 nearest by exact cosine are among the 40 the codes rank first.
      expect(ranked).toEqual(expect.arrayContaining(exactNearest(query, vectors, pks, 10)));
      // Ranked most similar first, by the exact similarity up to the codes' error.
      const similarities = ranked.map((pk) => cosine(query, vectors.get(pk)!));
      let worst = 0;
      for (let i = 1; i < similarities.length; i++) worst = Math.max(worst, similarities[i] - similarities[i - 1]);
      expect(worst).toBeLessThan(0.005);
    }
  });

  it('gives fewer than asked when fewer of the pks have a code, and none for an empty list', () => {
    const { codes } = filled(5);
    expect(codes.nearest(vector(), [1, 2, 9], 10).sort()).toEqual([1, 2]);
    expect(codes.nearest(vector(), [], 10)).toEqual([]);
  });

  it('replaces a code when a vector is set again, and forgets a deleted one (its slot reused)', () => {
    const { codes, vectors } = filled(100);
    const query = vector();
    codes.set(7, query);
    expect(codes.nearest(query, [...vectors.keys()], 1)).toEqual([7]);
    codes.delete(7);
    expect(codes.has(7)).toBe(false);
    expect(codes.nearest(query, [7], 1)).toEqual([]);
    codes.set(1000, query);
    expect(codes.has(1000)).toBe(true);
    expect(codes.nearest(query, [...vectors.keys(), 1000], 1)).toEqual([1000]);
  });

  it('loads what it saved, code for code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codes-'));
    try {
      const { codes, vectors } = filled(5000);
      for (let pk = 10; pk < 20; pk++) codes.delete(pk);
      await codes.save(join(dir, 'codes.bin'));
      const loaded = await VectorCodes.load(join(dir, 'codes.bin'), DIM);
      const pks = [...vectors.keys()];
      for (let q = 0; q < 5; q++) {
        const query = vector();
        expect(loaded.nearest(query, pks, 50)).toEqual(codes.nearest(query, pks, 50));
      }
      for (let pk = 10; pk < 20; pk++) expect(loaded.has(pk)).toBe(false);
      expect(loaded.has(20)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not whole codes, and pks it cannot hold, saying which', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codes-'));
    try {
      writeFileSync(join(dir, 'codes.bin'), Buffer.alloc(8 + DIM + 1));
      await expect(VectorCodes.load(join(dir, 'codes.bin'), DIM)).rejects.toThrow(`is not a whole number of ${DIM}-value codes`);
      const codes = VectorCodes.create(DIM, 1);
      expect(() => codes.set(0, vector())).toThrow('pk must be an integer in [1, 2^31), got 0');
      expect(() => codes.set(2 ** 31, vector())).toThrow('got 2147483648');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
