/** The contract's image vectors: per model, by content hash, checked before anything is written. */
import { StoreError, type CatalogueStore, type VectorModel } from '../../../../gateway/store';
import { codeOf, hash, MODEL_A, MODEL_A_Q8, MODEL_B, vec, type Subject } from './fixtures';

export function imageVectorsContract(subject: Subject): void {
  describe('image vectors', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });
    it('keeps vectors of two models with different dims side by side', async () => {
      await store.putImageVectors(MODEL_A, [
        { hash: hash('1'), vector: vec(1, 2, 3, 4) },
        { hash: hash('2'), vector: vec(0.5, -0.25, 0, 1e-7) },
      ]);
      await store.putImageVectors(MODEL_B, [{ hash: hash('1'), vector: vec(8, 7, 6, 5, 4, 3, 2, 1) }]);
      await store.putImageVectors(MODEL_A_Q8, [{ hash: hash('1'), vector: vec(-1, -1, -1, -1) }]);

      const a = await store.getImageVectors(MODEL_A, [hash('1'), hash('2'), hash('3')]);
      expect([...a.keys()].sort()).toEqual([hash('1'), hash('2')].sort());
      expect(a.get(hash('1'))).toEqual(vec(1, 2, 3, 4));
      expect(a.get(hash('2'))).toEqual(vec(0.5, -0.25, 0, 1e-7));
      const b = await store.getImageVectors(MODEL_B, [hash('1'), hash('2')]);
      expect([...b.keys()]).toEqual([hash('1')]);
      expect(b.get(hash('1'))).toEqual(vec(8, 7, 6, 5, 4, 3, 2, 1));
      const q8 = await store.getImageVectors(MODEL_A_Q8, [hash('1')]);
      expect(q8.get(hash('1'))).toEqual(vec(-1, -1, -1, -1));
    });

    it('replaces a hash already stored', async () => {
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(4, 3, 2, 1) }]);
      const got = await store.getImageVectors(MODEL_A, [hash('1')]);
      expect(got.size).toBe(1);
      expect(got.get(hash('1'))).toEqual(vec(4, 3, 2, 1));
    });

    it('answers an empty map for a model never used and for no hashes', async () => {
      expect((await store.getImageVectors({ name: 'never', dim: 3, dtype: 'fp32' }, [hash('1')])).size).toBe(0);
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
      expect((await store.getImageVectors(MODEL_A, [])).size).toBe(0);
    });

    it('refuses a vector of the wrong length with DIMENSION_MISMATCH and writes nothing of the batch', async () => {
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
      let error: unknown;
      try {
        await store.putImageVectors(MODEL_A, [
          { hash: hash('1'), vector: vec(9, 9, 9, 9) },
          { hash: hash('2'), vector: vec(1, 2, 3, 4) },
          { hash: hash('3'), vector: vec(1, 2, 3) },
        ]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('DIMENSION_MISMATCH');
      expect((error as StoreError).message).toContain('clip-a');
      expect((error as StoreError).message).toContain('4');
      expect((error as StoreError).message).toContain('3');
      const got = await store.getImageVectors(MODEL_A, [hash('1'), hash('2'), hash('3')]);
      expect([...got.keys()]).toEqual([hash('1')]);
      expect(got.get(hash('1'))).toEqual(vec(1, 2, 3, 4));
    });

    it('refuses a model whose dim differs from the one its key was first stored with', async () => {
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
      const resized: VectorModel = { ...MODEL_A, dim: 5 };
      expect(await codeOf(store.putImageVectors(resized, [{ hash: hash('2'), vector: vec(1, 2, 3, 4, 5) }]))).toBe('DIMENSION_MISMATCH');
      expect((await store.getImageVectors(MODEL_A, [hash('2')])).size).toBe(0);
    });
  });
}
