/** The contract's active model: claimed once, or taken from vectors stored before models were tracked. */
import type { CatalogueStore } from '../../../../gateway/store';
import { MODEL_A, MODEL_B, product, vec, type Subject } from './fixtures';

export function activeModelContract(subject: Subject): void {
  describe('the active model', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });
    it('has none until the first claim, which then stays', async () => {
      expect(await store.getModelState()).toEqual({ active: null, target: null });
      expect(await store.claimActiveModel(MODEL_A)).toEqual({ active: MODEL_A, target: null });
      expect(await store.claimActiveModel(MODEL_B)).toEqual({ active: MODEL_A, target: null });
      expect(await store.getModelState()).toEqual({ active: MODEL_A, target: null });
    });

    it('makes the model with most product vectors active when vectors were stored before any claim', async () => {
      await store.upsertProducts([product('a'), product('b')]);
      await store.putProductVectors(MODEL_A, [{ productId: 'a', vector: vec(1, 0, 0, 0) }]);
      await store.putProductVectors(MODEL_B, [
        { productId: 'a', vector: vec(1, 0, 0, 0, 0, 0, 0, 0) },
        { productId: 'b', vector: vec(0, 1, 0, 0, 0, 0, 0, 0) },
      ]);
      expect(await store.claimActiveModel(MODEL_A)).toEqual({ active: MODEL_B, target: null });
    });
  });
}
