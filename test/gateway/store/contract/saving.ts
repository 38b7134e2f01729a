/** The contract's saveProducts: rows, vectors, kept bytes, fetched URLs and tags in one transaction. */
import type { CatalogueStore, ProductsWrite } from '../../../../gateway/store';
import { codeOf, hash, MODEL_A, MODEL_B, normalise, product, T1, tag, tagsOf, vec, type Subject } from './fixtures';

export function savingContract(subject: Subject): void {
  describe('saving products with their vectors', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });
    const unit = (i: number) => vec(...[0, 1, 2, 3].map((j) => (j === i ? 1 : 0)));
    function write(patch: Partial<ProductsWrite> = {}): ProductsWrite {
      return {
        model: MODEL_A,
        products: [
          product('s1', { imageHashes: [hash('x'), hash('y')], imageUrls: ['https://shop.example/x.jpg', null] }),
          product('s2', { imageHashes: [hash('y')], imageUrls: [null] }),
        ],
        imageVectors: [
          { hash: hash('x'), vector: unit(0) },
          { hash: hash('y'), vector: unit(1) },
        ],
        imageBytes: [{ hash: hash('y'), bytes: Uint8Array.from([0xff, 0xd8, 0xff, 0x00, 0x01]) }],
        fetchedUrls: [{ url: 'https://shop.example/x.jpg', hash: hash('x'), etag: '"abc"', lastModified: null }],
        productVectors: [
          { productId: 's1', imageHashes: [hash('x'), hash('y')], vector: normalise(vec(1, 1, 0, 0)) },
          { productId: 's2', imageHashes: [hash('y')], vector: unit(1) },
        ],
        tags: { productIds: ['s1', 's2'], tags: [tag('s1', 'colour', 'red'), tag('s2', 'colour', 'green')] },
        ...patch,
      };
    }

    it('writes the rows, image URLs, vectors, kept bytes and tags together', async () => {
      await store.saveProducts(write());
      const [s1, s2] = await store.getProducts(['s1', 's2']);
      expect(s1.imageUrls).toEqual(['https://shop.example/x.jpg', null]);
      expect(s2).toEqual(write().products[1]);
      expect([...(await store.getImageVectors(MODEL_A, [hash('x'), hash('y')])).keys()].sort()).toEqual([hash('x'), hash('y')].sort());
      expect(await store.getImageBytes([hash('y'), hash('x')])).toEqual(
        new Map([[hash('y'), Uint8Array.from([0xff, 0xd8, 0xff, 0x00, 0x01])]]),
      );
      expect(await store.getProductVectors(MODEL_A, ['s2', 's1', 'nope'])).toEqual(
        new Map([
          ['s2', unit(1)],
          ['s1', normalise(vec(1, 1, 0, 0))],
        ]),
      );
      expect(await tagsOf(store, 's2')).toEqual([tag('s2', 'colour', 'green')]);
      expect(await store.getFetchedUrls(['https://shop.example/x.jpg', 'https://shop.example/never.jpg'])).toEqual(
        new Map([
          ['https://shop.example/x.jpg', { url: 'https://shop.example/x.jpg', hash: hash('x'), etag: '"abc"', lastModified: null }],
        ]),
      );
      // A later fetch of the same URL replaces what was recorded.
      const refetched = {
        url: 'https://shop.example/x.jpg',
        hash: hash('x2'),
        etag: null,
        lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT',
      };
      await store.saveProducts(write({ products: [], productVectors: [], tags: undefined, fetchedUrls: [refetched] }));
      expect((await store.getFetchedUrls([refetched.url])).get(refetched.url)).toEqual(refetched);
      expect((await store.searchProducts(MODEL_A, unit(1), 1)).map((h) => h.productId)).toEqual(['s2']);
    });

    it('writes nothing of a write with one vector of the wrong length', async () => {
      const bad = write();
      bad.productVectors[1] = { productId: 's2', imageHashes: [hash('y')], vector: vec(1, 0, 0) };
      expect(await codeOf(store.saveProducts(bad))).toBe('DIMENSION_MISMATCH');
      expect(await store.getProducts(['s1', 's2'])).toEqual([]);
      expect((await store.getImageVectors(MODEL_A, [hash('x')])).size).toBe(0);
      expect((await store.getImageBytes([hash('y')])).size).toBe(0);
    });

    it('drops a product vector made from images the product no longer has', async () => {
      await store.upsertProducts([product('s1', { imageHashes: [hash('z')] })]);
      await store.saveProducts(write({ products: [], tags: undefined }));
      expect([...(await store.getProductVectors(MODEL_A, ['s1', 's2'])).keys()]).toEqual([]);
      await store.upsertProducts([product('s2', { imageHashes: [hash('y')] })]);
      await store.saveProducts(write({ products: [], tags: undefined }));
      expect([...(await store.getProductVectors(MODEL_A, ['s1', 's2'])).keys()]).toEqual(['s2']);
    });

    it('drops the vectors of every model when a product changes images, and keeps them when it does not', async () => {
      await store.upsertProducts([product('a'), product('b')]);
      await store.putProductVectors(MODEL_A, [
        { productId: 'a', vector: unit(0) },
        { productId: 'b', vector: unit(1) },
      ]);
      await store.putProductVectors(MODEL_B, [{ productId: 'a', vector: vec(1, 0, 0, 0, 0, 0, 0, 0) }]);
      await store.upsertProducts([product('a', { imageHashes: [hash('new')] }), product('b', { title: 'renamed', updatedAt: T1 })]);
      expect(await store.getProductVector(MODEL_A, 'a')).toBeUndefined();
      expect(await store.getProductVector(MODEL_B, 'a')).toBeUndefined();
      expect(await store.getProductVector(MODEL_A, 'b')).toEqual(unit(1));
      expect((await store.searchProducts(MODEL_A, unit(0), 5)).map((h) => h.productId)).toEqual(['b']);
    });
  });
}
