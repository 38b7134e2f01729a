import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';

const reference = loadReference();

interface Job {
  id: string;
  status: string;
  total: number;
  processed: number;
  failed: number;
  errors: { field: string[] | null; message: string; code: string }[];
  startedAt: string | null;
  finishedAt: string | null;
  etaSeconds: number | null;
}
interface Payload {
  job: Job | null;
  userErrors: { field: string[] | null; message: string; code: string }[];
}

const JOB = 'id status total processed failed errors { field message code } startedAt finishedAt etaSeconds';
const START = `mutation ($filter: ProductFilter, $reembed: Boolean, $key: String) {
  taggingJobStart(filter: $filter, reembed: $reembed, idempotencyKey: $key) { job { ${JOB} } userErrors { field message code } }
}`;

describe('tagging jobs through the gateway', () => {
  let t: TestGateway;
  const ids = reference.classes.map((_, i) => `p${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    t = await createTestGateway({ jobs: { chunkSize: 5, tagChunkSize: 5, leaseMs: 60_000, pollMs: 50, pauseMs: 0 } });
    const random = seededRandom(5);
    const products = await Promise.all(
      reference.classes.map(async (label, i) => ({
        id: ids[i],
        title: label,
        images: [{ base64: (await drawShape(reference, label, random)).toString('base64') }],
      })),
    );
    const set = await t.graphql(
      `mutation { taxonomySet(facets: [{ name: "kind", labels: ${JSON.stringify(reference.classes)} }]) { userErrors { message } } }`,
    );
    expect(set.errors).toBeUndefined();
    const upserted = await t.graphql<{ productsUpsert: { userErrors: unknown[] } }>(
      'mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }',
      { p: products },
    );
    expect(upserted.data!.productsUpsert.userErrors).toEqual([]);
    // Untagged products with stored vectors: what a job is for.
    await t.gateway.store.replaceAutoTags(ids, []);
  });

  afterAll(() => t.stop());

  async function job(id: string, on: TestGateway = t): Promise<Job> {
    const response = await on.graphql<{ taggingJob: Job }>(`query ($id: ID!) { taggingJob(id: $id) { ${JOB} } }`, { id });
    expect(response.errors).toBeUndefined();
    return response.data!.taggingJob;
  }

  it('starts a job, which re-tags every product from stored vectors in the background until SUCCEEDED', async () => {
    const embedImages = jest.spyOn(t.gateway.backend, 'embed');
    const started = await t.graphql<{ taggingJobStart: Payload }>(START, { key: 'retag-all' });
    expect(started.errors).toBeUndefined();
    const { job: made, userErrors } = started.data!.taggingJobStart;
    expect(userErrors).toEqual([]);
    expect(made).toMatchObject({ total: ids.length, processed: 0, failed: 0, errors: [] });
    // The same key: the same job.
    const again = await t.graphql<{ taggingJobStart: Payload }>(START, { key: 'retag-all' });
    expect(again.data!.taggingJobStart.job!.id).toBe(made!.id);

    let current = await job(made!.id);
    const deadline = Date.now() + 10_000;
    while (current.status !== 'SUCCEEDED' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      current = await job(made!.id);
    }
    expect(current).toMatchObject({
      status: 'SUCCEEDED',
      total: ids.length,
      processed: ids.length,
      failed: 0,
      errors: [],
      etaSeconds: null,
    });
    expect(current.startedAt).not.toBeNull();
    expect(current.finishedAt).not.toBeNull();
    const tags = await t.gateway.store.getTags(ids);
    expect(ids.filter((id) => tags.get(id)?.length === 1)).toEqual(ids);
    const right = ids.filter((id, i) => tags.get(id)![0].label === reference.classes[i]).length;
    expect(right / ids.length).toBeGreaterThanOrEqual(0.9);
    expect(embedImages).not.toHaveBeenCalledWith(expect.objectContaining({ kind: 'crops' }));
    embedImages.mockRestore();
  });

  it('reembed fetches URL images again: a picture replaced at the same URL is embedded and re-tagged', async () => {
    // A shop's image server on loopback whose picture at /p.png changes between two fetches.
    let picture = await drawShape(reference, 'red circle', seededRandom(9));
    let fetches = 0;
    const server = createServer((req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'image/png' }).end(picture);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/p.png`;
    const u = await createTestGateway({
      fetch: { timeoutMs: 5_000, maxRedirects: 0, allowNetworks: ['127.0.0.0/8'] },
      jobs: { chunkSize: 5, tagChunkSize: 5, leaseMs: 60_000, pollMs: 50, pauseMs: 0 },
    });
    try {
      await u.graphql(
        `mutation { taxonomySet(facets: [{ name: "kind", labels: ${JSON.stringify(reference.classes)} }]) { userErrors { message } } }`,
      );
      const upsert = await u.graphql<{ productsUpsert: { products: { tags: { label: string }[] }[] } }>(
        'mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { products { tags { label } } } }',
        { p: [{ id: 'u1', images: [{ url }] }] },
      );
      expect(upsert.data!.productsUpsert.products[0].tags).toEqual([{ label: 'red circle' }]);
      const [before] = await u.gateway.catalogue.getProducts(['u1']);
      expect(before.imageUrls).toEqual([url]);

      picture = await drawShape(reference, 'blue star', seededRandom(10));
      const started = await u.graphql<{ taggingJobStart: Payload & { job: { reembed: boolean; changesModel: boolean } } }>(
        `mutation { taggingJobStart(filter: { ids: ["u1"] }, reembed: true) { job { id reembed changesModel } userErrors { message } } }`,
      );
      expect(started.data!.taggingJobStart).toMatchObject({ job: { reembed: true, changesModel: false }, userErrors: [] });
      let current = await job(started.data!.taggingJobStart.job!.id, u);
      for (const deadline = Date.now() + 10_000; current.status !== 'SUCCEEDED' && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        current = await job(current.id, u);
      }
      expect(current).toMatchObject({ status: 'SUCCEEDED', processed: 1, failed: 0 });
      expect(fetches).toBe(2);
      const [after] = await u.gateway.catalogue.getProducts(['u1']);
      expect(after.imageHashes).not.toEqual(before.imageHashes);
      expect((await u.gateway.store.getTags(['u1'])).get('u1')).toEqual([expect.objectContaining({ label: 'blue star' })]);
    } finally {
      await u.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('cancels a job; an unknown one is a userError', async () => {
    await t.gateway.jobs.stop(); // nothing picks it up meanwhile
    try {
      const started = await t.graphql<{ taggingJobStart: Payload }>(START, { filter: { ids: ['p00', 'p01'] } });
      const id = started.data!.taggingJobStart.job!.id;
      const cancel = `mutation ($id: ID!) { taggingJobCancel(id: $id) { job { ${JOB} } userErrors { field message code } } }`;
      const cancelled = await t.graphql<{ taggingJobCancel: Payload }>(cancel, { id });
      expect(cancelled.data!.taggingJobCancel).toMatchObject({ job: { id, status: 'CANCELLED', total: 2, processed: 0 }, userErrors: [] });
      const unknown = await t.graphql<{ taggingJobCancel: Payload }>(cancel, { id: 'nope' });
      expect(unknown.data!.taggingJobCancel.userErrors).toEqual([{ field: ['id'], code: 'NOT_FOUND', message: expect.any(String) }]);
      expect((await t.graphql<{ taggingJob: null }>('{ taggingJob(id: "nope") { id } }')).data).toEqual({ taggingJob: null });

      // taggingJobs: the newest first, this cancelled one at the top.
      const listed = await t.graphql<{ taggingJobs: { id: string; status: string }[] }>('{ taggingJobs(first: 2) { id status } }');
      expect(listed.data!.taggingJobs).toHaveLength(2);
      expect(listed.data!.taggingJobs[0]).toEqual({ id, status: 'CANCELLED' });
      const tooMany = await t.graphql('{ taggingJobs(first: 0) { id } }');
      expect(tooMany.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/^first must be from 1 to \d+: 0\.$/),
        extensions: { code: 'BAD_USER_INPUT' },
      });
    } finally {
      t.gateway.jobs.start();
    }
  });
});
