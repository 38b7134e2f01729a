import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const reference = loadReference();

/** What a client sees of the catalogue's user errors: the message, the code, and where. */
describe('catalogue user errors over GraphQL', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await createTestGateway();
    const set = await t.graphql<{ taxonomySet: { userErrors: unknown[] } }>(
      'mutation ($f: [FacetInput!]!) { taxonomySet(facets: $f) { userErrors { message } } }',
      { f: [{ name: 'kind', labels: reference.classes.slice(0, 3) }] },
    );
    expect(set.data!.taxonomySet.userErrors).toEqual([]);
  });

  afterAll(() => t.stop());

  it('labelTopProducts with an unknown facet or label is BAD_USER_INPUT naming it and the known ones, not an empty list', async () => {
    const top = `query ($facet: String!, $label: String!) { labelTopProducts(facet: $facet, label: $label) { score } }`;
    const facet = await t.graphql(top, { facet: 'colour', label: 'red' });
    expect(facet.data).toBeNull();
    expect(facet.errors).toEqual([
      {
        message: 'facet: the taxonomy has no facet named "colour"; its only facet is "kind".',
        path: ['labelTopProducts'],
        locations: expect.any(Array),
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
    const label = await t.graphql(top, { facet: 'kind', label: 'pink star' });
    expect(label.errors).toEqual([
      expect.objectContaining({
        message: `label: facet "kind" has no label "pink star"; its labels are "${reference.classes[0]}", "${reference.classes[1]}" and "${reference.classes[2]}".`,
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    const known = await t.graphql(top, { facet: 'kind', label: reference.classes[0] });
    expect(known).toMatchObject({ data: { labelTopProducts: [] } });
    expect(known.errors).toBeUndefined();
  });

  it('taggingJobStart with a used idempotencyKey and another filter answers a userError naming the key, and no job', async () => {
    const start = `mutation ($filter: ProductFilter, $key: String) {
      taggingJobStart(filter: $filter, idempotencyKey: $key) { job { id } userErrors { field message code } }
    }`;
    const first = await t.graphql<{ taggingJobStart: { job: { id: string } } }>(start, { filter: { ids: ['p00'] }, key: 'weekly' });
    const id = first.data!.taggingJobStart.job.id;
    expect(await t.graphql(start, { filter: { ids: ['p00'] }, key: 'weekly' })).toMatchObject({
      data: { taggingJobStart: { job: { id }, userErrors: [] } },
    });
    const other = await t.graphql(start, { filter: { ids: ['p01'] }, key: 'weekly' });
    expect(other.errors).toBeUndefined();
    expect(other.data).toEqual({
      taggingJobStart: {
        job: null,
        userErrors: [
          {
            field: ['idempotencyKey'],
            code: 'BAD_USER_INPUT',
            message: `idempotencyKey: "weekly" already started tagging job ${id} with filter {"ids":["p00"]}; this request has filter {"ids":["p01"]}. A key repeats only the request it was first sent with; use a new key for a new job.`,
          },
        ],
      },
    });
  });

  it('taggingJobCancel of a job that has ended answers a userError naming the job and its final status', async () => {
    await t.gateway.jobs.stop(); // the job stays QUEUED until the first cancel
    try {
      const start = await t.graphql<{ taggingJobStart: { job: { id: string } } }>(
        'mutation { taggingJobStart(filter: { ids: ["p02"] }) { job { id } } }',
      );
      const id = start.data!.taggingJobStart.job.id;
      const cancel = 'mutation ($id: ID!) { taggingJobCancel(id: $id) { job { id status } userErrors { field message code } } }';
      expect((await t.graphql(cancel, { id })).data).toEqual({ taggingJobCancel: { job: { id, status: 'CANCELLED' }, userErrors: [] } });
      const again = await t.graphql(cancel, { id });
      expect(again.errors).toBeUndefined();
      expect(again.data).toEqual({
        taggingJobCancel: {
          job: null,
          userErrors: [
            {
              field: ['id'],
              code: 'BAD_USER_INPUT',
              message: `id: tagging job ${id} has already ended (CANCELLED); only a QUEUED or RUNNING job can be cancelled.`,
            },
          ],
        },
      });
    } finally {
      t.gateway.jobs.start();
    }
  });
  it('productsUpsert with base64 that is not an image answers a userError naming the image and why, and its neighbour is stored', async () => {
    const upsert = `mutation ($products: [ProductInput!]!) {
      productsUpsert(products: $products) { products { id imageCount } userErrors { field message code } }
    }`;
    const text = Buffer.from('not an image, only words').toString('base64');
    const answer = await t.graphql(upsert, {
      products: [
        { id: 'bad-bytes', title: 'Words', images: [{ base64: text }] },
        { id: 'good-bytes', title: 'Circle', images: [{ base64: reference.images[0]!.bytes.toString('base64') }] },
      ],
    });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({
      productsUpsert: {
        products: [null, { id: 'good-bytes', imageCount: 1 }],
        userErrors: [
          {
            field: ['products', '0', 'images', '0', 'base64'],
            code: 'UNSUPPORTED_IMAGE_FORMAT',
            message: 'products[0].images[0].base64: The data is not in a recognised image format; only JPEG, PNG and WebP are accepted.',
          },
        ],
      },
    });
  });
});
