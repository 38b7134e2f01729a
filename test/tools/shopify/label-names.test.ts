import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openSqliteStore, type FacetRow } from '../../../gateway/store';
import { labelNamesOf, writeBack } from '../../../tools/shopify';

import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const CATEGORY = 'gid://shopify/TaxonomyCategory/aa-1-13-8';

const facet = (name: string, labels: string[], labelNames?: string[]): FacetRow => ({
  name,
  labels,
  templates: ['a photo of a {}.'],
  mode: 'single',
  threshold: null,
  reviewBelow: null,
  ...(labelNames ? { labelNames } : {}),
});

describe('labelNamesOf', () => {
  it("names an attribute facet's value ids as the taxonomy does, and leaves every other label as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'label-names-'));
    const store = await openSqliteStore({ path: join(dir, 'catalogue.sqlite') });
    try {
      await store.migrate();
      expect((await labelNamesOf(store))('color', 'gid://shopify/TaxonomyValue/1')).toBe('gid://shopify/TaxonomyValue/1');
      await store.setTaxonomy([
        facet('color', ['gid://shopify/TaxonomyValue/1', 'gid://shopify/TaxonomyValue/3'], ['Red', 'Blue']),
        facet('shape', ['star', 'circle']),
      ]);
      const nameOf = await labelNamesOf(store);
      expect(nameOf('color', 'gid://shopify/TaxonomyValue/3')).toBe('Blue');
      expect(nameOf('color', 'gid://shopify/TaxonomyValue/9')).toBe('gid://shopify/TaxonomyValue/9');
      expect(nameOf('shape', 'star')).toBe('star');
      expect(nameOf('pattern', 'gid://shopify/TaxonomyValue/1')).toBe('gid://shopify/TaxonomyValue/1');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('writeBack with named labels', () => {
  let dir: string;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("sends an attribute facet's values to the shop by their names, and the category as its GID", async () => {
    dir = mkdtempSync(join(tmpdir(), 'writeback-names-'));
    const path = join(dir, 'catalogue.sqlite');
    const gateway = await createTestGateway({ store: { kind: 'sqlite', path } });
    const colours = [...new Set(loadReference().classes.map((c) => c.split(' ')[0]!))];
    const products = (await shapeProducts(3)).slice(0, 3).map((product, i) => ({
      ...product,
      attributes: { ...product.attributes, shopifyProductId: `gid://shopify/Product/${100 + i}` },
    }));
    await seedShapeCatalogue(gateway.graphql, products, [
      { name: 'category', labels: [CATEGORY] },
      { name: 'color', labels: colours },
    ]);
    await gateway.stop();
    const store = await openSqliteStore({ path });
    try {
      // The colour facet as an attribute facet keeps it: names beside the labels.
      const taxonomy = (await store.getTaxonomy())!;
      const nameOf = (label: string) => `Shade ${label}`;
      await store.setTaxonomy(taxonomy.facets.map((f) => (f.name === 'color' ? { ...f, labelNames: f.labels.map(nameOf) } : f)));
      const out = join(dir, 'operations.jsonl');
      const summary = await writeBack({
        store,
        target: { kind: 'file', out, after: 0 },
        operations: { categoryFacet: 'category', namespace: 'clip' },
        say: () => {},
      });
      expect(summary.failures).toEqual([]);
      const lines = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { product: string; operation: string; variables: Record<string, unknown> });
      const tags = await store.getTags(products.map((p) => p.id));
      for (const product of products) {
        const colour = tags.get(product.id)!.find((t) => t.facet === 'color')!.label;
        const mine = lines.filter((line) => line.product === product.id);
        expect(mine.find((line) => line.operation === 'tagsAdd')!.variables.tags).toEqual([`color:${nameOf(colour)}`]);
        expect(JSON.stringify(mine.find((line) => line.operation === 'productUpdate')!.variables)).toContain(CATEGORY);
      }
    } finally {
      await store.close();
    }
  });
});
