import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FieldError, taxonomyProblems } from '../../../gateway/catalogue';
import { openSqliteStore } from '../../../gateway/store';
import { createTestGateway, histogram, type TestGateway } from '../../helpers/gateway';
import { shapeProducts } from '../../helpers/catalogue';
import { drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';

const reference = loadReference();
const KIND = [{ name: 'kind', labels: reference.classes }];

describe('CatalogueService', () => {
  let t: TestGateway;

  beforeEach(async () => {
    t = await createTestGateway({}, { store: await openSqliteStore({ path: ':memory:' }) });
  });

  afterEach(() => t.stop());

  it('tags stored products when the taxonomy is set, from stored vectors without embedding any image again', async () => {
    const catalogue = t.gateway.catalogue;
    const products = await shapeProducts(11);
    expect(reference.classes).toHaveLength(32);
    const results = await catalogue.upsertProducts(products);
    expect(results.every((r) => r.ok)).toBe(true);

    const before = await histogram(t.gateway, 'batchSize', { kind: 'image' });
    const taxonomy = await catalogue.setTaxonomy(KIND);
    expect(taxonomy.version).toBe(1);
    expect(await histogram(t.gateway, 'batchSize', { kind: 'image' })).toEqual(before);

    const tags = await catalogue.getTags(products.map((p) => p.id));
    const right = products.filter((p) => tags.get(p.id)?.[0]?.label === p.title).length;
    expect(right / products.length).toBeGreaterThanOrEqual(0.95);
    expect(tags.get('p00')).toEqual([
      expect.objectContaining({ facet: 'kind', source: 'auto', taxonomyVersion: 1, model: expect.stringContaining('|') }),
    ]);
  });

  it('tags products upserted after the taxonomy, and does not embed the same image bytes again', async () => {
    const catalogue = t.gateway.catalogue;
    await catalogue.setTaxonomy(KIND);
    const [product] = await shapeProducts(12);
    await catalogue.upsertProducts([product]);
    const once = await histogram(t.gateway, 'batchSize', { kind: 'image' });
    expect(once.sum).toBe(1);
    const [again] = await catalogue.upsertProducts([{ ...product, title: 'renamed' }]);
    expect(again).toMatchObject({ ok: true, product: { id: product.id, title: 'renamed' } });
    expect(await histogram(t.gateway, 'batchSize', { kind: 'image' })).toEqual(once);
    expect((await catalogue.getTags([product.id])).get(product.id)).toEqual([expect.objectContaining({ label: product.title })]);
  });

  it('fails one bad product alone, naming its field', async () => {
    const [good] = await shapeProducts(13);
    const results = await t.gateway.catalogue.upsertProducts([
      good,
      { id: 'bad', images: [{ base64: 'not an image at all!' }] },
      { id: 'empty', images: [] },
      { id: good.id, images: good.images },
    ]);
    expect(results[0]).toMatchObject({ ok: true, product: { id: good.id } });
    const errors = results.slice(1).map((r) => (r.ok ? undefined : r.error));
    expect(errors.map((e) => e?.field)).toEqual([
      ['products', '1', 'images', '0', 'base64'],
      ['products', '2', 'images'],
      ['products', '3', 'id'],
    ]);
    expect(errors[0]?.message).toMatch(/^products\[1\]\.images\[0\]\.base64: /);
    expect(await t.gateway.catalogue.getProducts(['bad', 'empty'])).toEqual([]);
  });

  it('keeps manual tags over a taxonomy change and refuses labels outside the facet', async () => {
    const catalogue = t.gateway.catalogue;
    const [product] = await shapeProducts(14);
    await catalogue.upsertProducts([product]);
    await catalogue.setTaxonomy(KIND);
    await catalogue.setManualTags(product.id, 'kind', ['blue square']);
    await catalogue.setTaxonomy([...KIND, { name: 'colour', labels: Object.keys(reference.domain.colours) }]);
    const tags = (await catalogue.getTags([product.id])).get(product.id)!;
    expect(tags.filter((tag) => tag.facet === 'kind')).toEqual([
      expect.objectContaining({ label: 'blue square', source: 'manual', score: 1, similarity: expect.any(Number) }),
    ]);
    expect(tags.filter((tag) => tag.facet === 'colour')).toEqual([expect.objectContaining({ source: 'auto', taxonomyVersion: 2 })]);
    await expect(catalogue.setManualTags(product.id, 'kind', ['purple hexagon'])).rejects.toMatchObject({ field: ['labels', '0'] });
    await expect(catalogue.setManualTags('nope', 'kind', ['blue square'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses a bad taxonomy with every problem named', async () => {
    const catalogue = t.gateway.catalogue;
    await expect(catalogue.setTaxonomy([])).rejects.toBeInstanceOf(FieldError);
    const problems = taxonomyProblems(
      [
        { name: 'a', labels: ['x', 'x'], templates: ['no placeholder'] },
        { name: 'a', labels: ['y'], mode: 'multi', threshold: 2 },
      ],
      catalogue.limits,
    );
    expect(problems.map((p) => p.field)).toEqual([
      ['facets', '0', 'labels', '1'],
      ['facets', '0', 'templates', '0'],
      ['facets', '1', 'name'],
      ['facets', '1', 'threshold'],
    ]);
    expect(await catalogue.getTaxonomy()).toBeUndefined();
  });

  it('searches by text, image and product, and lists the top products of a label', async () => {
    const catalogue = t.gateway.catalogue;
    const products = [...(await shapeProducts(15)), ...(await shapeProducts(16)).map((p) => ({ ...p, id: `q${p.id.slice(1)}` }))];
    await catalogue.upsertProducts(products);
    await catalogue.setTaxonomy(KIND);

    const byText = await catalogue.search({ text: 'a red circle' }, {}, 2);
    expect(byText.map((h) => h.product.title)).toEqual(['red circle', 'red circle']);
    const byProduct = await catalogue.search({ productId: 'p00' }, {}, 1);
    expect(byProduct.map((h) => h.product.id)).toEqual(['q00']);
    const byImage = await catalogue.search({ image: products[0].images[0] }, { attributes: { colour: products[0].attributes.colour } }, 1);
    expect(byImage[0].product.id).toBe('p00');
    await expect(catalogue.search({ text: 'x', productId: 'p00' }, {}, 1)).rejects.toMatchObject({ field: ['query'] });

    const top = await catalogue.labelTopProducts('kind', 'red circle', 2);
    expect(top.map((h) => h.product.title)).toEqual(['red circle', 'red circle']);
  });
});

describe('URL images on a re-upsert', () => {
  it('revalidates a URL image: unchanged (HTTP 304) it is neither downloaded nor embedded; replaced, it is', async () => {
    let picture = await drawShape(reference, 'green square', seededRandom(31));
    let version = 1;
    const requests: { conditional: boolean; status: number }[] = [];
    const server = createServer((req, res) => {
      const etag = `"v${version}"`;
      const conditional = req.headers['if-none-match'] !== undefined;
      const status = req.headers['if-none-match'] === etag ? 304 : 200;
      requests.push({ conditional, status });
      if (status === 304) res.writeHead(304, { ETag: etag }).end();
      else res.writeHead(200, { 'content-type': 'image/png', ETag: etag }).end(picture);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/shoe.png`;
    const t = await createTestGateway({ fetch: { timeoutMs: 5_000, maxRedirects: 0, allowNetworks: ['127.0.0.0/8'] } });
    try {
      const catalogue = t.gateway.catalogue;
      await catalogue.setTaxonomy(KIND);
      const images = () => histogram(t.gateway, 'batchSize', { kind: 'image' });
      const [first] = await catalogue.upsertProducts([{ id: 'u', title: 'first', images: [{ url }] }]);
      expect(first.ok).toBe(true);
      const once = await images();
      expect(once.sum).toBe(1);

      const [second] = await catalogue.upsertProducts([{ id: 'u', title: 'second', images: [{ url }] }]);
      expect(second).toMatchObject({ ok: true, product: { title: 'second' } });
      expect(requests).toEqual([
        { conditional: false, status: 200 },
        { conditional: true, status: 304 },
      ]);
      expect(await images()).toEqual(once);
      expect((await catalogue.getTags(['u'])).get('u')).toEqual([expect.objectContaining({ label: 'green square' })]);

      picture = await drawShape(reference, 'yellow circle', seededRandom(32));
      version = 2;
      await catalogue.upsertProducts([{ id: 'u', title: 'third', images: [{ url }] }]);
      expect(requests[2]).toEqual({ conditional: true, status: 200 });
      expect((await images()).sum).toBe(2);
      expect((await catalogue.getTags(['u'])).get('u')).toEqual([expect.objectContaining({ label: 'yellow circle' })]);
    } finally {
      await t.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the gateway and its store', () => {
  it('makes DATA_DIR and the SQLite file in it, and closes the store when it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalogue-'));
    try {
      const path = join(dir, 'nested', 'catalogue.sqlite');
      const t = await createTestGateway({ store: { kind: 'sqlite', path } });
      expect(existsSync(path)).toBe(true);
      expect(t.gateway.store.kind).toBe('sqlite');
      await t.stop();
      await expect(t.gateway.store.getTaxonomy()).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
