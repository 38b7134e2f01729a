/** The contract's schema: migrate() again keeps everything, and so does a store reopened on the same database. */
import type { CatalogueStore } from '../../../../gateway/store';
import { FACETS, hash, MODEL_A, MODEL_B, product, tag, vec, type OpenedStore, type Subject } from './fixtures';

export function schemaContract(subject: Subject): void {
  describe('schema', () => {
    let store: CatalogueStore;
    let opened: OpenedStore;
    beforeEach(() => {
      store = subject.store;
      opened = subject.opened;
    });
    it('migrate() again is harmless and keeps the data', async () => {
      await store.upsertProducts([product('a')]);
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
      await store.putProductVectors(MODEL_A, [{ productId: 'a', vector: vec(0, 1, 0, 0) }]);
      await store.setTaxonomy(FACETS);
      await store.migrate();
      await store.migrate();
      expect(await store.getProducts(['a'])).toEqual([product('a')]);
      expect((await store.getImageVectors(MODEL_A, [hash('1')])).get(hash('1'))).toEqual(vec(1, 2, 3, 4));
      expect((await store.searchProducts(MODEL_A, vec(0, 1, 0, 0), 1)).map((h) => h.productId)).toEqual(['a']);
      expect((await store.getTaxonomy())?.version).toBe(1);
    });

    it('a store reopened on the same database keeps everything', async () => {
      if (!opened.reopen) return; // an adapter without durable state of its own
      await store.upsertProducts([product('a', { attributes: { size: 42 } }), product('b')]);
      await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
      await store.putProductVectors(MODEL_A, [
        { productId: 'a', vector: vec(0, 1, 0, 0) },
        { productId: 'b', vector: vec(1, 0, 0, 0) },
      ]);
      const taxonomy = await store.setTaxonomy(FACETS);
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'red', { needsReview: true })]);
      await store.setManualTags('b', 'style', [
        { label: 'formal', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      await store.close();

      const again = await opened.reopen();
      try {
        await again.migrate();
        expect(await again.getProducts(['a', 'b'])).toEqual([product('a', { attributes: { size: 42 } }), product('b')]);
        expect((await again.getImageVectors(MODEL_A, [hash('1')])).get(hash('1'))).toEqual(vec(1, 2, 3, 4));
        expect((await again.searchProducts(MODEL_A, vec(0.1, 1, 0, 0), 2)).map((h) => h.productId)).toEqual(['a', 'b']);
        expect(await again.getTaxonomy()).toEqual(taxonomy);
        expect((await again.tagsForReview(10)).items).toEqual([tag('a', 'colour', 'red', { needsReview: true })]);
        expect(await again.labelTopProducts('style', 'formal', 1)).toEqual([{ productId: 'b', score: 1 }]);
        // New models and versions still work after a reopen.
        await again.putProductVectors(MODEL_B, [{ productId: 'a', vector: vec(1, 0, 0, 0, 0, 0, 0, 0) }]);
        expect((await again.searchProducts(MODEL_B, vec(1, 0, 0, 0, 0, 0, 0, 0), 5)).map((h) => h.productId)).toEqual(['a']);
        expect((await again.setTaxonomy([])).version).toBe(2);
      } finally {
        await again.close();
      }
    });
  });
}
