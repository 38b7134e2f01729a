// The gateway as a subgraph in a real supergraph: a stand-in for a shop's product subgraph (id,
// name, price) and this gateway's /subgraph, both on loopback HTTP, composed by @apollo/gateway's
// IntrospectAndCompose (the same composition and query planning as Apollo Router) and queried
// through it over HTTP.
import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

import { openSqliteStore } from '../../gateway/store';
import { seedShapeCatalogue, shapeProducts } from '../helpers/catalogue';
import { startGateway, type RunningGateway } from '../helpers/gateway';

interface ShopProduct {
  id: string;
  name: string;
  price: number;
}

/** The shop's own subgraph: it owns Product (name, price) and the product queries. */
async function startShopSubgraph(catalogue: ShopProduct[]) {
  const byId = new Map(catalogue.map((p) => [p.id, p]));
  const schema = buildSubgraphSchema({
    typeDefs: parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
      type Product @key(fields: "id") { id: ID! name: String! price: Float! }
      # A value type both graphs have: it composes because each marks it @shareable.
      type PageInfo @shareable { hasNextPage: Boolean! }
      type Query { product(id: ID!): Product  products: [Product!]! }
    `),
    resolvers: {
      Query: {
        product: (_: unknown, { id }: { id: string }) => byId.get(id) ?? null,
        products: () => catalogue,
      },
      Product: {
        __resolveReference: (ref: { id: string }) => byId.get(ref.id) ?? null,
      },
    },
  });
  const server = new ApolloServer({ schema, plugins: [ApolloServerPluginInlineTraceDisabled()] });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, server };
}

interface RouterAnswer<T> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

describe('the gateway as a subgraph of a supergraph', () => {
  let clip: RunningGateway;
  let shop: Awaited<ReturnType<typeof startShopSubgraph>>;
  let router: ApolloServer;
  let routerUrl: string;
  let products: Awaited<ReturnType<typeof shapeProducts>>;

  const query = async <T>(source: string): Promise<RouterAnswer<T>> => {
    const response = await fetch(routerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: source }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as RouterAnswer<T>;
  };

  beforeAll(async () => {
    clip = await startGateway({ federation: true }, { store: await openSqliteStore({ path: ':memory:' }) });
    products = await shapeProducts(45);
    // The shop sells every tagged product and one the catalogue has never seen.
    const shopCatalogue = [
      ...products.map((p, i) => ({ id: p.id, name: `Poster: ${p.title}`, price: 10 + i })),
      { id: 'p99', name: 'Gift card', price: 25 },
    ];
    shop = await startShopSubgraph(shopCatalogue);
    await seedShapeCatalogue(clip.graphql, products);

    router = new ApolloServer({
      gateway: new ApolloGateway({
        supergraphSdl: new IntrospectAndCompose({
          subgraphs: [
            { name: 'shop', url: shop.url },
            { name: 'clip', url: `${clip.origin}/subgraph` },
          ],
        }),
      }),
    });
    ({ url: routerUrl } = await startStandaloneServer(router, { listen: { port: 0, host: '127.0.0.1' } }));
  });

  afterAll(async () => {
    // Each stopped whatever happened to the others, so that a failed start leaves nothing running.
    if (routerUrl) await router.stop();
    await shop?.server.stop();
    await clip?.stop();
  });

  it("answers one query with the shop's fields and the catalogue's tags and look-alikes", async () => {
    const answer = await query<{
      product: { name: string; price: number; tags: { facet: string; label: string; score: number }[]; similar: { name: string }[] };
    }>('{ product(id: "p00") { name price tags { facet label score } similar(first: 2) { name } } }');
    expect(answer.errors).toBeUndefined();
    const product = answer.data!.product;
    expect(product).toMatchObject({ name: `Poster: ${products[0].title}`, price: 10 });
    // Tagged as what it shows (the tiny CLIP's zero-shot label for a freshly drawn red circle).
    expect(product.tags).toEqual([{ facet: 'kind', label: products[0].title, score: expect.any(Number) }]);
    expect(product.tags[0].score).toBeGreaterThan(0.5);

    // The look-alikes are the catalogue's, in its order, with names from the shop.
    const nearest = await clip.graphql<{ productSearch: { product: { id: string } }[] }>(
      '{ productSearch(query: { productId: "p00" }, first: 2) { product { id } } }',
    );
    const names = nearest.data!.productSearch.map((hit) => `Poster: ${products.find((p) => p.id === hit.product.id)!.title}`);
    expect(product.similar.map((p) => p.name)).toEqual(names);
  });

  it('carries prices from the shop into the catalogue search', async () => {
    const answer = await query<{ productSearch: { score: number; product: { id: string; name: string; price: number } }[] }>(
      '{ productSearch(query: { text: "a red circle" }, first: 3) { score product { id name price } } }',
    );
    expect(answer.errors).toBeUndefined();
    const hits = answer.data!.productSearch;
    expect(hits).toHaveLength(3);
    for (const hit of hits) {
      const index = products.findIndex((p) => p.id === hit.product.id);
      expect(hit.product).toEqual({ id: products[index].id, name: `Poster: ${products[index].title}`, price: 10 + index });
    }
    expect(hits[0].product.name).toBe('Poster: red circle');
  });

  it('resolves every product of a shop list in one call to this subgraph and one store read', async () => {
    const getProducts = jest.spyOn(clip.gateway.store, 'getProducts');
    const getTags = jest.spyOn(clip.gateway.store, 'getTags');
    try {
      const answer = await query<{ products: { id: string; imageCount: number; tags: { label: string }[] }[] }>(
        '{ products { id imageCount tags { label } } }',
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.products).toHaveLength(products.length + 1);
      expect(getProducts).toHaveBeenCalledTimes(1);
      expect(getProducts.mock.calls[0][0]).toHaveLength(products.length + 1);
      expect(getTags).toHaveBeenCalledTimes(1);
      // The gift card is the shop's alone: nothing stored here, said as such rather than as an error.
      expect(answer.data!.products.at(-1)).toEqual({ id: 'p99', imageCount: 0, tags: [] });
    } finally {
      getProducts.mockRestore();
      getTags.mockRestore();
    }
  });

  it("keeps the shop's product when the catalogue has none", async () => {
    const answer = await query<{ product: { name: string; similar: unknown[]; tags: unknown[] } }>(
      '{ product(id: "p99") { name price imageCount similar { name } tags { label } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.product).toEqual({ name: 'Gift card', price: 25, imageCount: 0, similar: [], tags: [] });
  });

  it("reaches the catalogue's own product queries under their subgraph names, with the shop's fields", async () => {
    const answer = await query<{ catalogueProduct: { imageCount: number; name: string; price: number } }>(
      '{ catalogueProduct(id: "p01") { imageCount name price } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.catalogueProduct).toEqual({ imageCount: 1, name: `Poster: ${products[1].title}`, price: 11 });
  });

  it('still serves the standalone schema at /graphql beside the subgraph', async () => {
    const answer = await clip.graphql<{ product: { id: string } }>('{ product(id: "p02") { id } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.product).toEqual({ id: 'p02' });
    const index = (await (await fetch(`${clip.origin}/`, { headers: { accept: 'application/json' } })).json()) as {
      endpoints: Record<string, string>;
    };
    expect(Object.keys(index.endpoints)).toEqual(expect.arrayContaining(['/graphql', '/subgraph']));
  });
});
