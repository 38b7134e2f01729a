import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { GatewayConfig } from '../../../gateway/config';
import { modelKey } from '../../../gateway/store';
import { shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, histogram, type GraphQLResponse, type TestGateway } from '../../helpers/gateway';
import { loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();

interface Hit {
  score: number;
  product: { id: string; title: string };
}
const SEARCH = `query ($q: SearchQuery!) { productSearch(query: $q, first: 3) { score product { id title } } }`;
const UPSERT = `mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { products { id tags { label } } userErrors { field message code } } }`;

const codes = (response: GraphQLResponse<unknown>) => response.errors?.map((e) => e.extensions?.code);

describe('a model change', () => {
  let dir: string;
  let store: GatewayConfig['store'];
  /** Other models: the tiny CLIP's files under other names, so their vectors are other models'. */
  let modelB: string;
  let modelC: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'model-change-'));
    store = { kind: 'sqlite', path: join(dir, 'catalogue.sqlite') };
    const copy = (name: string) => {
      const to = join(dir, name);
      cpSync(TINY_CLIP_DIR, to, { recursive: true });
      const config = JSON.parse(readFileSync(join(to, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(to, 'config.json'), JSON.stringify({ ...config, _name_or_path: name }));
      return to;
    };
    modelB = copy('tiny-clip-b');
    modelC = copy('tiny-clip-c');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('embeds every product with the new model beside the old vectors, which search uses until the switch-over', async () => {
    const a = await createTestGateway({ store });
    let b: TestGateway | undefined;
    try {
      const taxonomy = await a.graphql(
        `mutation { taxonomySet(facets: [{ name: "kind", labels: ${JSON.stringify(reference.classes)} }]) { userErrors { message } } }`,
      );
      expect(taxonomy.errors).toBeUndefined();
      const products = await shapeProducts(21);
      const upserted = await a.graphql<{ productsUpsert: { userErrors: unknown[] } }>(UPSERT, { p: products });
      expect(upserted.data!.productsUpsert.userErrors).toEqual([]);

      // A gateway of another model starts on the same catalogue: it starts the model change and,
      // paused after its first chunk, shows the catalogue in the middle of it.
      b = await createTestGateway({
        store,
        backend: { kind: 'local', modelDir: modelB, workers: 0, model: {} },
        jobs: { chunkSize: 8, tagChunkSize: 8, leaseMs: 60_000, pollMs: 50, pauseMs: 60_000 },
      });
      const keyA = modelKey(a.gateway.catalogue.model);
      const keyB = modelKey(b.gateway.catalogue.model);
      expect(keyB).not.toBe(keyA);
      expect(b.logs.join('\n')).toContain(`model change job`);
      const { jobs, catalogue } = b.gateway;
      const models = await b.graphql<{ catalogueModels: unknown }>('{ catalogueModels { active target gateway } }');
      expect(models.data!.catalogueModels).toEqual({ active: keyA, target: keyB, gateway: keyB });
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        if ((await b.gateway.store.getProductVectors(catalogue.model, ['p00', 'p07'])).size === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(await b.gateway.store.getProductVectors(catalogue.model, ['p08'])).toEqual(new Map()); // paused after one chunk

      // Meanwhile: the old model's gateway searches as before; the new one answers what needs no embedding.
      const red = await a.graphql<{ productSearch: Hit[] }>(SEARCH, { q: { text: 'a photo of a red circle.' } });
      expect(red.data!.productSearch[0].product.title).toBe('red circle');
      expect(codes(await b.graphql(SEARCH, { q: { text: 'a photo of a red circle.' } }))).toEqual(['MODEL_MISMATCH']);
      const similar = await b.graphql<{ productSearch: Hit[] }>(SEARCH, { q: { productId: 'p00' } });
      expect(similar.errors).toBeUndefined();
      expect(similar.data!.productSearch).toHaveLength(3);
      // A product upserted through the new model's gateway gets its vectors and waits for the switch-over for its tags.
      const [late] = await shapeProducts(22);
      const during = await b.graphql<{ productsUpsert: { products: { id: string; tags: unknown[] }[]; userErrors: unknown[] } }>(UPSERT, {
        p: [{ ...late, id: 'late' }],
      });
      expect(during.data!.productsUpsert).toEqual({ products: [{ id: 'late', tags: [] }], userErrors: [] });

      // A third model's gateway meanwhile starts, serves, and changes nothing: one change at a time.
      const c = await createTestGateway({ store, backend: { kind: 'local', modelDir: modelC, workers: 0, model: {} } });
      try {
        expect(c.logs.join('\n')).toContain(`a model change to ${keyB} is under way`);
        expect((await c.graphql(SEARCH, { q: { productId: 'p00' } })).errors).toBeUndefined();
        expect(modelKey((await catalogue.models()).target!)).toBe(keyB);
      } finally {
        await c.stop();
      }

      // The rest of the job, and the re-tagging the switch-over queues.
      await jobs.stop();
      while (await jobs.once());
      const switched = await catalogue.models();
      expect(switched.active && modelKey(switched.active)).toBe(keyB);
      expect(switched.target).toBeNull();
      // Each stored image embedded once by the new model, from the bytes the catalogue kept (plus the late upsert).
      expect((await histogram(b.gateway, 'batchSize', { kind: 'image' })).sum).toBe(products.length + 1);

      const after = await b.graphql<{ productSearch: Hit[] }>(SEARCH, { q: { text: 'a photo of a red circle.' } });
      expect(after.data!.productSearch[0].product.title).toBe('red circle');
      const ids = [...products.map((p) => p.id), 'late'];
      const tags = await b.gateway.store.getTags(ids);
      expect(ids.every((id) => tags.get(id)?.[0]?.model === keyB)).toBe(true);
      const titles = new Map([...products.map((p) => [p.id, p.title] as const), ['late', late.title]]);
      const right = ids.filter((id) => tags.get(id)![0].label === titles.get(id)).length;
      expect(right / ids.length).toBeGreaterThanOrEqual(0.95);

      // The old model's gateway now refuses what would compare its embeddings with the new vectors.
      expect(codes(await a.graphql(SEARCH, { q: { text: 'a photo of a red circle.' } }))).toEqual(['MODEL_MISMATCH']);
      const refused = await a.graphql<{ productsUpsert: { userErrors: { code: string; message: string }[] } }>(UPSERT, { p: [late] });
      expect(refused.data!.productsUpsert.userErrors).toEqual([
        { field: ['products'], code: 'MODEL_MISMATCH', message: expect.stringContaining(`vectors are of ${keyB}`) },
      ]);
      expect((await a.graphql(SEARCH, { q: { productId: 'p00' } })).errors).toBeUndefined();
    } finally {
      await b?.stop();
      await a.stop();
    }
  });
});
