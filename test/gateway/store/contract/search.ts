/** The contract's product vectors and search: exact answers, checked against brute force. */
import type { CatalogueStore } from '../../../../gateway/store';
import { cosine, seededRandom } from '../../../helpers/tiny-clip';
import { codeOf, gaussian, hash, MODEL_A, MODEL_A_Q8, normalise, product, SEARCH_MODEL, tag, vec, type Subject } from './fixtures';

export function searchContract(subject: Subject): void {
  describe('product vectors and search', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });
    const COUNT = 200;
    const CLUSTERS = 8;
    const ids = Array.from({ length: COUNT }, (_, i) => `p${String(i).padStart(3, '0')}`);
    const vectors = new Map<string, Float32Array>();
    const random = seededRandom(20240601);
    const centres = Array.from({ length: CLUSTERS }, () => normalise(Float32Array.from({ length: 16 }, () => gaussian(random))));
    ids.forEach((id, i) => {
      const centre = centres[i % CLUSTERS];
      vectors.set(id, normalise(centre.map((x) => x + 0.35 * gaussian(random))));
    });
    // Not unit length: cosine similarity must not depend on the query's norm.
    const query = centres[3].map((x) => 3 * (x + 0.2 * gaussian(random)));
    const rare = new Set(['p007', 'p123', 'p190']);
    const thirty = new Set(ids.filter((_, i) => i % 6 === 1).slice(0, 30));

    function bruteForce(q: Float32Array, k: number, among: (id: string) => boolean = () => true) {
      return ids
        .filter(among)
        .map((productId) => ({ productId, score: cosine(q, vectors.get(productId)!) }))
        .sort((x, y) => y.score - x.score || (x.productId < y.productId ? -1 : 1))
        .slice(0, k);
    }

    function expectHits(actual: { productId: string; score: number }[], expected: { productId: string; score: number }[]) {
      expect(actual.map((h) => h.productId)).toEqual(expected.map((h) => h.productId));
      actual.forEach((hit, i) => expect(Math.abs(hit.score - expected[i].score)).toBeLessThan(1e-5));
    }

    beforeEach(async () => {
      expect(thirty.size).toBe(30);
      await store.upsertProducts(
        ids.map((id) =>
          product(id, {
            attributes: { rare: rare.has(id), thirty: thirty.has(id) ? 'yes' : 'no' },
          }),
        ),
      );
      await store.putProductVectors(
        SEARCH_MODEL,
        ids.map((productId) => ({ productId, vector: vectors.get(productId)! })),
      );
    });

    it('gets a product vector back as stored, and undefined when there is none', async () => {
      expect(await store.getProductVector(SEARCH_MODEL, 'p042')).toEqual(vectors.get('p042'));
      expect(await store.getProductVector(SEARCH_MODEL, 'missing')).toBeUndefined();
      expect(await store.getProductVector(MODEL_A, 'p042')).toBeUndefined();
    });

    it('finds the exact nearest neighbours, best first, with cosine similarity as the score', async () => {
      const hits = await store.searchProducts(SEARCH_MODEL, query, 10);
      expectHits(hits, bruteForce(query, 10));
      // A product's own vector is its own best match, with similarity 1.
      const self = await store.searchProducts(SEARCH_MODEL, vectors.get('p150')!, 1);
      expect(self[0].productId).toBe('p150');
      expect(Math.abs(self[0].score - 1)).toBeLessThan(1e-5);
    });

    it('returns every product when k exceeds their number, and none for k = 0', async () => {
      const hits = await store.searchProducts(SEARCH_MODEL, query, COUNT + 50);
      expect(hits).toHaveLength(COUNT);
      expectHits(hits, bruteForce(query, COUNT));
      expect(await store.searchProducts(SEARCH_MODEL, query, 0)).toEqual([]);
    });

    it('returns exactly the matching products under a selective filter', async () => {
      const hits = await store.searchProducts(SEARCH_MODEL, query, 10, { attributes: { rare: true } });
      expect(hits).toHaveLength(3);
      expectHits(
        hits,
        bruteForce(query, 10, (id) => rare.has(id)),
      );
    });

    it('returns k hits when more than k products match the filter', async () => {
      const hits = await store.searchProducts(SEARCH_MODEL, query, 10, { attributes: { thirty: 'yes' } });
      expect(hits).toHaveLength(10);
      expectHits(
        hits,
        bruteForce(query, 10, (id) => thirty.has(id)),
      );
    });

    it('filters search by ids and by tags', async () => {
      const some = ['p001', 'p050', 'p099', 'p100', 'p199', 'missing'];
      expectHits(
        await store.searchProducts(SEARCH_MODEL, query, 3, { ids: some }),
        bruteForce(query, 3, (id) => some.includes(id)),
      );
      expect(await store.searchProducts(SEARCH_MODEL, query, 3, { ids: [] })).toEqual([]);
      const tagged = ['p010', 'p011', 'p012', 'p013'];
      await store.replaceAutoTags(
        tagged,
        tagged.map((id) => tag(id, 'colour', 'red')),
      );
      expectHits(
        await store.searchProducts(SEARCH_MODEL, query, 10, { tags: [{ facet: 'colour', label: 'red' }] }),
        bruteForce(query, 10, (id) => tagged.includes(id)),
      );
      expectHits(
        await store.searchProducts(SEARCH_MODEL, query, 10, { tags: [{ facet: 'colour', label: 'red' }], ids: ['p011', 'p013', 'p014'] }),
        bruteForce(query, 10, (id) => id === 'p011' || id === 'p013'),
      );
      expect(await store.searchProducts(SEARCH_MODEL, query, 10, { attributes: { thirty: 'nope' } })).toEqual([]);
    });

    it('never returns a deleted product', async () => {
      const top = bruteForce(query, 3);
      await store.deleteProducts([top[0].productId, 'p007']);
      const remaining = (id: string) => id !== top[0].productId && id !== 'p007';
      expectHits(await store.searchProducts(SEARCH_MODEL, query, 10), bruteForce(query, 10, remaining));
      expectHits(
        await store.searchProducts(SEARCH_MODEL, query, 10, { attributes: { rare: true } }),
        bruteForce(query, 10, (id) => rare.has(id) && remaining(id)),
      );
      expect(await store.getProductVector(SEARCH_MODEL, top[0].productId)).toBeUndefined();
      // Upserting it again does not bring its old vector back.
      await store.upsertProducts([product(top[0].productId)]);
      expect((await store.searchProducts(SEARCH_MODEL, query, COUNT)).map((h) => h.productId)).not.toContain(top[0].productId);
    });

    it('replaces a product vector, and keeps it when the product is updated', async () => {
      const target = bruteForce(query, COUNT)[COUNT - 1].productId; // the farthest
      await store.putProductVectors(SEARCH_MODEL, [{ productId: target, vector: normalise(query) }]);
      await store.upsertProducts([product(target, { title: 'renamed' })]);
      const hits = await store.searchProducts(SEARCH_MODEL, query, COUNT);
      expect(hits).toHaveLength(COUNT);
      expect(hits[0].productId).toBe(target);
      expect(Math.abs(hits[0].score - 1)).toBeLessThan(1e-5);
      expect(await store.getProductVector(SEARCH_MODEL, target)).toEqual(normalise(query));
    });

    it('keeps the vectors of each model apart', async () => {
      await store.putProductVectors(MODEL_A, [
        { productId: 'p001', vector: vec(1, 0, 0, 0) },
        { productId: 'p002', vector: vec(0, 1, 0, 0) },
      ]);
      await store.putProductVectors(MODEL_A_Q8, [{ productId: 'p003', vector: vec(1, 0, 0, 0) }]);
      const a = await store.searchProducts(MODEL_A, vec(1, 0.1, 0, 0), 10);
      expect(a.map((h) => h.productId)).toEqual(['p001', 'p002']);
      const q8 = await store.searchProducts(MODEL_A_Q8, vec(1, 0.1, 0, 0), 10);
      expect(q8.map((h) => h.productId)).toEqual(['p003']);
      expect(await store.searchProducts({ name: 'never', dim: 4, dtype: 'fp32' }, vec(1, 0, 0, 0), 10)).toEqual([]);
      // The 16-dim model is untouched.
      expectHits(await store.searchProducts(SEARCH_MODEL, query, 10), bruteForce(query, 10));
    });

    it('breaks ties by product id, with and without a filter', async () => {
      // Created in an order that is not id order either way, so that neither insertion order nor
      // any internal key happens to give id order; 12 ties, so that a search for 3 must choose.
      const tied = [5, 11, 0, 8, 2, 9, 1, 6, 3, 10, 4, 7].map((i) => `tie${String(i).padStart(2, '0')}`);
      await store.upsertProducts(tied.map((id) => product(id, { attributes: { tied: true } })));
      const same = vec(0, 0, 1, 0);
      await store.putProductVectors(MODEL_A, [
        ...tied.map((productId) => ({ productId, vector: same })),
        { productId: 'p001', vector: vec(0, 1, 0, 0) },
      ]);
      const expected = ['tie00', 'tie01', 'tie02'];
      expect((await store.searchProducts(MODEL_A, vec(0, 0, 2, 0), 3)).map((h) => h.productId)).toEqual(expected);
      expect((await store.searchProducts(MODEL_A, vec(0, 0, 2, 0), 3, { attributes: { tied: true } })).map((h) => h.productId)).toEqual(
        expected,
      );
      const some = ['tie07', 'tie03', 'tie09', 'tie05'];
      expect((await store.searchProducts(MODEL_A, vec(0, 0, 2, 0), 2, { ids: some })).map((h) => h.productId)).toEqual(['tie03', 'tie05']);
    });

    it('refuses vectors and queries of the wrong length, writing nothing', async () => {
      const before = await store.getProductVector(SEARCH_MODEL, 'p001');
      expect(
        await codeOf(
          store.putProductVectors(SEARCH_MODEL, [
            { productId: 'p001', vector: normalise(query) },
            { productId: 'p002', vector: vec(1, 2, 3) },
          ]),
        ),
      ).toBe('DIMENSION_MISMATCH');
      expect(await store.getProductVector(SEARCH_MODEL, 'p001')).toEqual(before);
      expect(await codeOf(store.searchProducts(SEARCH_MODEL, vec(1, 2, 3), 10))).toBe('DIMENSION_MISMATCH');
    });

    it('refuses the zero vector as a product vector or a query, in the same words, writing nothing', async () => {
      // Cosine similarity is undefined for it: stored, it would sort first (or nowhere) in a search.
      const zero = new Float32Array(SEARCH_MODEL.dim);
      const undefinedFor = (what: string) => `${what} is the zero vector: cosine similarity is undefined for it, so it cannot be searched`;
      const before = await store.getProductVector(SEARCH_MODEL, 'p001');
      const rows = [
        { productId: 'p001', vector: normalise(query) },
        { productId: 'p002', vector: zero },
      ];
      await expect(store.putProductVectors(SEARCH_MODEL, rows)).rejects.toThrow(new TypeError(undefinedFor('rows[1].vector')));
      expect(await store.getProductVector(SEARCH_MODEL, 'p001')).toEqual(before);
      expect(await store.getProductVector(SEARCH_MODEL, 'p002')).toEqual(vectors.get('p002'));
      await expect(store.searchProducts(SEARCH_MODEL, zero, 10)).rejects.toThrow(new TypeError(undefinedFor('query')));
      const write = {
        model: SEARCH_MODEL,
        products: [product('zero')],
        imageVectors: [],
        imageBytes: [],
        productVectors: [{ productId: 'zero', imageHashes: [hash('zero')], vector: zero }],
      };
      await expect(store.saveProducts(write)).rejects.toThrow(new TypeError(undefinedFor('productVectors[0].vector')));
      expect(await store.getProducts(['zero'])).toEqual([]);
    });
  });
}
