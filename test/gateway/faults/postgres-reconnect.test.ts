import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openPostgresStore } from '../../../gateway/store';
import { shapeProducts } from '../../helpers/catalogue';
import { startGateway, type GraphQLResponse, type RunningGateway } from '../../helpers/gateway';
import { startPostgres, type PostgresServer } from '../../helpers/postgres';
import { loadReference } from '../../helpers/tiny-clip';

const TAXONOMY = `mutation ($labels: [String!]!) { taxonomySet(facets: [{ name: "kind", labels: $labels }]) { userErrors { message } } }`;
const UPSERT = `mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { products { id } userErrors { field message code } } }`;
const PRODUCT = `query ($id: ID!) { product(id: $id) { id title tags { facet label source } } }`;
const IDS = `{ products(first: 100) { edges { node { id } } } }`;
const SEARCH = `query ($text: String!) { productSearch(query: { text: $text }, first: 1) { product { id title } } }`;
const EMBED = `{ embed(inputs: [{ text: "a red circle" }]) { dim } }`;
/** What a client is told when the catalogue's database cannot take a call. */
const UNAVAILABLE = { message: 'The catalogue database is unavailable; try again later.', code: 'STORE_UNAVAILABLE' };

function failures(response: GraphQLResponse<unknown>) {
  return (response.errors ?? []).map((e) => ({ message: e.message, code: e.extensions?.code }));
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work;
  return { value, ms: Date.now() - started };
}

/**
 * The gateway's PostgreSQL database goes away (its server SIGKILLed) and comes back (a new server
 * on the same data directory and port): catalogue calls fail at once meanwhile, what needs no
 * database goes on, and the same gateway, not restarted, reconnects and finds its data.
 */
describe('the PostgreSQL catalogue database going away and coming back', () => {
  const reference = loadReference();
  let dataDir: string;
  let server: PostgresServer | undefined;
  let gw: RunningGateway | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'pg-outage-'));
  });

  afterAll(async () => {
    await gw?.stop();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails catalogue calls promptly with STORE_UNAVAILABLE while it is down, and serves them again once it is back', async () => {
    server = await startPostgres({ dataDir });
    const { url, port } = server;
    // One connection: see test/helpers/postgres.ts. Otherwise the gateway's own defaults.
    gw = await startGateway({ store: { kind: 'postgres', url } }, { store: await openPostgresStore({ url, poolSize: 1 }) });
    const products = await shapeProducts(3);
    expect(failures(await gw.graphql(TAXONOMY, { labels: reference.classes }))).toEqual([]);
    const before = await gw.graphql<{ productsUpsert: { userErrors: unknown[] } }>(UPSERT, { p: products.slice(0, 4) });
    expect(before.data!.productsUpsert.userErrors).toEqual([]);
    const red = { id: 'p00', title: 'red circle', tags: [{ facet: 'kind', label: 'red circle', source: 'AUTO' }] };
    expect((await gw.graphql(PRODUCT, { id: 'p00' })).data).toEqual({ product: red });

    process.kill(server.pid, 'SIGKILL');
    await server.stop(); // waits for the process to be gone

    // Every kind of catalogue call: a product with its tags, a listing, a search, an upsert.
    const calls: [string, string, Record<string, unknown>?][] = [
      ['product', PRODUCT, { id: 'p00' }],
      ['products', IDS],
      ['productSearch', SEARCH, { text: 'a photo of a red circle.' }],
      ['productsUpsert', UPSERT, { p: products.slice(4, 6) }],
    ];
    for (const [field, query, variables] of calls) {
      const { value, ms } = await timed(gw.graphql(query, variables));
      expect({ field, failures: failures(value) }).toEqual({ field, failures: [UNAVAILABLE] });
      expect(value.errors![0].path).toEqual([field]);
      // A refused connection is known at once: no call waits for a deadline.
      expect(ms).toBeLessThan(2_000);
    }
    // The CLIP side of the gateway needs no database.
    const embed = await gw.graphql<{ embed: { dim: number }[] }>(EMBED);
    expect(embed.errors).toBeUndefined();
    expect(embed.data!.embed[0].dim).toBe(gw.gateway.model.info.dim);

    // Back, at the same address, on the same files; the gateway is the same one.
    server = await startPostgres({ dataDir, port });
    expect(server.url).toBe(url);
    expect((await gw.graphql(PRODUCT, { id: 'p00' })).data).toEqual({ product: red });
    const after = await gw.graphql<{ productsUpsert: { userErrors: unknown[] } }>(UPSERT, { p: products.slice(4, 8) });
    expect(after.errors).toBeUndefined();
    expect(after.data!.productsUpsert.userErrors).toEqual([]);
    const listed = await gw.graphql<{ products: { edges: { node: { id: string } }[] } }>(IDS);
    expect(listed.data!.products.edges.map((e) => e.node.id)).toEqual(products.slice(0, 8).map((p) => p.id));
    const found = await gw.graphql<{ productSearch: { product: { title: string } }[] }>(SEARCH, { text: 'a photo of a red circle.' });
    expect(found.data!.productSearch[0].product.title).toBe('red circle');
    expect((await gw.graphql<{ product: { tags: unknown[] } }>(PRODUCT, { id: 'p05' })).data!.product.tags).toHaveLength(1);
  }, 60_000);
});
