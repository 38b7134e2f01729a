import type { TagChangeRow } from '../../../gateway/store';
import { coalesce, metafieldKey, operationsFor, QUERIES } from '../../../tools/shopify';

const GID = 'gid://shopify/Product/7001';
const T_SHIRTS = 'gid://shopify/TaxonomyCategory/aa-1-13-8';
const options = { categoryFacet: 'category', namespace: 'clip' };

let seq = 0;
function change(productId: string, facet: string, previousLabels: string[], labels: string[]): TagChangeRow {
  return {
    seq: ++seq,
    productId,
    facet,
    previousLabels,
    labels,
    source: 'auto',
    model: 'tiny|fp32',
    changedAt: '2026-12-07T00:00:00.000Z',
  };
}

const plan = (changes: TagChangeRow[]) => operationsFor(coalesce(changes)[0], GID, options);

describe('tools/shopify/operations.ts', () => {
  beforeEach(() => (seq = 0));

  it('makes the category, tags and metafield operations of one product, in the Admin API 2025-10 shapes', () => {
    const { operations, notes, problems } = plan([change('tee', 'category', [], [T_SHIRTS]), change('tee', 'colour', [], ['red'])]);
    expect(problems).toEqual([]);
    expect(notes).toEqual([]);
    expect(operations).toEqual([
      {
        name: 'productUpdate',
        query: `mutation ProductCategorySet($product: ProductUpdateInput!) {
  productUpdate(product: $product) { product { id } userErrors { field message } }
}`,
        variables: { product: { id: GID, category: T_SHIRTS } },
      },
      {
        name: 'tagsAdd',
        query: `mutation ProductTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`,
        variables: { id: GID, tags: ['colour:red'] },
      },
      {
        name: 'metafieldsSet',
        query: `mutation ProductMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key namespace } userErrors { field message code } }
}`,
        variables: {
          metafields: [{ ownerId: GID, namespace: 'clip', key: 'colour', type: 'list.single_line_text_field', value: '["red"]' }],
        },
      },
    ]);
  });

  it('removes the tags of labels taken away and adds the final ones, removal first', () => {
    const { operations } = plan([change('tee', 'material', ['cotton', 'linen'], ['linen', 'wool'])]);
    expect(operations.map((o) => [o.name, o.variables])).toEqual([
      ['tagsRemove', { id: GID, tags: ['material:cotton'] }],
      ['tagsAdd', { id: GID, tags: ['material:linen', 'material:wool'] }],
      [
        'metafieldsSet',
        {
          metafields: [
            { ownerId: GID, namespace: 'clip', key: 'material', type: 'list.single_line_text_field', value: '["linen","wool"]' },
          ],
        },
      ],
    ]);
    expect(operations[0].query).toBe(QUERIES.tagsRemove);
  });

  it('coalesces the changes of one product into one set of operations with its latest labels', () => {
    const changes = [
      change('tee', 'colour', [], ['red']),
      change('mug', 'colour', [], ['blue']),
      change('tee', 'colour', ['red'], ['green']),
      change('tee', 'colour', ['green'], ['green', 'red']),
    ];
    const products = coalesce(changes);
    expect(products.map((p) => [p.productId, p.firstSeq, p.lastSeq])).toEqual([
      ['tee', 1, 4],
      ['mug', 2, 2],
    ]);
    const { operations } = operationsFor(products[0], GID, options);
    expect(operations.map((o) => o.name)).toEqual(['tagsAdd', 'metafieldsSet']);
    expect(operations[0].variables).toEqual({ id: GID, tags: ['colour:green', 'colour:red'] });
    expect((operations[1].variables.metafields as { value: string }[])[0].value).toBe('["green","red"]');
  });

  it('removes a label added and taken away again within the run: a run stopped half-way may have added it', () => {
    const { operations } = plan([change('tee', 'colour', ['red'], ['blue', 'red']), change('tee', 'colour', ['blue', 'red'], ['red'])]);
    expect(operations.map((o) => [o.name, o.variables.tags])).toEqual([
      ['tagsRemove', ['colour:blue']],
      ['tagsAdd', ['colour:red']],
      ['metafieldsSet', undefined],
    ]);
  });

  it('sets 30 facets in two metafieldsSet calls of 25 and 5, and deletes the metafield of a facet left empty', () => {
    const changes = Array.from({ length: 30 }, (_, i) => change('tee', `facet${i}`, [], [`label${i}`]));
    changes.push(change('tee', 'gone', ['x'], []));
    const { operations } = plan(changes);
    const sets = operations.filter((o) => o.name === 'metafieldsSet').map((o) => (o.variables.metafields as unknown[]).length);
    expect(sets).toEqual([25, 5]);
    expect(operations.find((o) => o.name === 'metafieldsDelete')!.variables).toEqual({
      metafields: [{ ownerId: GID, namespace: 'clip', key: 'gone' }],
    });
    expect(operations.find((o) => o.name === 'tagsRemove')!.variables.tags).toEqual(['gone:x']);
    expect(operations.find((o) => o.name === 'tagsAdd')!.variables.tags as string[]).toHaveLength(30);
  });

  it('keeps a label holding a comma out of the tags (Shopify would split it) but in the metafield, and says so', () => {
    const { operations, notes } = plan([change('tee', 'pattern', [], ['dots, stripes'])]);
    expect(operations.map((o) => o.name)).toEqual(['metafieldsSet']);
    expect(notes).toEqual(['"dots, stripes" (pattern) is not written as a tag: Shopify splits tags at commas.']);
  });

  it('refuses a category that is not one Shopify category GID, and leaves a removed category as it is', () => {
    expect(plan([change('tee', 'category', [], [T_SHIRTS, 'gid://shopify/TaxonomyCategory/aa-1-4'])]).problems).toEqual([
      `category has 2 labels (${T_SHIRTS}, gid://shopify/TaxonomyCategory/aa-1-4); a Shopify product has one category.`,
    ]);
    expect(plan([change('tee', 'category', [], ['212'])]).problems).toEqual([
      'category\'s label "212" is not a Shopify category GID (gid://shopify/TaxonomyCategory/...).',
    ]);
    const removed = plan([change('tee', 'category', [T_SHIRTS], [])]);
    expect(removed.operations).toEqual([]);
    expect(removed.notes).toEqual(["The catalogue has no category for tee any more; the shop's category is left as it is."]);
  });

  it('makes a facet name Shopify refuses as a key into a valid one, distinct for names made alike', () => {
    expect(metafieldKey('colour')).toBe('colour');
    const [a, b] = [metafieldKey('Colour family'), metafieldKey('Colour/family')];
    for (const key of [a, b, metafieldKey('x'), metafieldKey('é'.repeat(100))]) expect(key).toMatch(/^[A-Za-z0-9_-]{2,64}$/);
    expect(a).toMatch(/^Colour_family_[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });
});
