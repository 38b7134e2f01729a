import { withDeadline } from '../../../gateway/common/deadline';
import { followTaggingJob } from '../../../gateway/catalogue';
import { shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, histogram, type TestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const reference = loadReference();

interface Job {
  id: string;
  kind: string;
  status: string;
  total: number;
  processed: number;
  failed: number;
}
interface Payload {
  taxonomy: { version: number } | null;
  job: Job | null;
  retagging: Job | null;
  userErrors: { field: string[] | null; code: string; message: string }[];
}

const JOB = 'id kind status total processed failed';
const SET = `mutation ($f: [FacetInput!]!, $wait: Boolean) {
  taxonomySet(facets: $f, wait: $wait) { taxonomy { version } job { ${JOB} } retagging { ${JOB} } userErrors { field code message } }
}`;
/** One template, so that a facet's prompts are its labels. */
const TEMPLATES = ['a photo of a {}.'];
const KIND = [{ name: 'kind', labels: reference.classes, templates: TEMPLATES }];

describe('taxonomySet', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await createTestGateway();
    await t.gateway.catalogue.upsertProducts((await shapeProducts(71)).slice(0, 4));
  });

  afterAll(() => t.stop());

  async function set(facets: unknown[], wait?: boolean): Promise<Payload> {
    const answer = await t.graphql<{ taxonomySet: Payload }>(SET, { f: facets, wait });
    expect(answer.errors).toBeUndefined();
    return answer.data!.taxonomySet;
  }

  async function tagVersions(): Promise<number[]> {
    const answer = await t.graphql<{ product: { tags: { taxonomyVersion: number }[] } }>(
      '{ product(id: "p03") { tags { taxonomyVersion } } }',
    );
    return answer.data!.product.tags.map((tag) => tag.taxonomyVersion);
  }

  it('waits by default: the taxonomy set, its TAXONOMY job and the TAGGING job that re-tagged every product, ended', async () => {
    const payload = await set(KIND);
    expect(payload).toEqual({
      taxonomy: { version: 1 },
      job: { id: expect.any(String), kind: 'TAXONOMY', status: 'SUCCEEDED', total: 32, processed: 32, failed: 0 },
      retagging: { id: expect.any(String), kind: 'TAGGING', status: 'SUCCEEDED', total: 4, processed: 4, failed: 0 },
      userErrors: [],
    });
    expect(await tagVersions()).toEqual([1]);
    const jobs = await t.graphql<{ taggingJobs: { id: string; kind: string }[] }>('{ taggingJobs(first: 2) { id kind } }');
    expect(jobs.data!.taggingJobs).toEqual([
      { id: payload.retagging!.id, kind: 'TAGGING' },
      { id: payload.job!.id, kind: 'TAXONOMY' },
    ]);
  });

  it('with wait false answers at once with the job, which ends SUCCEEDED with the taxonomy set and the products re-tagged', async () => {
    const colours = Object.keys(reference.domain.colours);
    const payload = await set([...KIND, { name: 'colour', labels: colours, templates: TEMPLATES }], false);
    expect(payload).toMatchObject({ taxonomy: null, retagging: null, userErrors: [], job: { kind: 'TAXONOMY', total: colours.length } });
    expect(['QUEUED', 'RUNNING']).toContain(payload.job!.status);
    let last: { status: string; processed: number } | undefined;
    for await (const job of followTaggingJob(t.gateway.catalogue, payload.job!.id)) last = job;
    expect(last).toMatchObject({ status: 'SUCCEEDED', processed: colours.length });
    expect((await t.gateway.catalogue.getTaxonomy())?.version).toBe(2);
    // The re-tagging queued with it: newest of all jobs now.
    const [retagging] = await t.gateway.catalogue.listTaggingJobs(1);
    for await (const job of followTaggingJob(t.gateway.catalogue, retagging.id)) last = job;
    expect(last).toMatchObject({ status: 'SUCCEEDED', processed: 4 });
    expect(await tagVersions()).toEqual([2, 2]);
  });

  it('answers before the deadline of the request with the job to follow when the runners have not set the taxonomy', async () => {
    await t.gateway.jobs.stop();
    try {
      const deadline = withDeadline(undefined, 400, () => new Error('deadline'));
      const before = (await histogram(t.gateway, 'batchSize', { kind: 'text' })).sum;
      const response = await t.gateway.apollo.executeOperation<{ taxonomySet: Payload }>(
        { query: SET, variables: { f: [{ name: 'kind', labels: ['grey circle', 'grey star'], templates: TEMPLATES }] } },
        { contextValue: t.gateway.context(deadline.signal) },
      );
      deadline.dispose();
      expect(deadline.signal.aborted).toBe(false);
      const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
      expect(body?.errors).toBeUndefined();
      expect(body?.data?.taxonomySet).toMatchObject({
        taxonomy: null,
        retagging: null,
        userErrors: [],
        job: { status: 'QUEUED', total: 2 },
      });
      expect((await histogram(t.gateway, 'batchSize', { kind: 'text' })).sum).toBe(before);
      expect((await t.gateway.catalogue.getTaxonomy())?.version).toBe(2);
    } finally {
      t.gateway.jobs.start();
    }
  });

  it('a problem with the facets is a userError with no job; a new taxonomySet cancels the job still open', async () => {
    expect(await set([])).toEqual({
      taxonomy: null,
      job: null,
      retagging: null,
      userErrors: [{ field: ['facets'], code: 'BAD_USER_INPUT', message: 'facets is empty; give at least one facet.' }],
    });
    await t.gateway.jobs.stop();
    let open: Payload;
    try {
      open = await set([{ name: 'kind', labels: ['brown circle', 'brown star'], templates: TEMPLATES }], false);
    } finally {
      t.gateway.jobs.start();
    }
    const latest = await set(KIND);
    expect(latest.taxonomy?.version).toBeGreaterThan(2);
    const cancelled = await t.graphql<{ taggingJob: Job }>(`query ($id: ID!) { taggingJob(id: $id) { ${JOB} } }`, { id: open!.job!.id });
    expect(cancelled.data!.taggingJob).toMatchObject({ kind: 'TAXONOMY', status: 'CANCELLED', total: 2, processed: 0 });
  });
});
