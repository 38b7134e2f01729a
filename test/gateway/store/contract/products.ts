/** The contract's products: upserts, deletes, keyset pages, filters and cursors. */
import type { CatalogueStore } from '../../../../gateway/store';
import { codeOf, hash, product, T0, T1, T2, tag, type Subject } from './fixtures';

export function productsContract(subject: Subject): void {
  describe('products', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });
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
}
