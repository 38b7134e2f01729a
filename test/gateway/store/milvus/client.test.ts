import { createServer } from 'node:net';
import { HttpClient } from '@zilliz/milvus2-sdk-node/dist/milvus/HttpClient';
import { MilvusError, MilvusVectors, milvusOptionsFromEnv, type VectorEntry } from '../../../../gateway/store/milvus/client';
import { tagKey } from '../../../../gateway/store/milvus/filter';
import { StoreError, type VectorModel } from '../../../../gateway/store/port';
import { startMilvusStandin, type MilvusStandin } from '../../../helpers/milvus-standin';

/**
 * MilvusVectors through the real SDK HttpClient against the stand-in on loopback. Vectors are
 * small and hand-made, so every similarity is known: against q = (1,0,0,0), (1,1,0,0) scores
 * 1/√2, (1,1,1,1) scores 1/2, (0,1,0,0) scores 0 and (-1,0,0,0) scores -1.
 *
 * Search of a model without a collection returns no hits (documented on MilvusVectors.search):
 * a model nothing was stored for has no vectors, as the SQL stores answer.
 */

const TOKEN = 'root:Milvus';
const model: VectorModel = { name: 'test/clip-vit-b32', dtype: 'fp32', dim: 4 };
const vec = (...values: number[]) => new Float32Array(values);
const entry = (
  productId: string,
  vector: Float32Array,
  tags: VectorEntry['tags'] = [],
  attributes: VectorEntry['attributes'] = null,
): VectorEntry => ({
  productId,
  vector,
  tags,
  attributes,
});
const q = vec(1, 0, 0, 0);

let standin: MilvusStandin;
beforeAll(async () => {
  standin = await startMilvusStandin({ token: TOKEN });
});
afterAll(() => standin.close());
beforeEach(() => {
  standin.collections.clear();
  standin.requests.length = 0;
});
const paths = () => standin.requests.map((r) => r.path.replace('/v2/vectordb/', ''));

describe('MilvusVectors', () => {
  it('creates one collection per model, named from a hash of the model key, with the schema the filters need', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    const name = await milvus.ensureCollection(model);
    expect(name).toMatch(/^clip_products_[0-9a-f]{64}$/);
    expect(name).toBe(milvus.collectionName(model));
    expect(milvus.collectionName({ ...model, dtype: 'q8' })).not.toBe(name);
    // Idempotent, and asked once per instance.
    await milvus.ensureCollection(model);
    expect(paths()).toEqual(['collections/has', 'collections/create', 'collections/describe', 'collections/get_load_state']);

    const sdk = new HttpClient({ endpoint: standin.address, token: TOKEN });
    const described = await sdk.describeCollection({ collectionName: name });
    expect(described.code).toBe(0);
    expect(described.data).toMatchObject({
      collectionName: name,
      description: 'clip-gateway product vectors of test/clip-vit-b32|fp32 (dim 4)',
      load: 'LoadStateLoaded',
      indexes: [{ fieldName: 'vector', metricType: 'COSINE' }],
      fields: [
        { name: 'product_id', type: 'VarChar', primaryKey: true, params: [{ key: 'max_length', value: '65535' }] },
        { name: 'vector', type: 'FloatVector', params: [{ key: 'dim', value: '4' }] },
        {
          name: 'tags',
          type: 'Array',
          elementType: 'VarChar',
          params: [
            { key: 'max_length', value: '65535' },
            { key: 'max_capacity', value: '4096' },
          ],
        },
        { name: 'attributes', type: 'JSON', params: [] },
      ],
    });

    // A second gateway finds it there and creates nothing.
    standin.requests.length = 0;
    await new MilvusVectors({ address: standin.address, token: TOKEN }).ensureCollection(model);
    expect(paths()).toEqual(['collections/has', 'collections/describe', 'collections/get_load_state']);
  });

  it('finds the known nearest products by cosine similarity, best first', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    await milvus.upsert(model, [
      entry('opposite', vec(-1, 0, 0, 0)),
      entry('diagonal', vec(1, 1, 0, 0)),
      entry('same', vec(3, 0, 0, 0)),
      entry('orthogonal', vec(0, 1, 0, 0)),
      entry('all', vec(1, 1, 1, 1)),
    ]);
    expect(await milvus.count(model)).toBe(5);
    const hits = await milvus.search(model, q, 3);
    expect(hits.map((h) => h.productId)).toEqual(['same', 'diagonal', 'all']);
    expect(hits[0].score).toBeCloseTo(1, 6);
    expect(hits[1].score).toBeCloseTo(Math.SQRT1_2, 6);
    expect(hits[2].score).toBeCloseTo(0.5, 6);
    const all = await milvus.search(model, q, 10);
    expect(all.map((h) => [h.productId, Number(h.score.toFixed(6))])).toEqual([
      ['same', 1],
      ['diagonal', 0.707107],
      ['all', 0.5],
      ['orthogonal', 0],
      ['opposite', -1],
    ]);
    // The search asked for read-your-writes.
    expect(standin.requests.find((r) => r.path.endsWith('/search'))!.body).toMatchObject({
      consistencyLevel: 'Strong',
      limit: 3,
      annsField: 'vector',
    });
  });

  it('orders equal scores by product id, whatever order Milvus returns them in', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    // The stand-in keeps insertion order among ties, as Milvus may: b before a.
    await milvus.upsert(model, [entry('b', vec(0, 0, 1, 0)), entry('a', vec(0, 0, 2, 0)), entry('c', vec(0, 0, 0, 1))]);
    expect(await milvus.search(model, vec(0, 0, 1, 0), 2)).toEqual([
      { productId: 'a', score: 1 },
      { productId: 'b', score: 1 },
    ]);
  });

  it('replaces a product upserted again: the count stays, the new vector and tags count', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    await milvus.upsert(model, [entry('p1', vec(1, 0, 0, 0), [{ facet: 'colour', label: 'red' }]), entry('p2', vec(0, 1, 0, 0))]);
    await milvus.upsert(model, [entry('p1', vec(0, 1, 0, 0), [{ facet: 'colour', label: 'blue' }])]);
    expect(await milvus.count(model)).toBe(2);
    expect(await milvus.search(model, q, 2)).toEqual([
      { productId: 'p1', score: 0 },
      { productId: 'p2', score: 0 },
    ]);
    expect(await milvus.search(model, q, 2, { tags: [{ facet: 'colour', label: 'red' }] })).toEqual([]);
    expect((await milvus.search(model, q, 2, { tags: [{ facet: 'colour', label: 'blue' }] })).map((h) => h.productId)).toEqual(['p1']);
    // The same product twice in one call: the last wins, sent once (Milvus refuses a key twice in one upsert).
    await milvus.upsert(model, [entry('p3', vec(0, 0, 1, 0)), entry('p3', vec(1, 0, 0, 0))]);
    expect(await milvus.count(model)).toBe(3);
    expect((await milvus.search(model, q, 1))[0]).toEqual({ productId: 'p3', score: 1 });
    const rows = standin.collections.get(milvus.collectionName(model))!.rows;
    expect(rows.find((r) => r.product_id === 'p1')).toEqual({
      product_id: 'p1',
      vector: [0, 1, 0, 0],
      tags: [tagKey('colour', 'blue')],
      attributes: {},
    });
  });

  it('sends upserts in batches of batchSize, cut sooner at maxRequestBytes', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN, batchSize: 2 });
    await milvus.upsert(
      model,
      ['a', 'b', 'c', 'd', 'e'].map((id) => entry(id, vec(1, 0, 0, 0))),
    );
    const sizes = () => standin.requests.filter((r) => r.path.endsWith('/entities/upsert')).map((r) => (r.body.data as unknown[]).length);
    expect(sizes()).toEqual([2, 2, 1]);
    expect(await milvus.count(model)).toBe(5);

    standin.requests.length = 0;
    const big = { blob: 'x'.repeat(600) };
    const small = new MilvusVectors({ address: standin.address, token: TOKEN, batchSize: 1000, maxRequestBytes: 1500 });
    await small.upsert(
      model,
      ['f', 'g', 'h'].map((id) => entry(id, vec(1, 0, 0, 0), [], big)),
    );
    expect(sizes()).toEqual([2, 1]);
    for (const r of standin.requests.filter((r) => r.path.endsWith('/entities/upsert')))
      expect(Buffer.byteLength(JSON.stringify(r.body.data))).toBeLessThanOrEqual(1500);
    await expect(small.upsert(model, [entry('huge', vec(1, 0, 0, 0), [], { blob: 'x'.repeat(2000) })])).rejects.toThrow(
      'entries[0] (product "huge") is 2',
    );
  });

  it('deletes products; unknown ids and a model without a collection are no error', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    await milvus.upsert(model, [entry('keep', vec(1, 0, 0, 0)), entry('go"ne\\', vec(1, 1, 0, 0)), entry('also', vec(0, 1, 0, 0))]);
    await milvus.delete(model, ['go"ne\\', 'also', 'never-there']);
    expect(await milvus.count(model)).toBe(1);
    expect(await milvus.search(model, q, 5)).toEqual([{ productId: 'keep', score: 1 }]);
    await expect(milvus.delete({ ...model, name: 'never-used' }, ['keep'])).resolves.toBeUndefined();
    await expect(milvus.delete(model, [])).resolves.toBeUndefined();
  });

  it('filters by ids, tags and attributes, whatever characters their values hold', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    const weird = 'he said "no" \\ then\n日本語 🎉 ") or true or ("';
    await milvus.upsert(model, [
      entry(
        'p"1',
        vec(1, 0, 0, 0),
        [
          { facet: 'colour', label: 'red' },
          { facet: 'sty"le', label: weird },
        ],
        { brand: weird, size: 42, sale: true },
      ),
      entry('p\\2', vec(1, 1, 0, 0), [{ facet: 'colour', label: 'red' }], { brand: 'acme', size: '42', sale: false }),
      entry('p3', vec(1, 1, 1, 1), [{ facet: 'colour', label: 'blue' }], { brand: 'acme', size: 42 }),
    ]);
    const ids = async (filter: Parameters<MilvusVectors['search']>[3]) =>
      (await milvus.search(model, q, 10, filter)).map((h) => h.productId);
    expect(await ids(undefined)).toEqual(['p"1', 'p\\2', 'p3']);
    expect(await ids({ ids: ['p3', 'p\\2'] })).toEqual(['p\\2', 'p3']);
    expect(await ids({ ids: [] })).toEqual([]);
    expect(await ids({ tags: [{ facet: 'colour', label: 'red' }] })).toEqual(['p"1', 'p\\2']);
    expect(await ids({ tags: [{ facet: 'sty"le', label: weird }] })).toEqual(['p"1']);
    expect(await ids({ tags: [{ facet: 'sty"le', label: 'he said' }] })).toEqual([]);
    expect(await ids({ attributes: { brand: weird } })).toEqual(['p"1']);
    expect(await ids({ attributes: { brand: 'acme' } })).toEqual(['p\\2', 'p3']);
    expect(await ids({ attributes: { size: 42 } })).toEqual(['p"1', 'p3']);
    expect(await ids({ attributes: { size: '42' } })).toEqual(['p\\2']);
    expect(await ids({ attributes: { sale: false } })).toEqual(['p\\2']);
    expect(await ids({ ids: ['p"1', 'p3'], tags: [{ facet: 'colour', label: 'blue' }], attributes: { brand: 'acme', size: 42 } })).toEqual([
      'p3',
    ]);
    await expect(ids({ attributes: { colour: null } })).rejects.toThrow(
      new TypeError('filter.attributes["colour"] must be a string, a number or a boolean to filter on in Milvus, got null'),
    );
  });

  it('names the operation, the code and the message when Milvus refuses the token, and never the token', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: 'root:wrong-secret' });
    const error = await milvus.ensureCollection(model).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MilvusError);
    expect((error as MilvusError).message).toBe("Milvus has collection failed: code 1800: user hasn't authenticated (HTTP 401)");
    expect(error).toMatchObject({ operation: 'has collection', milvusCode: 1800, httpStatus: 401 });
    expect((error as Error).message).not.toContain('wrong-secret');
    const searchError = await milvus.search(model, q, 1).catch((e: unknown) => e);
    expect((searchError as Error).message).toBe("Milvus search failed: code 1800: user hasn't authenticated (HTTP 401)");
  });

  it('refuses vectors of another dim: its own checks, and Milvus refusing them', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    await milvus.ensureCollection(model);
    await expect(milvus.upsert(model, [entry('short', vec(1, 0, 0))])).rejects.toThrow(
      new StoreError(
        'DIMENSION_MISMATCH',
        'entries[0] (product "short").vector has 3 values; model test/clip-vit-b32|fp32 makes vectors of 4',
      ),
    );
    await expect(milvus.search(model, vec(1, 0), 1)).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    // The same model name and dtype at another dim: the collection there says otherwise.
    const other = new MilvusVectors({ address: standin.address, token: TOKEN });
    await expect(other.ensureCollection({ ...model, dim: 3 })).rejects.toMatchObject({
      name: 'StoreError',
      code: 'DIMENSION_MISMATCH',
      message: expect.stringContaining('holds vectors of test/clip-vit-b32|fp32 with dim 4, not 3'),
    });
    // The collection is remade at dim 3 behind this instance's back: Milvus's own refusal surfaces.
    await other.dropCollection(model);
    await other.ensureCollection({ ...model, dim: 3 });
    const error = await milvus.upsert(model, [entry('p', vec(1, 0, 0, 0))]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MilvusError);
    expect((error as Error).message).toBe(
      'Milvus upsert failed: code 1804: fail to deal the insert data, error: row 0: the dim (4) of field data(vector) is not equal to schema dim (3)',
    );
    const searchError = await milvus.search(model, q, 1).catch((e: unknown) => e);
    expect((searchError as Error).message).toBe(
      'Milvus search failed: code 1100: the dim (4) of field data(vector) is not equal to schema dim (3)',
    );
  });

  it('finds nothing for a model without a collection, and loads a released collection before searching', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    expect(await milvus.search({ ...model, name: 'never-used' }, q, 3)).toEqual([]);
    expect(await milvus.count({ ...model, name: 'never-used' })).toBe(0);
    expect(standin.collections.size).toBe(0);

    await milvus.upsert(model, [entry('p', vec(1, 0, 0, 0))]);
    const sdk = new HttpClient({ endpoint: standin.address, token: TOKEN });
    expect((await sdk.releaseCollection({ collectionName: milvus.collectionName(model) })).code).toBe(0);
    expect(await milvus.search(model, q, 1)).toEqual([{ productId: 'p', score: 1 }]);
    expect(paths().slice(-3)).toEqual(['entities/search', 'collections/load', 'entities/search']);
  });

  it('says which operation could not reach Milvus', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const milvus = new MilvusVectors({ address: `http://127.0.0.1:${port}`, token: TOKEN });
    await expect(milvus.search(model, q, 1)).rejects.toMatchObject({
      name: 'StoreError',
      code: 'STORE_UNAVAILABLE',
      message: `Milvus search failed: cannot reach Milvus at http://127.0.0.1:${port}: ECONNREFUSED`,
    });
  });

  it('checks its inputs, naming each', async () => {
    const milvus = new MilvusVectors({ address: standin.address, token: TOKEN });
    expect(() => new MilvusVectors({ address: 'grpc://x:19530', token: TOKEN })).toThrow(
      'MilvusVectors address must be an http(s) URL, got "grpc://x:19530"',
    );
    expect(() => new MilvusVectors({ address: standin.address, token: ' ' })).toThrow(
      new TypeError('MilvusVectors token must be a non-empty string (an API key or user:password)'),
    );
    expect(() => new MilvusVectors({ address: standin.address, token: TOKEN, collectionPrefix: '9x' })).toThrow(
      'MilvusVectors collectionPrefix must be letters',
    );
    expect(() => new MilvusVectors({ address: standin.address, token: TOKEN, batchSize: 0 })).toThrow(
      'MilvusVectors batchSize must be an integer from 1 to 100000, got 0',
    );
    await expect(milvus.search(model, q, 0)).rejects.toThrow('k must be an integer from 1 to 16384, got 0');
    await expect(milvus.upsert(model, [entry('', q)])).rejects.toThrow('entries[0].productId must not be empty');
    await expect(milvus.upsert(model, [entry('x', vec(1, Number.NaN, 0, 0))])).rejects.toThrow(
      'entries[0] (product "x").vector[1] is NaN, not a finite number',
    );
    await expect(milvus.upsert(model, [entry('x', q, [{ facet: 'f', label: 5 as unknown as string }])])).rejects.toThrow(
      'entries[0] (product "x").tags[0].label must be a string, got a number',
    );
    await expect(
      milvus.upsert(model, [
        entry(
          'x',
          q,
          Array.from({ length: 4097 }, (_, i) => ({ facet: 'f', label: String(i) })),
        ),
      ]),
    ).rejects.toThrow('entries[0] (product "x") has 4097 tags; Milvus holds at most 4096 per product');
    await expect(milvus.delete(model, ['ok', 'bad\ud800'])).rejects.toThrow('productIds[1] holds a lone UTF-16 surrogate');
  });

  it('reads its settings from MILVUS_* variables', () => {
    expect(milvusOptionsFromEnv({ MILVUS_ADDRESS: 'https://in01-x.zillizcloud.com', MILVUS_TOKEN: 'key' })).toEqual({
      address: 'https://in01-x.zillizcloud.com',
      token: 'key',
      database: undefined,
      collectionPrefix: undefined,
    });
    expect(() => milvusOptionsFromEnv({ MILVUS_ADDRESS: 'https://x' })).toThrow('MILVUS_TOKEN must be set when MILVUS_ADDRESS is set');
    expect(() => milvusOptionsFromEnv({ MILVUS_ADDRESS: 'x:19530', MILVUS_TOKEN: 'k' })).toThrow(
      'MILVUS_ADDRESS must be an http(s) URL, got "x:19530"',
    );
  });
});
