import { createHash } from 'node:crypto';

import { openSqliteStore } from '../../../gateway/store';
import { createTestGateway, histogram, type TestGateway } from '../../helpers/gateway';
import { shapeProducts } from '../../helpers/catalogue';
import { loadReference } from '../../helpers/tiny-clip';

const reference = loadReference();

const PRODUCT =
  'id title imageCount imageUrls attributes createdAt updatedAt tags { facet label score similarity source needsReview model taxonomyVersion }';
const UPSERT = `mutation ($products: [ProductInput!]!) {
  productsUpsert(products: $products) { products { ${PRODUCT} } userErrors { field message code } }
}`;
const TAXONOMY = `mutation ($facets: [FacetInput!]!) {
  taxonomySet(facets: $facets) { taxonomy { version facets { name labels templates mode threshold reviewBelow } } userErrors { field message code } }
}`;

interface Tag {
  facet: string;
  label: string;
  score: number;
  source: string;
  needsReview: boolean;
}
interface Product {
  id: string;
  title: string;
  imageCount: number;
  attributes: Record<string, unknown>;
  tags: Tag[];
}
interface UserError {
  field: string[] | null;
  message: string;
  code: string;
}

describe('the catalogue over GraphQL', () => {
  let t: TestGateway;
  let products: Awaited<ReturnType<typeof shapeProducts>>;

  beforeAll(async () => {
    t = await createTestGateway({}, { store: await openSqliteStore({ path: ':memory:' }) });
    products = await shapeProducts(21);
    const upserted = await t.graphql<{ productsUpsert: { products: Product[]; userErrors: UserError[] } }>(UPSERT, { products });
    expect(upserted.errors).toBeUndefined();
    expect(upserted.data!.productsUpsert.userErrors).toEqual([]);
    expect(upserted.data!.productsUpsert.products.map((p) => p.id)).toEqual(products.map((p) => p.id));
    expect(upserted.data!.productsUpsert.products[0]).toMatchObject({ imageCount: 1, tags: [], attributes: products[0].attributes });
    // Images sent as bytes have no URL to show them from.
    expect(upserted.data!.productsUpsert.products[0]).toMatchObject({ imageUrls: [null] });

    const set = await t.graphql<{ taxonomySet: { taxonomy: { version: number; facets: { mode: string; templates: string[] }[] } } }>(
      TAXONOMY,
      {
        facets: [{ name: 'kind', labels: reference.classes, reviewBelow: 0.9 }],
      },
    );
    expect(set.errors).toBeUndefined();
    expect(set.data!.taxonomySet.taxonomy).toMatchObject({ version: 1, facets: [{ mode: 'SINGLE', templates: ['a photo of a {}.'] }] });
  });

  afterAll(() => t.stop());

  it('tags at least 95% of the shapes right, loading every tag in one batch', async () => {
    const getTags = jest.spyOn(t.gateway.store, 'getTags');
    const response = await t.graphql<{ products: { edges: { node: Product }[] } }>(
      `{ products(first: 50) { edges { node { ${PRODUCT} } } } }`,
    );
    expect(response.errors).toBeUndefined();
    expect(getTags).toHaveBeenCalledTimes(1);
    getTags.mockRestore();
    const nodes = response.data!.products.edges.map((e) => e.node);
    expect(nodes).toHaveLength(32);
    const right = nodes.filter((p) => p.tags[0]?.label === p.title && p.tags[0].source === 'AUTO').length;
    expect(right / nodes.length).toBeGreaterThanOrEqual(0.95);
  });

  it('finds red circles first for "a red circle", and by label', async () => {
    const search = await t.graphql<{ productSearch: { product: Product; score: number }[] }>(
      `{ productSearch(query: { text: "a red circle" }, first: 3) { product { id title } score } }`,
    );
    expect(search.errors).toBeUndefined();
    expect(search.data!.productSearch[0].product.title).toBe('red circle');
    const scores = search.data!.productSearch.map((h) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);

    const filtered = await t.graphql<{ productSearch: { product: Product }[] }>(
      `{ productSearch(query: { text: "a red circle" }, filter: { attributes: { shape: "square" } }, first: 2) { product { title } } }`,
    );
    expect(filtered.data!.productSearch.map((h) => h.product.title.split(' ')[1])).toEqual(['square', 'square']);

    const similar = await t.graphql<{ productSearch: { product: Product }[] }>(
      `{ productSearch(query: { productId: "p00" }, first: 3) { product { id } } }`,
    );
    expect(similar.data!.productSearch.map((h) => h.product.id)).not.toContain('p00');

    const top = await t.graphql<{ labelTopProducts: { product: Product; score: number }[] }>(
      `{ labelTopProducts(facet: "kind", label: "red circle", first: 1) { product { title } score } }`,
    );
    expect(top.data!.labelTopProducts).toEqual([{ product: { title: 'red circle' }, score: expect.any(Number) }]);

    const both = await t.graphql(`{ productSearch(query: { text: "x", productId: "p00" }) { score } }`);
    expect(both.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('exactly one') });
  });

  it('pages products by cursor, from any edge', async () => {
    const query = `query ($after: String, $filter: ProductFilter) { products(first: 10, after: $after, filter: $filter) {
      edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`;
    type Page = {
      products: { edges: { cursor: string; node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    };
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Page = (await t.graphql<Page>(query, { after })).data!;
      seen.push(...page.products.edges.map((e) => e.node.id));
      if (!page.products.pageInfo.hasNextPage) break;
      after = page.products.pageInfo.endCursor;
    }
    expect(seen).toEqual(products.map((p) => p.id));

    const first = (await t.graphql<Page>(query, {})).data!.products;
    const fromEdge = (await t.graphql<Page>(query, { after: first.edges[4].cursor })).data!.products;
    expect(fromEdge.edges[0].node.id).toBe('p05');

    const red = (await t.graphql<Page>(query, { filter: { attributes: { colour: 'red' } } })).data!.products;
    expect(red.edges.map((e) => e.node.id)).toHaveLength(4);

    const bad = await t.graphql(query, { after: 'nonsense' });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('keeps a manual tag over a taxonomy change, re-tagging without embedding any image', async () => {
    const set = await t.graphql<{ productTagsSet: { product: Product; userErrors: UserError[] } }>(
      `mutation { productTagsSet(productId: "p01", facet: "kind", labels: ["green square"]) { product { id tags { facet label source score } } userErrors { field code } } }`,
    );
    expect(set.data!.productTagsSet).toEqual({
      product: { id: 'p01', tags: [{ facet: 'kind', label: 'green square', source: 'MANUAL', score: 1 }] },
      userErrors: [],
    });
    const refused = await t.graphql<{ productTagsSet: { product: null; userErrors: UserError[] } }>(
      `mutation { productTagsSet(productId: "p01", facet: "kind", labels: ["mauve blob"]) { product { id } userErrors { field code message } } }`,
    );
    expect(refused.data!.productTagsSet).toMatchObject({ product: null, userErrors: [{ field: ['labels', '0'], code: 'BAD_USER_INPUT' }] });

    const before = await histogram(t.gateway, 'batchSize', { kind: 'image' });
    const changed = await t.graphql<{ taxonomySet: { taxonomy: { version: number } } }>(TAXONOMY, {
      facets: [
        { name: 'kind', labels: reference.classes, templates: ['a photo of a {}.', 'a {}.'] },
        { name: 'colour', labels: Object.keys(reference.domain.colours), mode: 'MULTI', threshold: 0.3, reviewBelow: 1 },
      ],
    });
    expect(changed.data!.taxonomySet.taxonomy.version).toBe(2);
    expect(await histogram(t.gateway, 'batchSize', { kind: 'image' })).toEqual(before);

    const product = await t.graphql<{ product: Product }>(`{ product(id: "p01") { tags { facet label source } } }`);
    expect(product.data!.product.tags).toEqual(
      expect.arrayContaining([
        { facet: 'kind', label: 'green square', source: 'MANUAL' },
        { facet: 'colour', label: expect.any(String), source: 'AUTO' },
      ]),
    );
    expect(product.data!.product.tags.filter((tag) => tag.facet === 'kind')).toHaveLength(1);
  });

  it('gives userErrors for a bad taxonomy and keeps the current one', async () => {
    const before = (await t.graphql<{ taxonomy: { version: number } }>(`{ taxonomy { version } }`)).data!.taxonomy.version;
    const response = await t.graphql<{ taxonomySet: { taxonomy: null; userErrors: UserError[] } }>(TAXONOMY, {
      facets: [
        { name: 'kind', labels: ['a', 'a'] },
        { name: 'kind', labels: ['b'], templates: ['no placeholder'], reviewBelow: 1.5 },
      ],
    });
    expect(response.data!.taxonomySet.taxonomy).toBeNull();
    expect(response.data!.taxonomySet.userErrors.map((e) => e.field)).toEqual([
      ['facets', '0', 'labels', '1'],
      ['facets', '1', 'name'],
      ['facets', '1', 'templates', '0'],
      ['facets', '1', 'reviewBelow'],
    ]);
    const empty = await t.graphql<{ taxonomySet: { userErrors: UserError[] } }>(TAXONOMY, { facets: [] });
    expect(empty.data!.taxonomySet.userErrors).toEqual([
      { field: ['facets'], code: 'BAD_USER_INPUT', message: expect.stringContaining('empty') },
    ]);
    expect((await t.graphql<{ taxonomy: { version: number } }>(`{ taxonomy { version } }`)).data!.taxonomy.version).toBe(before);
  });

  it('says of an image sent as bytes what is true: no URL to show, its bytes kept (for a model change) and not served', async () => {
    const described = await t.graphql<{ __type: { fields: { name: string; description: string | null }[] } }>(
      `{ __type(name: "Product") { fields { name description } } }`,
    );
    const imageUrls = described.data!.__type.fields.find((f) => f.name === 'imageUrls')!.description!;
    expect(imageUrls).toMatch(/null for an image sent inline as bytes, which has no URL to show/);
    expect(imageUrls).toMatch(/keeps its bytes, to embed it again when the model changes, but does not serve them/);
    expect(imageUrls).not.toMatch(/does not keep/);
    const bytes = Buffer.from(products[0].images[0].base64, 'base64');
    const hash = createHash('sha256').update(bytes).digest('hex');
    const kept = await t.gateway.store.getImageBytes([hash]);
    expect(Buffer.from(kept.get(hash)!).equals(bytes)).toBe(true);
  });

  it('fails one bad product alone, and does not embed a re-upserted image again', async () => {
    const before = await histogram(t.gateway, 'batchSize', { kind: 'image' });
    const response = await t.graphql<{ productsUpsert: { products: (Product | null)[]; userErrors: UserError[] } }>(UPSERT, {
      products: [
        { ...products[2], title: 'renamed' },
        { id: 'broken', images: [{ base64: '%%% not base64 %%%' }] },
      ],
    });
    expect(response.errors).toBeUndefined();
    const { products: stored, userErrors } = response.data!.productsUpsert;
    expect(stored[0]).toMatchObject({ id: products[2].id, title: 'renamed' });
    expect(stored[1]).toBeNull();
    expect(userErrors).toEqual([
      {
        field: ['products', '1', 'images', '0', 'base64'],
        code: expect.any(String),
        message: expect.stringMatching(/^products\[1\]\.images\[0\]\.base64: /),
      },
    ]);
    expect(await histogram(t.gateway, 'batchSize', { kind: 'image' })).toEqual(before);
    expect((await t.graphql<{ product: null }>(`{ product(id: "broken") { id } }`)).data!.product).toBeNull();
  });

  it('lists tags for review, and deletes products', async () => {
    const review = await t.graphql<{ tagsForReview: { edges: { node: { productId: string; needsReview: boolean } }[] } }>(
      `{ tagsForReview(first: 5) { edges { cursor node { productId facet label needsReview } } pageInfo { hasNextPage endCursor } } }`,
    );
    expect(review.errors).toBeUndefined();
    const edges = review.data!.tagsForReview.edges;
    expect(edges).toHaveLength(5);
    expect(edges.every((e) => e.node.needsReview)).toBe(true);

    const deleted = await t.graphql<{ productsDelete: { deletedIds: string[]; userErrors: UserError[] } }>(
      `mutation { productsDelete(ids: ["p31", "missing"]) { deletedIds userErrors { field } } }`,
    );
    expect(deleted.data!.productsDelete).toEqual({ deletedIds: ['p31'], userErrors: [] });
    expect((await t.graphql<{ product: null }>(`{ product(id: "p31") { id } }`)).data!.product).toBeNull();
    const search = await t.graphql<{ productSearch: { product: { id: string } }[] }>(
      `{ productSearch(query: { text: "a red circle" }, first: 50) { product { id } } }`,
    );
    expect(search.data!.productSearch.map((h) => h.product.id)).not.toContain('p31');
  });
});
