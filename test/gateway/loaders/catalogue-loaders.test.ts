import { createProductLoader, createTagLoader, type CatalogueReads } from '../../../gateway/loaders/catalogue-loaders';
import type { ProductRow, TagRow } from '../../../gateway/store';

const product = (id: string) => ({ id, title: id.toUpperCase() }) as ProductRow;
const tag = (productId: string, label: string) => ({ productId, facet: 'colour', label }) as TagRow;

/** The catalogue's two batched reads over a few rows, recording the ids of each call. */
function fakeCatalogue() {
  const calls: { method: keyof CatalogueReads; ids: string[] }[] = [];
  const products = new Map([
    ['p1', product('p1')],
    ['p2', product('p2')],
  ]);
  const tags = new Map([['p1', [tag('p1', 'red'), tag('p1', 'blue')]]]);
  const catalogue: CatalogueReads = {
    async getProducts(ids) {
      calls.push({ method: 'getProducts', ids: [...ids] });
      // In the store's order, not the ids': the loader puts them back in place.
      return [...products.values()].filter((p) => ids.includes(p.id)).reverse();
    },
    async getTags(ids) {
      calls.push({ method: 'getTags', ids: [...ids] });
      return new Map([...tags].filter(([id]) => ids.includes(id)));
    },
  };
  return { calls, catalogue };
}

describe('the catalogue loaders', () => {
  it('reads every product an operation asks for in one call, in order, null for one not stored', async () => {
    const { calls, catalogue } = fakeCatalogue();
    const loader = createProductLoader(catalogue);
    const rows = await Promise.all(['p1', 'nope', 'p2', 'p1'].map((id) => loader.load(id)));
    expect(rows.map((row) => row?.id ?? null)).toEqual(['p1', null, 'p2', 'p1']);
    expect(calls).toEqual([{ method: 'getProducts', ids: ['p1', 'nope', 'p2'] }]);
  });

  it("reads every product's tags in one call, an empty list for a product without tags", async () => {
    const { calls, catalogue } = fakeCatalogue();
    const loader = createTagLoader(catalogue);
    const lists = await Promise.all(['p2', 'p1'].map((id) => loader.load(id)));
    expect(lists.map((list) => list.map((t) => t.label))).toEqual([[], ['red', 'blue']]);
    expect(calls).toEqual([{ method: 'getTags', ids: ['p2', 'p1'] }]);
    // Within the operation, asked again: answered from the loader.
    await loader.load('p1');
    expect(calls).toHaveLength(1);
  });
});
