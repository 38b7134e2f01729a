/** The contract's label vectors: per model and exact prompt text, read back bitwise, any number of texts. */
import { StoreError, type CatalogueStore, type VectorModel } from '../../../../gateway/store';
import { codeOf, hash, MODEL_A, MODEL_A_Q8, MODEL_B, vec, type OpenedStore, type Subject } from './fixtures';

/** More texts than either engine binds parameters in one statement (SQLite 32,766; PostgreSQL 65,535). */
const PAST_PARAMETER_LIMITS = 66_000;

/** The float32 bytes of a vector: equal bytes are equal vectors, -0 and NaN payloads included. */
function bytesOf(vector: Float32Array | undefined): string | undefined {
  return vector && Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('hex');
}

export function labelVectorsContract(subject: Subject): void {
  describe('label vectors', () => {
    let store: CatalogueStore;
    let opened: OpenedStore;
    beforeEach(() => {
      store = subject.store;
      opened = subject.opened;
    });

    it('reads back bitwise what was written, by exact text, and leaves texts never stored out', async () => {
      const awkward = vec(0.1, -0, 1e-45, -3.4028234663852886e38);
      await store.putLabelVectors(MODEL_A, [
        { text: 'a photo of a red circle.', vector: vec(1, 2, 3, 4) },
        { text: 'a photo of a Red circle.', vector: awkward },
        { text: 'ein Foto von Schuhen, 👟', vector: vec(0, 0, 0, 0) },
      ]);
      const got = await store.getLabelVectors(MODEL_A, [
        'a photo of a red circle.',
        'a photo of a Red circle.',
        'a photo of a red circle. ',
        'ein Foto von Schuhen, 👟',
        'never stored',
        'a photo of a red circle.',
      ]);
      expect([...got.keys()].sort()).toEqual(['a photo of a Red circle.', 'a photo of a red circle.', 'ein Foto von Schuhen, 👟']);
      expect(got.get('a photo of a red circle.')).toEqual(vec(1, 2, 3, 4));
      expect(bytesOf(got.get('a photo of a Red circle.'))).toBe(bytesOf(awkward));
      expect(got.get('ein Foto von Schuhen, 👟')).toEqual(vec(0, 0, 0, 0));
    });

    it('keeps the same text of different models apart', async () => {
      const text = 'a photo of boots, a kind of shoes';
      await store.putLabelVectors(MODEL_A, [{ text, vector: vec(1, 0, 0, 0) }]);
      await store.putLabelVectors(MODEL_A_Q8, [{ text, vector: vec(0, 1, 0, 0) }]);
      await store.putLabelVectors(MODEL_B, [{ text, vector: vec(8, 7, 6, 5, 4, 3, 2, 1) }]);
      expect((await store.getLabelVectors(MODEL_A, [text])).get(text)).toEqual(vec(1, 0, 0, 0));
      expect((await store.getLabelVectors(MODEL_A_Q8, [text])).get(text)).toEqual(vec(0, 1, 0, 0));
      expect((await store.getLabelVectors(MODEL_B, [text])).get(text)).toEqual(vec(8, 7, 6, 5, 4, 3, 2, 1));
      expect((await store.getLabelVectors({ name: 'clip-c', dim: 4, dtype: 'fp32' }, [text])).size).toBe(0);
    });

    it('answers an empty map for no texts and for a model never used', async () => {
      expect((await store.getLabelVectors(MODEL_A, [])).size).toBe(0);
      expect((await store.getLabelVectors({ name: 'never', dim: 3, dtype: 'fp32' }, ['x'])).size).toBe(0);
      await store.putLabelVectors(MODEL_A, []);
      expect((await store.getLabelVectors(MODEL_A, ['x'])).size).toBe(0);
    });

    it('replaces a text already stored, and keeps the last of a text given twice', async () => {
      await store.putLabelVectors(MODEL_A, [{ text: 'a', vector: vec(1, 1, 1, 1) }]);
      await store.putLabelVectors(MODEL_A, [
        { text: 'a', vector: vec(2, 2, 2, 2) },
        { text: 'b', vector: vec(3, 3, 3, 3) },
        { text: 'a', vector: vec(4, 4, 4, 4) },
      ]);
      const got = await store.getLabelVectors(MODEL_A, ['a', 'b']);
      expect(got.get('a')).toEqual(vec(4, 4, 4, 4));
      expect(got.get('b')).toEqual(vec(3, 3, 3, 3));
    });

    it('refuses a vector of the wrong length with DIMENSION_MISMATCH naming the row, and writes nothing of the batch', async () => {
      let error: unknown;
      try {
        await store.putLabelVectors(MODEL_A, [
          { text: 'a', vector: vec(1, 2, 3, 4) },
          { text: 'b', vector: vec(1, 2, 3) },
        ]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('DIMENSION_MISMATCH');
      expect((error as StoreError).message).toContain('rows[1].vector');
      expect((error as StoreError).message).toContain('clip-a|fp32');
      expect((await store.getLabelVectors(MODEL_A, ['a', 'b'])).size).toBe(0);
    });

    it('refuses a model whose dim differs from the one its key holds label or image vectors of', async () => {
      await store.putLabelVectors(MODEL_A, [{ text: 'a', vector: vec(1, 2, 3, 4) }]);
      const resized: VectorModel = { ...MODEL_A, dim: 5 };
      expect(await codeOf(store.putLabelVectors(resized, [{ text: 'b', vector: vec(1, 2, 3, 4, 5) }]))).toBe('DIMENSION_MISMATCH');
      expect(await codeOf(store.getLabelVectors(resized, ['a']))).toBe('DIMENSION_MISMATCH');
      expect((await store.getLabelVectors(MODEL_A, ['a', 'b'])).size).toBe(1);

      await store.putImageVectors(MODEL_B, [{ hash: hash('1'), vector: vec(1, 2, 3, 4, 5, 6, 7, 8) }]);
      const shrunk: VectorModel = { ...MODEL_B, dim: 4 };
      expect(await codeOf(store.putLabelVectors(shrunk, [{ text: 'c', vector: vec(1, 2, 3, 4) }]))).toBe('DIMENSION_MISMATCH');
    });

    it('refuses texts that are not strings, naming the row', async () => {
      const bad = [{ text: 7 as unknown as string, vector: vec(1, 2, 3, 4) }];
      await expect(store.putLabelVectors(MODEL_A, bad)).rejects.toThrow('rows[0].text must be a string, got number');
      await expect(store.getLabelVectors(MODEL_A, ['a', null as unknown as string])).rejects.toThrow('texts[1] must be a string');
    });

    it('keeps texts longer than an index entry may be', async () => {
      const path = Array.from({ length: 400 }, (_, i) => `Category ${i}`).join(' > ');
      const text = `a photo of ${path}, a kind of ${path}`;
      expect(Buffer.byteLength(text)).toBeGreaterThan(8_192);
      await store.putLabelVectors(MODEL_A, [{ text, vector: vec(1, 2, 3, 4) }]);
      await store.putLabelVectors(MODEL_A, [{ text, vector: vec(4, 3, 2, 1) }]);
      expect((await store.getLabelVectors(MODEL_A, [text, text.slice(0, -1)])).get(text)).toEqual(vec(4, 3, 2, 1));
      expect((await store.getLabelVectors(MODEL_A, [text.slice(0, -1)])).size).toBe(0);
    });

    it('writes and reads more texts than one statement can bind parameters for', async () => {
      const texts = Array.from({ length: PAST_PARAMETER_LIMITS }, (_, i) => `a photo of Apparel > Shoes > Boots ${i}`);
      await store.putLabelVectors(
        MODEL_A,
        texts.map((text, i) => ({ text, vector: vec(i, -i, i / 7, 1) })),
      );
      const asked = [...texts, 'not stored'];
      const got = await store.getLabelVectors(MODEL_A, asked);
      expect(got.size).toBe(PAST_PARAMETER_LIMITS);
      const wrong = texts.filter((text, i) => bytesOf(got.get(text)) !== bytesOf(vec(i, -i, i / 7, 1)));
      expect(wrong).toEqual([]);
    });

    it('keeps label vectors in a store reopened on the same database', async () => {
      if (!opened.reopen) return; // an adapter without durable state of its own
      await store.putLabelVectors(MODEL_A, [{ text: 'a photo of a red circle.', vector: vec(0.5, 0.25, 0.125, 1e-7) }]);
      await store.close();
      const again = await opened.reopen();
      try {
        await again.migrate();
        const got = await again.getLabelVectors(MODEL_A, ['a photo of a red circle.']);
        expect(bytesOf(got.get('a photo of a red circle.'))).toBe(bytesOf(vec(0.5, 0.25, 0.125, 1e-7)));
      } finally {
        await again.close();
      }
    });
  });
}
