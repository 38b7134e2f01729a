/**
 * The contract of `CatalogueStore` (gateway/store/port.ts), shared by every adapter: each adapter's
 * test file calls `describeStoreContract` with a way to open a fresh, migrated, empty store.
 *
 * Every expectation checks a known-good value (computed here by brute force where it is a search),
 * so each test fails when the behaviour it names is broken.
 */
import {
  JOB_CHUNK_MAX_ATTEMPTS,
  JOB_MAX_ERRORS,
  MODEL_CHANGE_INCOMPLETE,
  StoreError,
  type CatalogueStore,
  type ChunkOutcome,
  type JobChunk,
  type FacetRow,
  type ProductRow,
  type ProductsWrite,
  type TagRow,
  type VectorModel,
} from '../../../gateway/store/port';
import { cosine, seededRandom } from '../../helpers/tiny-clip';

// The shared fixtures of the store tests, re-exported for the adapter-specific files.
export { cosine, seededRandom };

export interface OpenedStore {
  /** A fresh store: migrated and empty. */
  store: CatalogueStore;
  /** Drops whatever the store left behind (files, schemas); the store may already be closed. */
  cleanup(): Promise<void>;
  /**
   * For adapters with durable state: closes nothing, opens a second store on the same database (the
   * test closes `store` first). When given, the suite checks that a reopened store keeps everything.
   */
  reopen?(): Promise<CatalogueStore>;
}

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

export const MODEL_A: VectorModel = { name: 'clip-a', dim: 4, dtype: 'fp32' };
export const MODEL_B: VectorModel = { name: 'clip-b', dim: 8, dtype: 'fp32' };
/** The same name as MODEL_A in another dtype: other vectors. */
export const MODEL_A_Q8: VectorModel = { name: 'clip-a', dim: 4, dtype: 'q8' };
export const SEARCH_MODEL: VectorModel = { name: 'search', dim: 16, dtype: 'fp32' };

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-02-01T00:00:00.000Z';
const T2 = '2024-03-01T00:00:00.000Z';

export function product(id: string, patch: Partial<ProductRow> = {}): ProductRow {
  return {
    id,
    title: `Title ${id}`,
    description: null,
    attributes: null,
    imageHashes: [hash(id)],
    createdAt: T0,
    updatedAt: T0,
    ...patch,
    imageUrls: patch.imageUrls ?? (patch.imageHashes ?? [hash(id)]).map(() => null),
  };
}

/** A 64-hex-digit stand-in for a SHA-256. */
export function hash(seed: string): string {
  let h = 0;
  for (const c of seed) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return (h.toString(16).padStart(8, '0') + seed.length.toString(16).padStart(2, '0')).padEnd(64, 'a');
}

export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return v.map((x) => x / norm);
}

function vec(...values: number[]): Float32Array {
  return new Float32Array(values);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return error.code;
    throw error;
  }
  throw new Error('expected a StoreError, the call succeeded');
}

function tag(productId: string, facet: string, label: string, patch: Partial<TagRow> = {}): TagRow {
  return {
    productId,
    facet,
    label,
    score: 0.5,
    similarity: 0.25,
    source: 'auto',
    needsReview: false,
    model: 'clip-a|fp32',
    taxonomyVersion: 1,
    ...patch,
  };
}

function byKey(a: TagRow, b: TagRow): number {
  return a.facet < b.facet ? -1 : a.facet > b.facet ? 1 : a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
}

async function tagsOf(store: CatalogueStore, productId: string): Promise<TagRow[]> {
  const map = await store.getTags([productId]);
  return [...(map.get(productId) ?? [])].sort(byKey);
}

const FACETS: FacetRow[] = [
  {
    name: 'colour',
    labels: ['red', 'green'],
    templates: ['a photo of a {} thing'],
    mode: 'single',
    threshold: null,
    reviewBelow: 0.5,
  },
  {
    name: 'style',
    labels: ['casual', 'formal', 'sport'],
    templates: ['{} clothing', 'a {} outfit'],
    mode: 'multi',
    threshold: 0.3,
    reviewBelow: null,
  },
];

// ---------------------------------------------------------------------------------------------
// The suite

export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`CatalogueStore contract: ${name}`, () => {
    let opened: OpenedStore;
    let store: CatalogueStore;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });

    afterEach(async () => {
      await opened.cleanup();
    });

    describe('products', () => {
      it('upserts and gets products, in the order asked, skipping missing ids', async () => {
        const a = product('a', {
          attributes: { brand: 'acme', size: 42, tags: ['x', 'y'] },
          imageHashes: [hash('1'), hash('2'), hash('3')],
        });
        const b = product('b', { title: null, description: 'A bee', imageHashes: [] });
        await store.upsertProducts([a, b]);
        expect(await store.getProducts(['b', 'missing', 'a'])).toEqual([b, a]);
        expect(await store.getProducts([])).toEqual([]);
      });

      it('keeps createdAt on update and replaces every other field', async () => {
        await store.upsertProducts([product('a', { attributes: { brand: 'acme' }, imageHashes: [hash('1')] })]);
        const updated = product('a', {
          title: 'New',
          description: 'Changed',
          attributes: { brand: 'other' },
          imageHashes: [hash('2'), hash('1')],
          createdAt: T2,
          updatedAt: T1,
        });
        await store.upsertProducts([updated]);
        expect(await store.getProducts(['a'])).toEqual([{ ...updated, createdAt: T0 }]);
      });

      it('upserting the same batch twice leaves one row per id', async () => {
        const rows = ['a', 'b', 'c'].map((id) => product(id));
        await store.upsertProducts(rows);
        await store.upsertProducts(rows);
        const page = await store.listProducts({}, 10);
        expect(page.items.map((p) => p.id)).toEqual(['a', 'b', 'c']);
      });

      it('deletes products and returns the ids that existed', async () => {
        await store.upsertProducts([product('a'), product('b'), product('c')]);
        const deleted = await store.deleteProducts(['c', 'missing', 'a']);
        expect([...deleted].sort()).toEqual(['a', 'c']);
        expect(await store.getProducts(['a', 'b', 'c'])).toEqual([product('b')]);
        expect(await store.deleteProducts(['a'])).toEqual([]);
        expect(await store.deleteProducts([])).toEqual([]);
      });

      it('lists products ordered by id in keyset pages', async () => {
        await store.upsertProducts(['e', 'c', 'a', 'd', 'b'].map((id) => product(id)));
        const first = await store.listProducts({}, 2);
        expect(first.items.map((p) => p.id)).toEqual(['a', 'b']);
        expect(first.hasNextPage).toBe(true);
        expect(first.items[0]).toEqual(product('a'));
        const second = await store.listProducts({}, 2, first.endCursor);
        expect(second.items.map((p) => p.id)).toEqual(['c', 'd']);
        expect(second.hasNextPage).toBe(true);
        const third = await store.listProducts({}, 2, second.endCursor);
        expect(third.items.map((p) => p.id)).toEqual(['e']);
        expect(third.hasNextPage).toBe(false);
        expect(third.endCursor).toEqual(expect.any(String));
        const after = await store.listProducts({}, 2, third.endCursor);
        expect(after).toEqual({ items: [], hasNextPage: false, endCursor: undefined });
      });

      it('a cursor stays valid after the product it names is deleted', async () => {
        await store.upsertProducts(['a', 'b', 'c', 'd'].map((id) => product(id)));
        const first = await store.listProducts({}, 2);
        await store.deleteProducts(['b']);
        const second = await store.listProducts({}, 2, first.endCursor);
        expect(second.items.map((p) => p.id)).toEqual(['c', 'd']);
        expect(second.hasNextPage).toBe(false);
      });

      it('orders ids by their code points, whatever characters they hold', async () => {
        const ids = ['b', 'B', 'a-1', 'a_1', 'a 1', 'é', 'z', '10', '9'];
        await store.upsertProducts(ids.map((id) => product(id)));
        const expected = [...ids].sort();
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listProducts({}, 4, after);
          seen.push(...page.items.map((p) => p.id));
          if (!page.hasNextPage) break;
          after = page.endCursor;
        }
        expect(seen).toEqual(expected);
      });

      it('filters by ids', async () => {
        await store.upsertProducts(['a', 'b', 'c', 'd'].map((id) => product(id)));
        const page = await store.listProducts({ ids: ['d', 'b', 'missing'] }, 10);
        expect(page.items.map((p) => p.id)).toEqual(['b', 'd']);
        expect((await store.listProducts({ ids: [] }, 10)).items).toEqual([]);
      });

      it('filters by attributes, comparing values as JSON', async () => {
        await store.upsertProducts([
          product('n42', { attributes: { size: 42, brand: 'acme' } }),
          product('s42', { attributes: { size: '42', brand: 'acme' } }),
          product('other', { attributes: { size: 41, brand: 'acme' } }),
          product('t', { attributes: { sale: true } }),
          product('one', { attributes: { sale: 1 } }),
          product('dotted', { attributes: { 'a.b': 'x', a: { b: 'y' } } }),
          product('quoted', { attributes: { 'it"s': 'q', 'back\\slash': 7, 'q"bool': false } }),
          product('nested', { attributes: { dims: { w: 1, h: 2 }, sizes: [38, 40], note: 'say "hi"\n', gone: null } }),
          product('none', { attributes: null }),
        ]);
        const ids = async (attributes: Record<string, unknown>) => (await store.listProducts({ attributes }, 20)).items.map((p) => p.id);
        expect(await ids({ size: 42 })).toEqual(['n42']);
        expect(await ids({ size: '42' })).toEqual(['s42']);
        expect(await ids({ size: 42, brand: 'acme' })).toEqual(['n42']);
        expect(await ids({ size: 42, brand: 'other' })).toEqual([]);
        expect(await ids({ brand: 'acme' })).toEqual(['n42', 'other', 's42']);
        expect(await ids({ sale: true })).toEqual(['t']);
        expect(await ids({ sale: 1 })).toEqual(['one']);
        expect(await ids({ 'a.b': 'x' })).toEqual(['dotted']);
        expect(await ids({ 'a.b': 'y' })).toEqual([]);
        expect(await ids({ 'it"s': 'q' })).toEqual(['quoted']);
        expect(await ids({ 'back\\slash': 7 })).toEqual(['quoted']);
        expect(await ids({ 'back\\slash': '7' })).toEqual([]);
        expect(await ids({ 'q"bool': false })).toEqual(['quoted']);
        expect(await ids({ 'q"bool': 0 })).toEqual([]);
        // Objects compare whatever their key order; arrays in order; null only where it is stored.
        expect(await ids({ dims: { h: 2, w: 1 } })).toEqual(['nested']);
        expect(await ids({ dims: { h: 2 } })).toEqual([]);
        expect(await ids({ sizes: [38, 40] })).toEqual(['nested']);
        expect(await ids({ sizes: [40, 38] })).toEqual([]);
        expect(await ids({ sizes: 38 })).toEqual([]);
        expect(await ids({ note: 'say "hi"\n' })).toEqual(['nested']);
        expect(await ids({ gone: null })).toEqual(['nested']);
        expect(await ids({ missing: 'x' })).toEqual([]);
      });

      it('filters by tags (auto or manual), every one required', async () => {
        await store.upsertProducts(['a', 'b', 'c'].map((id) => product(id)));
        await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'red'), tag('a', 'style', 'casual'), tag('b', 'colour', 'red')]);
        await store.setManualTags('c', 'style', [
          { label: 'casual', score: 1, similarity: 0.3, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
        ]);
        const ids = async (tags: { facet: string; label: string }[]) => (await store.listProducts({ tags }, 20)).items.map((p) => p.id);
        expect(await ids([{ facet: 'colour', label: 'red' }])).toEqual(['a', 'b']);
        expect(await ids([{ facet: 'style', label: 'casual' }])).toEqual(['a', 'c']);
        expect(
          await ids([
            { facet: 'colour', label: 'red' },
            { facet: 'style', label: 'casual' },
          ]),
        ).toEqual(['a']);
        expect(await ids([{ facet: 'colour', label: 'casual' }])).toEqual([]);
      });

      it('combines filters and pages through the filtered list', async () => {
        const rows = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => product(id, { attributes: { even: i % 2 === 0 } }));
        await store.upsertProducts(rows);
        const filter = { attributes: { even: true }, ids: ['a', 'b', 'c', 'e', 'f'] };
        const first = await store.listProducts(filter, 1);
        expect(first.items.map((p) => p.id)).toEqual(['a']);
        expect(first.hasNextPage).toBe(true);
        const rest = await store.listProducts(filter, 5, first.endCursor);
        expect(rest.items.map((p) => p.id)).toEqual(['c', 'e']);
        expect(rest.hasNextPage).toBe(false);
      });

      it('refuses a cursor that does not decode with BAD_CURSOR', async () => {
        await store.upsertProducts([product('a')]);
        expect(await codeOf(store.listProducts({}, 2, '%%% not a cursor %%%'))).toBe('BAD_CURSOR');
      });
    });

    describe('saving products with their vectors', () => {
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

    describe('the active model', () => {
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

    describe('image vectors', () => {
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

      it('keeps image vectors when the products that used them are deleted', async () => {
        await store.upsertProducts([product('a', { imageHashes: [hash('1')] })]);
        await store.putImageVectors(MODEL_A, [{ hash: hash('1'), vector: vec(1, 2, 3, 4) }]);
        await store.deleteProducts(['a']);
        expect((await store.getImageVectors(MODEL_A, [hash('1')])).get(hash('1'))).toEqual(vec(1, 2, 3, 4));
      });
    });

    describe('product vectors and search', () => {
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
        expect((await store.searchProducts(MODEL_A, vec(0, 0, 2, 0), 2, { ids: some })).map((h) => h.productId)).toEqual([
          'tie03',
          'tie05',
        ]);
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
    });

    describe('taxonomy', () => {
      it('has none at first, then numbers each version 1, 2, ...', async () => {
        expect(await store.getTaxonomy()).toBeUndefined();
        const first = await store.setTaxonomy(FACETS);
        expect(first.version).toBe(1);
        expect(first.facets).toEqual(FACETS);
        expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt);
        expect(await store.getTaxonomy()).toEqual(first);

        const next = [FACETS[1]];
        const second = await store.setTaxonomy(next);
        expect(second.version).toBe(2);
        expect(second.facets).toEqual(next);
        expect(await store.getTaxonomy()).toEqual(second);
        expect((await store.setTaxonomy([])).version).toBe(3);
        expect((await store.getTaxonomy())?.facets).toEqual([]);
      });
    });

    describe('tags', () => {
      beforeEach(async () => {
        await store.upsertProducts(['a', 'b', 'c', 'd'].map((id) => product(id)));
      });

      it('stores every field of a tag', async () => {
        const t = tag('a', 'colour', 'red', {
          score: 0.875,
          similarity: 0.3125,
          needsReview: true,
          model: 'clip-b|q8',
          taxonomyVersion: 7,
        });
        await store.replaceAutoTags(['a'], [t]);
        expect(await tagsOf(store, 'a')).toEqual([t]);
        const map = await store.getTags(['a', 'b', 'missing']);
        expect(map.get('a')).toEqual([t]);
        expect(map.get('b') ?? []).toEqual([]);
        expect(map.get('missing') ?? []).toEqual([]);
      });

      it('replaces the automatic tags of the products named, and only theirs', async () => {
        await store.replaceAutoTags(
          ['a', 'b', 'c'],
          [tag('a', 'colour', 'red'), tag('a', 'style', 'casual'), tag('b', 'colour', 'green'), tag('c', 'colour', 'red')],
        );
        await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'green', { score: 0.75 })]);
        expect(await tagsOf(store, 'a')).toEqual([tag('a', 'colour', 'green', { score: 0.75 })]);
        expect(await tagsOf(store, 'b')).toEqual([]);
        expect(await tagsOf(store, 'c')).toEqual([tag('c', 'colour', 'red')]);
      });

      it('never touches manual tags, and drops automatic tags for a facet with manual tags', async () => {
        await store.setManualTags('a', 'colour', [
          { label: 'red', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
        ]);
        await store.replaceAutoTags(['a'], [tag('a', 'colour', 'green'), tag('a', 'colour', 'red'), tag('a', 'style', 'formal')]);
        expect(await tagsOf(store, 'a')).toEqual([
          tag('a', 'colour', 'red', { source: 'manual', score: 1, similarity: 0.5 }),
          tag('a', 'style', 'formal'),
        ]);
        await store.replaceAutoTags(['a'], []);
        expect(await tagsOf(store, 'a')).toEqual([tag('a', 'colour', 'red', { source: 'manual', score: 1, similarity: 0.5 })]);
      });

      it('setManualTags replaces one facet of one product, and an empty list removes them', async () => {
        const manual = (label: string, score: number) => ({
          label,
          score,
          similarity: 0.125,
          needsReview: false,
          model: 'clip-a|fp32',
          taxonomyVersion: 2,
        });
        await store.replaceAutoTags(['a', 'b'], [tag('a', 'style', 'casual'), tag('b', 'colour', 'red')]);
        await store.setManualTags('a', 'colour', [manual('red', 1), manual('green', 0.5)]);
        await store.setManualTags('a', 'colour', [manual('green', 0.75)]);
        await store.setManualTags('b', 'style', [manual('sport', 1)]);
        const m = (id: string, facet: string, label: string, score: number) =>
          tag(id, facet, label, { source: 'manual', score, similarity: 0.125, taxonomyVersion: 2 });
        expect(await tagsOf(store, 'a')).toEqual([m('a', 'colour', 'green', 0.75), tag('a', 'style', 'casual')]);
        expect(await tagsOf(store, 'b')).toEqual([tag('b', 'colour', 'red'), m('b', 'style', 'sport', 1)]);
        await store.setManualTags('a', 'colour', []);
        expect(await tagsOf(store, 'a')).toEqual([tag('a', 'style', 'casual')]);
        // An empty list on a facet without manual tags leaves its automatic tags alone.
        await store.setManualTags('b', 'colour', []);
        expect(await tagsOf(store, 'b')).toEqual([tag('b', 'colour', 'red'), m('b', 'style', 'sport', 1)]);
      });

      it('setManualTags removes automatic tags of that facet', async () => {
        await store.replaceAutoTags(['a'], [tag('a', 'colour', 'green'), tag('a', 'style', 'casual')]);
        await store.setManualTags('a', 'colour', [
          { label: 'red', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
        ]);
        expect(await tagsOf(store, 'a')).toEqual([
          tag('a', 'colour', 'red', { source: 'manual', score: 1, similarity: 0.5 }),
          tag('a', 'style', 'casual'),
        ]);
      });

      it('labelTopProducts answers the best k by score, ties by product id', async () => {
        await store.replaceAutoTags(
          ['a', 'b', 'c'],
          [
            tag('a', 'colour', 'red', { score: 0.5 }),
            tag('b', 'colour', 'red', { score: 0.875 }),
            tag('c', 'colour', 'red', { score: 0.5 }),
            tag('c', 'colour', 'green', { score: 1 }),
          ],
        );
        await store.setManualTags('d', 'colour', [
          { label: 'red', score: 0.625, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
        ]);
        expect(await store.labelTopProducts('colour', 'red', 10)).toEqual([
          { productId: 'b', score: 0.875 },
          { productId: 'd', score: 0.625 },
          { productId: 'a', score: 0.5 },
          { productId: 'c', score: 0.5 },
        ]);
        expect(await store.labelTopProducts('colour', 'red', 2)).toEqual([
          { productId: 'b', score: 0.875 },
          { productId: 'd', score: 0.625 },
        ]);
        expect(await store.labelTopProducts('colour', 'blue', 5)).toEqual([]);
        expect(await store.labelTopProducts('style', 'red', 5)).toEqual([]);
      });

      it('tagsForReview pages through automatic tags marked for review, by (productId, facet, label)', async () => {
        const review = { needsReview: true };
        await store.replaceAutoTags(
          ['a', 'b', 'c'],
          [
            tag('c', 'colour', 'red', review),
            tag('a', 'style', 'formal', review),
            tag('a', 'style', 'casual', review),
            tag('a', 'colour', 'green', review),
            tag('b', 'colour', 'red'),
            tag('b', 'style', 'sport', review),
          ],
        );
        await store.setManualTags('d', 'colour', [
          { label: 'red', score: 1, similarity: 0.5, needsReview: true, model: 'clip-a|fp32', taxonomyVersion: 1 },
        ]);
        const keys = (rows: TagRow[]) => rows.map((t) => `${t.productId}/${t.facet}/${t.label}`);
        const first = await store.tagsForReview(2);
        expect(keys(first.items)).toEqual(['a/colour/green', 'a/style/casual']);
        expect(first.hasNextPage).toBe(true);
        expect(first.items[0]).toEqual(tag('a', 'colour', 'green', review));
        const second = await store.tagsForReview(2, first.endCursor);
        expect(keys(second.items)).toEqual(['a/style/formal', 'b/style/sport']);
        expect(second.hasNextPage).toBe(true);
        const third = await store.tagsForReview(2, second.endCursor);
        expect(keys(third.items)).toEqual(['c/colour/red']);
        expect(third.hasNextPage).toBe(false);
        expect(await store.tagsForReview(2, third.endCursor)).toEqual({ items: [], hasNextPage: false, endCursor: undefined });
        expect(await codeOf(store.tagsForReview(2, '%%% not a cursor %%%'))).toBe('BAD_CURSOR');
      });

      it('deleting a product deletes its tags', async () => {
        await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'red', { needsReview: true }), tag('b', 'colour', 'red')]);
        await store.setManualTags('a', 'style', [
          { label: 'formal', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
        ]);
        await store.deleteProducts(['a']);
        expect(await tagsOf(store, 'a')).toEqual([]);
        expect(await store.labelTopProducts('colour', 'red', 10)).toEqual([{ productId: 'b', score: 0.5 }]);
        expect((await store.tagsForReview(10)).items).toEqual([]);
        // A product of the same id created again starts with no tags.
        await store.upsertProducts([product('a')]);
        expect(await tagsOf(store, 'a')).toEqual([]);
      });
    });

    describe('jobs', () => {
      // Tagging jobs are worked on by gateways of the active model.
      beforeEach(() => store.claimActiveModel(MODEL_A));
      const ids = (n: number, prefix = 'j') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

      /** Every product of the chunk tagged red, or failed when its id is in `failing`. */
      function outcome(chunk: JobChunk, failing: string[] = []): ChunkOutcome {
        const good = chunk.productIds.filter((id) => !failing.includes(id));
        return {
          productIds: good,
          tags: good.map((id) => tag(id, 'colour', 'red')),
          processed: good.length,
          failed: chunk.productIds.length - good.length,
          errors: chunk.productIds
            .filter((id) => failing.includes(id))
            .map((id) => ({ field: ['products', id], message: `${id} failed`, code: 'NOT_FOUND' })),
        };
      }

      it('lists the newest jobs first, as many as asked for', async () => {
        await store.upsertProducts(ids(3).map((id) => product(id)));
        expect(await store.listJobs(10)).toEqual([]);
        const made = [];
        for (let i = 0; i < 3; i++) {
          made.push((await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: `list-${i}` })).job);
          // Creation times are to the millisecond: keep them apart, so that newest first is one order.
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
        await store.cancelJob(made[1].id);
        const listed = await store.listJobs(10);
        expect(listed.map((job) => job.id)).toEqual([made[2].id, made[1].id, made[0].id]);
        expect(listed[1]).toMatchObject({ status: 'CANCELLED', total: 3 });
        expect((await store.listJobs(2)).map((job) => job.id)).toEqual([made[2].id, made[1].id]);
      });

      it('creates a QUEUED job counting the products its filter matches', async () => {
        await store.upsertProducts([...ids(5).map((id) => product(id, { attributes: { even: id.endsWith('0') } })), product('other')]);
        const filter = { attributes: { even: false } };
        const { job, created } = await store.createJob({ filter, reembed: false, model: MODEL_A });
        expect(created).toBe(true);
        expect(job).toEqual({
          id: expect.any(String),
          status: 'QUEUED',
          total: 4,
          processed: 0,
          failed: 0,
          errors: [],
          filter,
          reembed: false,
          model: 'clip-a|fp32',
          changesModel: false,
          idempotencyKey: null,
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          startedAt: null,
          finishedAt: null,
        });
        expect(await store.getJob(job.id)).toEqual(job);
        expect(await store.getJob('no-such-job')).toBeUndefined();
        expect((await store.createJob({ filter: {}, reembed: true, model: MODEL_A })).job).toMatchObject({
          total: 6,
          reembed: true,
          changesModel: false,
        });
      });

      it('returns the existing job for an idempotency key used before: one job per key', async () => {
        await store.upsertProducts(ids(3).map((id) => product(id)));
        const first = await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-1' });
        const [again, twice] = await Promise.all([
          store.createJob({ filter: { ids: ['j000'] }, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-1' }),
          store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-1' }),
        ]);
        expect(first.created).toBe(true);
        expect(first.job.idempotencyKey).toBe('nightly-1');
        expect(again).toEqual({ job: first.job, created: false });
        expect(twice).toEqual({ job: first.job, created: false });
        const other = await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-2' });
        expect(other.created).toBe(true);
        expect(other.job.id).not.toBe(first.job.id);
      });

      it('hands out keyset chunks covering every matching product once, and records their outcomes with their tags', async () => {
        const all = ids(7);
        await store.upsertProducts([...all, 'zz-skipped'].map((id) => product(id, { attributes: { pick: id !== 'zz-skipped' } })));
        const { job } = await store.createJob({ filter: { attributes: { pick: true } }, reembed: false, model: MODEL_A });
        const chunks: JobChunk[] = [];
        for (let chunk = await store.claimJobChunk('w1', 3, MODEL_A); chunk; chunk = await store.claimJobChunk('w1', 3, MODEL_A)) {
          chunks.push(chunk);
          if (chunks.length === 1) expect((await store.getJob(job.id))!.status).toBe('RUNNING');
          expect(await store.completeJobChunk(chunk, outcome(chunk, ['j004']))).toBe(true);
        }
        expect(chunks.map((c) => c.productIds)).toEqual([all.slice(0, 3), all.slice(3, 6), all.slice(6)]);
        expect(chunks.map((c) => [c.seq, c.attempts, c.jobId])).toEqual([
          [1, 1, job.id],
          [2, 1, job.id],
          [3, 1, job.id],
        ]);
        const done = (await store.getJob(job.id))!;
        expect(done).toMatchObject({ status: 'SUCCEEDED', total: 7, processed: 6, failed: 1 });
        expect(done.errors).toEqual([{ field: ['products', 'j004'], message: 'j004 failed', code: 'NOT_FOUND' }]);
        expect(done.startedAt).not.toBeNull();
        expect(done.finishedAt).not.toBeNull();
        const tags = await store.getTags([...all, 'zz-skipped']);
        expect(all.filter((id) => (tags.get(id) ?? []).length === 1)).toEqual(all.filter((id) => id !== 'j004'));
        expect(tags.get('zz-skipped') ?? []).toEqual([]);
        expect(await store.claimJobChunk('w1', 3, MODEL_A)).toBeUndefined();
      });

      it('keeps the first JOB_MAX_ERRORS errors, and finishes a job with nothing to do at its first claim', async () => {
        const all = ids(JOB_MAX_ERRORS + 5);
        await store.upsertProducts(all.map((id) => product(id)));
        const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
        const chunk = (await store.claimJobChunk('w', 100, MODEL_A))!;
        await store.completeJobChunk(chunk, outcome(chunk, all));
        const done = (await store.getJob(job.id))!;
        expect(done).toMatchObject({ status: 'SUCCEEDED', processed: 0, failed: all.length });
        expect(done.errors.map((e) => e.field)).toEqual(all.slice(0, JOB_MAX_ERRORS).map((id) => ['products', id]));

        const empty = (await store.createJob({ filter: { ids: [] }, reembed: false, model: MODEL_A })).job;
        expect(empty.total).toBe(0);
        expect(await store.claimJobChunk('w', 100, MODEL_A)).toBeUndefined();
        expect((await store.getJob(empty.id))!.status).toBe('SUCCEEDED');
      });

      it('never gives two concurrent claimers the same chunk', async () => {
        const all = ids(40);
        await store.upsertProducts(all.map((id) => product(id)));
        const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
        // A second store on the same database where the adapter has one (another gateway), else two claimers on one.
        const other = opened.reopen ? await opened.reopen() : store;
        try {
          const claimer = async (on: CatalogueStore, name: string) => {
            const got: JobChunk[] = [];
            for (let chunk = await on.claimJobChunk(name, 3, MODEL_A); chunk; chunk = await on.claimJobChunk(name, 3, MODEL_A)) {
              got.push(chunk);
              expect(await on.completeJobChunk(chunk, outcome(chunk))).toBe(true);
            }
            return got;
          };
          const chunks = (await Promise.all([claimer(store, 'a'), claimer(other, 'b'), claimer(store, 'c')])).flat();
          const claimed = chunks.flatMap((c) => c.productIds);
          expect(claimed.length).toBe(all.length);
          expect([...claimed].sort()).toEqual(all);
          expect(new Set(chunks.map((c) => c.seq)).size).toBe(chunks.length);
        } finally {
          if (other !== store) await other.close();
        }
        expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 40, failed: 0 });
      });

      it('reclaims a stale claim for another worker; the first claim then writes nothing', async () => {
        await store.upsertProducts(ids(2).map((id) => product(id)));
        const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
        const first = (await store.claimJobChunk('dead', 10, MODEL_A))!;
        expect(await store.claimJobChunk('alive', 10, MODEL_A)).toBeUndefined(); // its only chunk is claimed
        expect(await store.reclaimStaleJobChunks(new Date(Date.now() - 3_600_000).toISOString())).toBe(0);
        expect(await store.reclaimStaleJobChunks(new Date(Date.now() + 1_000).toISOString())).toBe(1);
        const second = (await store.claimJobChunk('alive', 10, MODEL_A))!;
        expect(second).toMatchObject({ jobId: job.id, seq: first.seq, productIds: first.productIds, attempts: 2 });
        expect(second.claim).not.toBe(first.claim);
        // The dead worker wakes up: its claim is gone, so nothing it did is written or counted.
        expect(await store.completeJobChunk(first, outcome(first))).toBe(false);
        expect((await store.getTags(ids(2))).get('j000') ?? []).toEqual([]);
        expect(await store.completeJobChunk(second, outcome(second))).toBe(true);
        // Done twice: the second completion tags nothing twice and counts nothing twice.
        expect(await store.completeJobChunk(second, outcome(second))).toBe(false);
        expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 2 });
        expect((await store.getTags(['j000'])).get('j000')).toEqual([tag('j000', 'colour', 'red')]);
      });

      it(`fails a job whose chunk was claimed ${JOB_CHUNK_MAX_ATTEMPTS} times without completing`, async () => {
        await store.upsertProducts(ids(2).map((id) => product(id)));
        const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
        for (let i = 0; i < JOB_CHUNK_MAX_ATTEMPTS; i++) {
          expect((await store.claimJobChunk('crashing', 10, MODEL_A))!.attempts).toBe(i + 1);
          await store.reclaimStaleJobChunks(new Date(Date.now() + 1_000).toISOString());
        }
        expect(await store.claimJobChunk('crashing', 10, MODEL_A)).toBeUndefined();
        const failed = (await store.getJob(job.id))!;
        expect(failed.status).toBe('FAILED');
        expect(failed.finishedAt).not.toBeNull();
        expect(failed.errors).toEqual([{ field: null, code: 'JOB_FAILED', message: expect.stringContaining('claimed 3 times') }]);
      });

      it('cancels a job: its claimed chunk then writes nothing and nothing more is handed out', async () => {
        await store.upsertProducts(ids(6).map((id) => product(id)));
        const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
        const chunk = (await store.claimJobChunk('w', 3, MODEL_A))!;
        const cancelled = (await store.cancelJob(job.id))!;
        expect(cancelled).toMatchObject({ id: job.id, status: 'CANCELLED', processed: 0 });
        expect(cancelled.finishedAt).not.toBeNull();
        expect(await store.completeJobChunk(chunk, outcome(chunk))).toBe(false);
        expect([...(await store.getTags(ids(6))).values()].flat()).toEqual([]);
        expect(await store.claimJobChunk('w', 3, MODEL_A)).toBeUndefined();
        expect(await store.cancelJob(job.id)).toEqual(cancelled); // again: unchanged
        expect(await store.cancelJob('no-such-job')).toBeUndefined();
        // A finished job stays finished.
        const { job: next } = await store.createJob({ filter: { ids: [] }, reembed: false, model: MODEL_A });
        await store.claimJobChunk('w', 3, MODEL_A);
        expect((await store.cancelJob(next.id))!.status).toBe('SUCCEEDED');
      });

      describe('model changes', () => {
        const b = (i: number) => vec(...[0, 1, 2, 3, 4, 5, 6, 7].map((j) => (j === i % 8 ? 1 : 0)));
        /** A re-embedding chunk's outcome: a MODEL_B vector for each product, or a failure for those in `failing`. */
        function embedded(chunk: JobChunk, failing: string[] = []): ChunkOutcome {
          const good = chunk.productIds.filter((id) => !failing.includes(id));
          return {
            ...outcome(chunk, failing),
            productIds: [],
            tags: [],
            write: {
              model: MODEL_B,
              products: [],
              imageVectors: [],
              imageBytes: [],
              productVectors: good.map((id, i) => ({ productId: id, imageHashes: [hash(id)], vector: b(i) })),
            },
          };
        }
        /** Claims and completes re-embedding chunks; stops at the first other chunk, claimed and returned as `next`. */
        async function drain(model: VectorModel, make: (chunk: JobChunk) => ChunkOutcome) {
          const chunks: JobChunk[] = [];
          for (let c = await store.claimJobChunk('w', 2, model); c; c = await store.claimJobChunk('w', 2, model)) {
            if (!c.reembed) return { chunks, next: c };
            chunks.push(c);
            expect(await store.completeJobChunk(c, make(c))).toBe(true);
          }
          return { chunks, next: undefined };
        }

        beforeEach(async () => {
          await store.upsertProducts(ids(5).map((id) => product(id)));
          await store.putProductVectors(
            MODEL_A,
            ids(5).map((productId, i) => ({ productId, vector: vec(...[0, 1, 2, 3].map((j) => (j === i % 4 ? 1 : 0))) })),
          );
          await store.putProductVectors(MODEL_B, [{ productId: 'j000', vector: b(7) }]);
        });

        it('covers the products without a vector of the new model, then switches over and queues a re-tagging', async () => {
          const { job, created } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
          expect(created).toBe(true);
          expect(job).toMatchObject({ changesModel: true, model: 'clip-b|fp32', total: 4, status: 'QUEUED' });
          expect(await store.getModelState()).toEqual({ active: MODEL_A, target: MODEL_B });
          // One open at a time: asking again gives the same job.
          expect(await store.createJob({ filter: {}, reembed: true, model: MODEL_B, idempotencyKey: 'again' })).toEqual({
            job,
            created: false,
          });
          await expect(store.createJob({ filter: { ids: ['j001'] }, reembed: true, model: MODEL_B })).rejects.toThrow(
            /filter must be empty/,
          );
          // A gateway of the active model does not take the new model's work.
          expect(await store.claimJobChunk('old', 2, MODEL_A)).toBeUndefined();
          const { chunks, next } = await drain(MODEL_B, (c) => embedded(c));
          expect(chunks.map((c) => c.productIds)).toEqual([
            ['j001', 'j002'],
            ['j003', 'j004'],
          ]);
          expect(chunks.every((c) => c.reembed && c.changesModel && c.model === 'clip-b|fp32')).toBe(true);
          expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 4, failed: 0 });
          expect(await store.getModelState()).toEqual({ active: MODEL_B, target: null });
          expect((await store.searchProducts(MODEL_B, b(0), 5)).length).toBe(5);
          // The switch-over queued a tagging job for the new model, which only its gateways take.
          expect(next).toMatchObject({ reembed: false, changesModel: false, model: 'clip-b|fp32', productIds: ['j000', 'j001'] });
          expect((await store.getJob(next!.jobId))!.total).toBe(5);
          expect(await store.claimJobChunk('old', 2, MODEL_A)).toBeUndefined();
        });

        it('fails when a product failed, keeps the old model, and a new job does only what is left', async () => {
          const { job } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
          expect((await drain(MODEL_B, (c) => embedded(c, ['j003']))).next).toBeUndefined();
          const failed = (await store.getJob(job.id))!;
          expect(failed).toMatchObject({ status: 'FAILED', processed: 3, failed: 1 });
          expect(failed.errors.map((e) => e.code)).toEqual(['NOT_FOUND', MODEL_CHANGE_INCOMPLETE]);
          expect(await store.getModelState()).toEqual({ active: MODEL_A, target: MODEL_B });
          const { job: next, created } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
          expect(created).toBe(true);
          expect(next.total).toBe(1);
          expect((await drain(MODEL_B, (c) => embedded(c))).chunks.map((c) => c.productIds)).toEqual([['j003']]);
          expect(await store.getModelState()).toEqual({ active: MODEL_B, target: null });
        });

        it('goes over products added behind its cursor before switching over', async () => {
          await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
          const first = (await store.claimJobChunk('w', 2, MODEL_B))!;
          await store.upsertProducts([product('a-late')]); // sorts before every chunk cut so far
          expect(await store.completeJobChunk(first, embedded(first))).toBe(true);
          const rest = (await drain(MODEL_B, (c) => embedded(c))).chunks;
          expect(rest.map((c) => c.productIds)).toEqual([['j003', 'j004'], ['a-late']]);
          expect(await store.getModelState()).toEqual({ active: MODEL_B, target: null });
        });

        it('cancelling it clears the target', async () => {
          const { job } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
          await store.cancelJob(job.id);
          expect(await store.getModelState()).toEqual({ active: MODEL_A, target: null });
          expect(await store.claimJobChunk('w', 2, MODEL_B)).toBeUndefined();
        });

        it('a re-embedding job of the active model refreshes the filtered products and switches nothing', async () => {
          const { job } = await store.createJob({ filter: { ids: ['j001'] }, reembed: true, model: MODEL_A });
          expect(job).toMatchObject({ changesModel: false, total: 1 });
          expect(await store.claimJobChunk('other', 2, MODEL_B)).toBeUndefined();
          const chunk = (await store.claimJobChunk('w', 2, MODEL_A))!;
          expect(chunk).toMatchObject({ productIds: ['j001'], reembed: true, changesModel: false });
          await store.completeJobChunk(chunk, {
            ...outcome(chunk),
            write: {
              ...embedded(chunk).write!,
              model: MODEL_A,
              productVectors: [{ productId: 'j001', imageHashes: [hash('j001')], vector: vec(0, 0, 1, 0) }],
            },
          });
          expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED' });
          expect(await store.getProductVector(MODEL_A, 'j001')).toEqual(vec(0, 0, 1, 0));
          expect(await store.getModelState()).toEqual({ active: MODEL_A, target: null });
        });
      });

      it('a store reopened on the same database carries on with the same job', async () => {
        if (!opened.reopen) return;
        await store.upsertProducts(ids(5).map((id) => product(id)));
        const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'k' });
        const chunk = (await store.claimJobChunk('w', 2, MODEL_A))!;
        await store.completeJobChunk(chunk, outcome(chunk));
        await store.claimJobChunk('killed', 2, MODEL_A); // claimed, never completed: its process died
        await store.close();
        const again = await opened.reopen();
        try {
          await again.reclaimStaleJobChunks(new Date(Date.now() + 1_000).toISOString());
          const seen: string[] = [];
          for (let c = await again.claimJobChunk('w2', 2, MODEL_A); c; c = await again.claimJobChunk('w2', 2, MODEL_A)) {
            seen.push(...c.productIds);
            await again.completeJobChunk(c, outcome(c));
          }
          expect(seen).toEqual(ids(5).slice(2));
          expect(await again.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 5 });
          expect((await again.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'k' })).created).toBe(false);
        } finally {
          await again.close();
        }
      });
    });

    describe('schema', () => {
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
  });
}
