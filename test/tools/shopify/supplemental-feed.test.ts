import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';

import { openSqliteStore, type CatalogueStore, type TagRow } from '../../../gateway/store';
import { GoogleMapping, SUPPLEMENTAL_COLUMNS, tsvCell, writeSupplementalFeed } from '../../../tools/shopify';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const gid = (id: string) => `gid://shopify/TaxonomyCategory/${id}`;
/** Shopify 2025-08 categories and the Google ids Shopify's mapping gives them (taxonomies/, and google-mapping.test.ts). */
const GOOGLE_OF = new Map([
  [gid('aa-1-13-8'), '212'],
  [gid('aa-1-4'), '2271'],
  [gid('aa-8-3'), '187'],
]);
/** Shopify's Bundles, which its mapping sends nowhere. */
const UNMAPPED = gid('bu');

let dir: string;
let store: CatalogueStore;
const mapping = GoogleMapping.load();
const facets = { category: 'category', color: 'colour', pattern: 'shape', material: 'material' };

/** The feed's rows by id, as Merchant Center reads a TSV feed (quoted fields allowed). */
function rowsOf(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8'), { delimiter: '\t', columns: true, relax_quotes: false }) as Record<string, string>[];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'supplemental-'));
  const path = join(dir, 'catalogue.sqlite');
  // The tiny CLIP tags eight products: a category among Shopify GIDs (one of them mapped nowhere), a colour, a shape.
  const gateway = await createTestGateway({ store: { kind: 'sqlite', path } });
  const classes = loadReference().classes;
  const taxonomy = [
    { name: 'category', labels: [...GOOGLE_OF.keys(), UNMAPPED] },
    { name: 'colour', labels: [...new Set(classes.map((c) => c.split(' ')[0]))] },
    { name: 'shape', mode: 'MULTI', labels: [...new Set(classes.map((c) => c.split(' ')[1]))] },
  ];
  const products = (await shapeProducts(5)).slice(0, 8);
  // A grouped product: its feed items' ids in an attribute, one with a tab, which the feed must quote.
  products[0].attributes = { ...products[0].attributes, itemIds: ['sku-1', 'sku\t2'] } as (typeof products)[0]['attributes'];
  await seedShapeCatalogue(gateway.graphql, products, taxonomy);
  await gateway.stop();
  store = await openSqliteStore({ path });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('writeSupplementalFeed', () => {
  it("gives each product a row of its Google category through Shopify's mapping and its colour, pattern and material", async () => {
    const out = join(dir, 'feed.tsv');
    const summary = await writeSupplementalFeed({ store, out, mapping, facets, pageSize: 3 });
    const tags = await store.getTags((await store.listProducts({}, 100)).items.map((p) => p.id));
    const labels = (productTags: TagRow[], facet: string) =>
      [...new Set(productTags.filter((t) => t.facet === facet).map((t) => t.label))].sort().join('/');

    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe(SUPPLEMENTAL_COLUMNS.join('\t'));
    const rows = rowsOf(out);
    expect(rows.map((row) => row.id).sort()).toEqual([...tags.keys()].sort());
    expect(summary).toMatchObject({ products: tags.size, rows: tags.size });
    for (const row of rows) {
      const productTags = tags.get(row.id)!;
      const category = productTags.find((t) => t.facet === 'category')!.label;
      expect(row).toEqual({
        id: row.id,
        google_product_category: GOOGLE_OF.get(category) ?? '',
        color: labels(productTags, 'colour'),
        pattern: labels(productTags, 'shape'),
        material: '',
      });
    }
    // Every product reached a row: paged by 3, none lost at a page's edge.
    const unmapped = rows.filter((row) => tags.get(row.id)!.some((t) => t.label === UNMAPPED)).map((row) => row.id);
    expect(summary.notes).toEqual(unmapped.map((id) => `${id}: ${JSON.stringify(UNMAPPED)} maps to no Google category.`));
  });

  it('gives a grouped product a row per item id kept in --id-attribute, quoting what would break a TSV row, and says which products have none', async () => {
    const out = join(dir, 'grouped.tsv');
    const summary = await writeSupplementalFeed({ store, out, mapping, facets, idAttribute: 'itemIds' });
    const rows = rowsOf(out);
    expect(rows.map((row) => row.id)).toEqual(expect.arrayContaining(['sku-1', 'sku\t2']));
    const [first, second] = rows.filter((row) => row.id.startsWith('sku'));
    expect({ ...second, id: first.id }).toEqual(first);
    expect(summary.rows).toBe(summary.products + 1);
    expect(summary.notes.filter((note) => note.includes('no itemIds attribute'))).toHaveLength(summary.products - 1);
  });

  it("writes an attribute facet's values by their names, as Merchant Center's color column takes them", async () => {
    // As an attribute facet keeps them: ids as labels, names beside them (the store's taxonomy, set
    // here over the same labels, so the products keep their tags).
    const before = (await store.getTaxonomy())!;
    const named = before.facets.map((facet) =>
      facet.name === 'colour'
        ? { ...facet, labelNames: facet.labels.map((label) => `${label[0]!.toUpperCase()}${label.slice(1)}`) }
        : facet,
    );
    await store.setTaxonomy(named);
    try {
      const out = join(dir, 'named.tsv');
      await writeSupplementalFeed({ store, out, mapping, facets });
      const tags = await store.getTags((await store.listProducts({}, 100)).items.map((p) => p.id));
      for (const row of rowsOf(out)) {
        const colour = tags.get(row.id)!.find((t) => t.facet === 'colour')!.label;
        expect([row.id, row.color]).toEqual([row.id, `${colour[0]!.toUpperCase()}${colour.slice(1)}`]);
      }
    } finally {
      await store.setTaxonomy(before.facets);
    }
  });

  it('leaves out products with none of the facets, and facets the taxonomy does not have', async () => {
    const out = join(dir, 'none.tsv');
    const summary = await writeSupplementalFeed({
      store,
      out,
      mapping,
      facets: { category: 'missing', color: 'missing', pattern: 'missing', material: 'missing' },
    });
    expect(summary).toEqual({ products: 0, rows: 0, notes: [] });
    expect(readFileSync(out, 'utf8')).toBe(`${SUPPLEMENTAL_COLUMNS.join('\t')}\n`);
  });
});

describe('tsvCell', () => {
  it('quotes a value holding a tab, a line break or a quote, doubling the quote, and nothing else', () => {
    expect(tsvCell('red/blue')).toBe('red/blue');
    expect(tsvCell('a\tb')).toBe('"a\tb"');
    expect(tsvCell('a\nb')).toBe('"a\nb"');
    expect(tsvCell('12" boots')).toBe('"12"" boots"');
  });
});
