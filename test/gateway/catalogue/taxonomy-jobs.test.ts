import { ALONE_OUT_OF_MEMORY } from '../../../functions/clip/batch-runner';
import { ClipErrorCode } from '../../../functions/clip/errors';
import { failure, type EmbedRequest } from '../../../functions/clip/types';
import { followTaggingJob, type CatalogueService, type JobRow } from '../../../gateway/catalogue';
import { PROMPTS_PER_CHUNK } from '../../../gateway/catalogue/taxonomy-jobs';
import { TAXONOMY_NOT_SET } from '../../../gateway/store';
import { shapeProducts } from '../../helpers/catalogue';
import { gatewaysOnOneFile, histogram, type TestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const reference = loadReference();
const TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.'];
const KIND = [{ name: 'kind', labels: reference.classes, templates: TEMPLATES }];
const promptsOf = (labels: readonly string[], templates = TEMPLATES) =>
  labels.flatMap((label) => templates.map((t) => t.replace('{}', label)));

/** Texts the gateway's backend was asked to embed, so far. */
async function textsEmbedded(t: TestGateway): Promise<number> {
  return (await histogram(t.gateway, 'batchSize', { kind: 'text' })).sum;
}

/** The job as it is once it has ended, read as a subscriber reads it. */
async function ended(catalogue: CatalogueService, id: string): Promise<JobRow> {
  let last: JobRow | undefined;
  for await (const job of followTaggingJob(catalogue, id)) last = job;
  return last!;
}

/** The re-tagging job that `taxonomyJob` queued when it set its taxonomy (made in that transaction). */
async function retaggingOf(catalogue: CatalogueService, taxonomyJob: JobRow): Promise<JobRow> {
  const jobs = await catalogue.listTaggingJobs(20);
  const found = jobs.find((j) => j.taxonomy === null && j.createdAt === taxonomyJob.finishedAt);
  expect(found).toBeDefined();
  return found!;
}

describe('taxonomy changes as jobs', () => {
  /** A gateway on the test's catalogue file: a new process's worth of caches and runner, the same store. */
  const gatewayOnFile = gatewaysOnOneFile('taxonomy-jobs-');

  it('a taxonomy whose prompts are all stored embeds nothing and is set at once; new labels make a job of their prompts alone', async () => {
    const t = await gatewayOnFile();
    const { catalogue } = t.gateway;
    await catalogue.upsertProducts(await shapeProducts(61));
    const first = await catalogue.changeTaxonomy(KIND, true);
    expect(first.job).toMatchObject({ status: 'SUCCEEDED', total: promptsOf(reference.classes).length, failed: 0 });
    expect(await textsEmbedded(t)).toBe(promptsOf(reference.classes).length);

    // The same prompts under another facet name: nothing to embed, set by the job's first claim.
    const before = await textsEmbedded(t);
    const again = await catalogue.changeTaxonomy([{ ...KIND[0], name: 'shape and colour' }], true);
    expect(again.job).toMatchObject({ status: 'SUCCEEDED', total: 0, processed: 0 });
    expect(again.taxonomy).toMatchObject({ version: 2, facets: [{ name: 'shape and colour' }] });
    expect(await textsEmbedded(t)).toBe(before);
    // Its re-tagging ran: every product's tag is of version 2, from stored vectors (no image embedded).
    expect(again.retagging).toMatchObject({ status: 'SUCCEEDED', total: 32, processed: 32 });
    const tags = await catalogue.getTags(['p00', 'p31']);
    expect([...tags.values()].flat().map((tag) => [tag.facet, tag.taxonomyVersion])).toEqual([
      ['shape and colour', 2],
      ['shape and colour', 2],
    ]);

    // Two labels more, one template more for one facet: only those prompts are the job's, and embedded.
    const added = ['grey circle', 'brown star'];
    const grown = await catalogue.changeTaxonomy(
      [
        { name: 'kind', labels: [...reference.classes, ...added], templates: TEMPLATES },
        { name: 'colour', labels: ['red', 'green'], templates: ['a photo of a {}.', 'something {}.'] },
      ],
      true,
    );
    const fresh = [...promptsOf(added), 'a photo of a red.', 'something red.', 'a photo of a green.', 'something green.'];
    expect(grown.job).toMatchObject({ status: 'SUCCEEDED', total: fresh.length, processed: fresh.length });
    expect(await textsEmbedded(t)).toBe(before + fresh.length);
    expect(grown.taxonomy?.version).toBe(3);
  });

  it('the request embeds nothing: without a runner the job waits QUEUED, and a runner started later sets the taxonomy', async () => {
    const t = await gatewayOnFile();
    const { catalogue, jobs } = t.gateway;
    await catalogue.upsertProducts((await shapeProducts(62)).slice(0, 3));
    await jobs.stop();
    const change = await catalogue.changeTaxonomy(KIND, false);
    expect(change).toMatchObject({ job: { status: 'QUEUED', total: 64, taxonomy: expect.any(Array) }, errors: [] });
    expect(change.taxonomy).toBeUndefined();
    expect(await textsEmbedded(t)).toBe(0);
    expect(await catalogue.getTaxonomy()).toBeUndefined();

    jobs.start();
    const job = await ended(catalogue, change.job.id);
    expect(job).toMatchObject({ status: 'SUCCEEDED', processed: 64 });
    expect(await textsEmbedded(t)).toBe(64);
    const retagging = await ended(catalogue, (await retaggingOf(catalogue, job)).id);
    expect(retagging).toMatchObject({ status: 'SUCCEEDED', total: 3, processed: 3, model: job.model });
    const tags = await catalogue.getTags(['p00', 'p01', 'p02']);
    expect([...tags.values()].map((rows) => rows.map((r) => [r.facet, r.taxonomyVersion]))).toEqual([
      [['kind', 1]],
      [['kind', 1]],
      [['kind', 1]],
    ]);
  });

  it('a gateway stopped between two chunks leaves the rest to the next gateway on the same store, which embeds only that rest', async () => {
    // One template, enough labels for two chunks.
    const labels = Array.from({ length: PROMPTS_PER_CHUNK + 20 }, (_, i) => `thing ${i}`);
    const facets = [{ name: 'thing', labels, templates: ['a photo of a {}.'] }];
    const a = await gatewayOnFile();
    await a.gateway.catalogue.upsertProducts((await shapeProducts(63)).slice(0, 2));
    await a.gateway.jobs.stop();
    const { job } = await a.gateway.catalogue.changeTaxonomy(facets, false);
    expect(job.total).toBe(labels.length);
    // One chunk done by hand, then the gateway goes away.
    expect(await a.gateway.jobs.once()).toBe(true);
    expect(await a.gateway.catalogue.getTaggingJob(job.id)).toMatchObject({ status: 'RUNNING', processed: PROMPTS_PER_CHUNK });
    expect(await textsEmbedded(a)).toBe(PROMPTS_PER_CHUNK);
    await a.stop();

    const b = await gatewayOnFile();
    const done = await ended(b.gateway.catalogue, job.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', total: labels.length, processed: labels.length, failed: 0 });
    expect(await textsEmbedded(b)).toBe(20);
    expect(await b.gateway.catalogue.getTaxonomy()).toMatchObject({ version: 1, facets: [{ name: 'thing', labels }] });
    const retagging = await ended(b.gateway.catalogue, (await retaggingOf(b.gateway.catalogue, done)).id);
    expect(retagging).toMatchObject({ status: 'SUCCEEDED', processed: 2 });
    const tags = await b.gateway.catalogue.getTags(['p00', 'p01']);
    expect([...tags.values()].flat().map((tag) => tag.facet)).toEqual(['thing', 'thing']);
    const stored = await b.gateway.store.getLabelVectors(b.gateway.catalogue.model, promptsOf(labels, ['a photo of a {}.']));
    expect(stored.size).toBe(labels.length);
  });

  it('a prompt the backend fails ends the job FAILED, naming its facet and label, with the old taxonomy in place', async () => {
    const t = await gatewayOnFile();
    const { catalogue, backend, store } = t.gateway;
    await catalogue.setTaxonomy(KIND);
    // A stand-in for the CUDA function failing one input alone (out of device memory), as its batch runner does.
    const failing = 'a drawing of a brown triangle.';
    const embed = backend.embed.bind(backend);
    jest.spyOn(backend, 'embed').mockImplementation(async (request: EmbedRequest, options) => {
      const results = await embed(request, options);
      return results.map((result, i) =>
        request.kind === 'text' && request.items[i] === failing ? failure(ClipErrorCode.INFERENCE_FAILED, ALONE_OUT_OF_MEMORY) : result,
      );
    });
    const facets = [
      { name: 'kind', labels: reference.classes, templates: TEMPLATES },
      { name: 'new', labels: ['grey triangle', 'brown triangle', 'white star'], templates: TEMPLATES },
    ];
    const change = await catalogue.changeTaxonomy(facets, true);
    expect(change.job).toMatchObject({ status: 'FAILED', total: 6, processed: 5, failed: 1 });
    expect(change.taxonomy).toBeUndefined();
    expect(change.retagging).toBeUndefined();
    expect(change.errors.map((e) => [e.field, e.code])).toEqual([
      [['facets', '1', 'labels', '1'], ClipErrorCode.INFERENCE_FAILED],
      [null, TAXONOMY_NOT_SET],
    ]);
    expect(change.errors[0].message).toMatch(/^facets\[1\]\.labels\[1\]/);
    expect(change.errors[0].message).toContain(JSON.stringify(failing));
    expect((await store.getTaxonomy())?.version).toBe(1);
    // The prompts that were embedded are kept: set again once the backend recovers, only the failed one is embedded.
    expect((await store.getLabelVectors(catalogue.model, promptsOf(['white star', 'brown triangle']))).size).toBe(3);
    await expect(catalogue.setTaxonomy(facets)).rejects.toMatchObject({ field: ['facets', '1', 'labels', '1'] });
    jest.restoreAllMocks();
    const before = await textsEmbedded(t);
    expect((await catalogue.setTaxonomy(facets)).version).toBe(2);
    expect(await textsEmbedded(t)).toBe(before + 1);
  });
});
