import { readFileSync } from 'node:fs';

import { parse } from 'graphql';

import { operationDemand } from '../../../gateway/limits/demand';
import {
  buildGatewaySubgraphSchema,
  printGatewaySchema,
  printGatewaySubgraphSchema,
  SUBGRAPH_OMITTED_PRODUCT_FIELDS,
  SUBGRAPH_RENAMED_QUERIES,
  SUBGRAPH_SCHEMA_FILE,
} from '../../../gateway/schema';
import { openSqliteStore } from '../../../gateway/store';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, type GraphQLResponse, type TestGateway } from '../../helpers/gateway';

/** The SDL without descriptions, on one line, for substring checks. */
const flat = (sdl: string) =>
  sdl
    .replace(/"""[\s\S]*?"""/g, '')
    .replace(/"[^"\n]*"\s*(?=[a-zA-Z_]+[(:])/g, '')
    .replace(/\s+/g, ' ');

describe('schema/subgraph.graphql', () => {
  it('is what the code emits (run `npm run schema` after changing the schema)', async () => {
    expect(readFileSync(SUBGRAPH_SCHEMA_FILE, 'utf8')).toBe(await printGatewaySubgraphSchema());
  });

  it('links Federation 2, keys Product by id, shares PageInfo, and renames the root fields a shop graph has too', async () => {
    const sdl = flat(await printGatewaySubgraphSchema());
    expect(sdl).toContain('extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])');
    // Product: the key, and what CLIP knows of it; the shop's own fields are the shop's subgraph's.
    expect(sdl).toContain(
      'type Product @key(fields: "id") { id: ID! imageCount: Int! imageUrls: [String]! tags: [Tag!]! similar(first: Int! = 10): [Product!]! }',
    );
    expect(SUBGRAPH_OMITTED_PRODUCT_FIELDS).toEqual(['title', 'description', 'attributes', 'createdAt', 'updatedAt']);
    expect(sdl).toContain('type PageInfo @shareable {');
    expect(sdl).toContain('catalogueProduct(id: ID!): Product');
    expect(sdl).toContain('catalogueProducts(');
    expect(sdl).not.toMatch(/[{ ]product\(id:/);
    expect(sdl).not.toMatch(/[{ ]products\(/);
    // Everything else the standalone schema has, the subgraph has under the same name.
    const standalone = flat(await printGatewaySchema());
    for (const field of ['productSearch(', 'labelTopProducts(', 'embed(', 'classify(', 'similarity(', 'productsUpsert(', 'taxonomySet(']) {
      expect(standalone).toContain(field);
      expect(sdl).toContain(field);
    }
    expect(Object.keys(SUBGRAPH_RENAMED_QUERIES)).toEqual(['product', 'products']);
  });

  it("counts an _entities call's selection once per representation in the cost", async () => {
    const schema = await buildGatewaySubgraphSchema();
    const document = parse('query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id tags { label } } } }');
    const cost = (n: number) =>
      operationDemand(schema, document, undefined, { r: Array.from({ length: n }, (_, i) => ({ __typename: 'Product', id: `p${i}` })) })
        .cost;
    // _entities itself, then id, tags and label for each representation.
    expect(cost(1)).toBe(1 + 3);
    expect(cost(300)).toBe(1 + 300 * 3);
  });
});

interface EntityProduct {
  id: string;
  imageCount: number;
  imageUrls: (string | null)[];
  tags: { facet: string; label: string }[];
  similar: { id: string }[];
}

describe('the subgraph schema, executed', () => {
  let t: TestGateway;
  let products: Awaited<ReturnType<typeof shapeProducts>>;

  const subgraph = async <T>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> => {
    const response = await t.gateway.subgraph!.executeOperation<T>({ query, variables }, { contextValue: t.gateway.context() });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    const { data, errors } = response.body.singleResult;
    return { status: response.http.status ?? 200, data: data as T, ...(errors ? { errors: errors as GraphQLResponse<T>['errors'] } : {}) };
  };

  beforeAll(async () => {
    t = await createTestGateway({ federation: true }, { store: await openSqliteStore({ path: ':memory:' }) });
    products = await shapeProducts(33);
    await seedShapeCatalogue(t.graphql, products);
  });

  afterAll(() => t.stop());

  it('is off unless FEDERATION is on', async () => {
    const plain = await createTestGateway();
    try {
      expect(plain.gateway.subgraph).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });

  it('answers _service with the emitted SDL', async () => {
    const response = await subgraph<{ _service: { sdl: string } }>('{ _service { sdl } }');
    expect(response.errors).toBeUndefined();
    expect(readFileSync(SUBGRAPH_SCHEMA_FILE, 'utf8')).toContain(`\n\n${response.data!._service.sdl.trim()}\n`);
  });

  it("resolves product references in one store read for the products and one for their tags, in the router's order", async () => {
    const getProducts = jest.spyOn(t.gateway.store, 'getProducts');
    const getTags = jest.spyOn(t.gateway.store, 'getTags');
    const ids = ['p05', 'p00', 'nope', 'p17'];
    const response = await subgraph<{ _entities: EntityProduct[] }>(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id imageCount imageUrls tags { facet label } } } }`,
      { r: ids.map((id) => ({ __typename: 'Product', id })) },
    );
    try {
      expect(response.errors).toBeUndefined();
      expect(getProducts).toHaveBeenCalledTimes(1);
      expect(getProducts.mock.calls[0][0]).toEqual(ids);
      expect(getTags).toHaveBeenCalledTimes(1);
    } finally {
      getProducts.mockRestore();
      getTags.mockRestore();
    }
    const entities = response.data!._entities;
    expect(entities.map((e) => e.id)).toEqual(ids);
    expect(entities[0]).toMatchObject({ imageCount: 1, imageUrls: [null] });
    expect(entities[0].tags).toEqual([{ facet: 'kind', label: products[5].title }]);
    // A product only the shop knows: nothing stored here, which is what this subgraph says of it.
    expect(entities[2]).toEqual({ id: 'nope', imageCount: 0, imageUrls: [], tags: [] });
  });

  it("gives a product's look-alikes as productSearch by product does, and none for a product it has not stored", async () => {
    const bySearch = await t.graphql<{ productSearch: { product: { id: string } }[] }>(
      '{ productSearch(query: { productId: "p03" }, first: 4) { product { id } } }',
    );
    const response = await subgraph<{ _entities: EntityProduct[] }>(
      `{ _entities(representations: [{ __typename: "Product", id: "p03" }, { __typename: "Product", id: "nope" }]) { ... on Product { id similar(first: 4) { id } } } }`,
    );
    expect(response.errors).toBeUndefined();
    const [known, unknown] = response.data!._entities;
    expect(known.similar.map((p) => p.id)).toEqual(bySearch.data!.productSearch.map((hit) => hit.product.id));
    expect(known.similar).toHaveLength(4);
    expect(known.similar.map((p) => p.id)).not.toContain('p03');
    expect(unknown.similar).toEqual([]);
  });

  it("serves the renamed root fields with the standalone ones' resolvers", async () => {
    const response = await subgraph<{ catalogueProduct: { id: string; imageCount: number }; catalogueProducts: { edges: unknown[] } }>(
      '{ catalogueProduct(id: "p02") { id imageCount } catalogueProducts(first: 5) { edges { cursor } } }',
    );
    expect(response.errors).toBeUndefined();
    expect(response.data!.catalogueProduct).toEqual({ id: 'p02', imageCount: 1 });
    expect(response.data!.catalogueProducts.edges).toHaveLength(5);
  });
});
