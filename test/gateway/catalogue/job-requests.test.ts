import type { CatalogueService } from '../../../gateway/catalogue';
import { openPostgresStore, openSqliteStore } from '../../../gateway/store';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { startPostgres, type PostgresServer } from '../../helpers/postgres';

const AGAIN = 'A key repeats only the request it was first sent with; use a new key for a new job.';

// Both stores: a filter comes back from PostgreSQL's jsonb with its keys in jsonb's order.
describe.each(['SQLite', 'PostgreSQL'])('tagging job requests on %s', (engine) => {
  let server: PostgresServer | undefined;
  let t: TestGateway;
  let catalogue: CatalogueService;
  let started: number;

  beforeAll(async () => {
    if (engine === 'PostgreSQL') server = await startPostgres();
    const open =
      engine === 'PostgreSQL' ? () => openPostgresStore({ url: server!.url, poolSize: 1 }) : () => openSqliteStore({ path: ':memory:' });
    t = await createTestGateway({}, { store: await open() });
    // Nothing works on the jobs meanwhile: these tests are about the requests.
    await t.gateway.jobs.stop();
    catalogue = t.gateway.catalogue;
    started = 0;
    catalogue.onJobStarted(() => started++);
  });

  afterAll(async () => {
    await t.stop();
    await server?.stop();
  });

  it('returns the first job for a key sent again with the same request, whatever order its filter was written in', async () => {
    const filter = { attributes: { shape: 'circle', colour: 'red' }, tags: [{ label: 'red circle', facet: 'kind' }] };
    const first = await catalogue.startTaggingJob(filter, false, 'same');
    const again = await catalogue.startTaggingJob(
      { tags: [{ facet: 'kind', label: 'red circle' }], attributes: { colour: 'red', shape: 'circle' } },
      false,
      'same',
    );
    expect(again.id).toBe(first.id);
    expect(started).toBe(1);
  });

  it('refuses a key sent again with another filter or reembed, naming the key, the job and what differs', async () => {
    const job = await catalogue.startTaggingJob({ ids: ['p00', 'p01'] }, false, 'nightly');
    const before = started;
    await expect(catalogue.startTaggingJob({ ids: ['p02'] }, false, 'nightly')).rejects.toMatchObject({
      field: ['idempotencyKey'],
      code: 'BAD_USER_INPUT',
      message: `idempotencyKey: "nightly" already started tagging job ${job.id} with filter {"ids":["p00","p01"]}; this request has filter {"ids":["p02"]}. ${AGAIN}`,
    });
    await expect(catalogue.startTaggingJob({ ids: ['p00', 'p01'] }, true, 'nightly')).rejects.toMatchObject({
      message: `idempotencyKey: "nightly" already started tagging job ${job.id} with reembed false; this request has reembed true. ${AGAIN}`,
    });
    await expect(catalogue.startTaggingJob({}, true, 'nightly')).rejects.toMatchObject({
      message: `idempotencyKey: "nightly" already started tagging job ${job.id} with filter {"ids":["p00","p01"]} and reembed false; this request has filter {} and reembed true. ${AGAIN}`,
    });
    expect(started).toBe(before);
    expect((await catalogue.listTaggingJobs(10)).filter((j) => j.idempotencyKey === 'nightly')).toHaveLength(1);
    // Without a key, or with a new one, the same filter makes a new job.
    expect((await catalogue.startTaggingJob({ ids: ['p02'] }, false)).id).not.toBe(job.id);
    expect((await catalogue.startTaggingJob({ ids: ['p02'] }, false, 'nightly-2')).id).not.toBe(job.id);
  });

  it('quotes a long filter cut after 200 characters', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `product-${i}`);
    const job = await catalogue.startTaggingJob({ ids }, false, 'long');
    const json = JSON.stringify({ ids });
    await expect(catalogue.startTaggingJob({ ids: ids.slice(1) }, false, 'long')).rejects.toMatchObject({
      message: `idempotencyKey: "long" already started tagging job ${job.id} with filter ${json.slice(0, 200)}…; this request has filter ${JSON.stringify({ ids: ids.slice(1) }).slice(0, 200)}…. ${AGAIN}`,
    });
  });

  it('cancels a QUEUED job; cancelling a job that has ended is BAD_USER_INPUT naming the job and its final status', async () => {
    const job = await catalogue.startTaggingJob({ ids: ['p10'] }, false);
    expect(await catalogue.cancelTaggingJob(job.id)).toMatchObject({ id: job.id, status: 'CANCELLED' });
    await expect(catalogue.cancelTaggingJob(job.id)).rejects.toMatchObject({
      field: ['id'],
      code: 'BAD_USER_INPUT',
      message: `id: tagging job ${job.id} has already ended (CANCELLED); only a QUEUED or RUNNING job can be cancelled.`,
    });
    await expect(catalogue.cancelTaggingJob('nope')).rejects.toMatchObject({
      field: ['id'],
      code: 'NOT_FOUND',
      message: 'id: no tagging job has the id "nope".',
    });
  });

  it('refuses to cancel a SUCCEEDED job, also one that ends between its read and the cancel', async () => {
    // No product matches: the runner's claim finds nothing to cut, and the job succeeds.
    const job = await catalogue.startTaggingJob({ ids: ['nothing'] }, false, 'to-succeed');
    for (let i = 0; i < 20 && (await catalogue.getTaggingJob(job.id))!.status !== 'SUCCEEDED'; i++) await t.gateway.jobs.once();
    const succeeded = (await catalogue.getTaggingJob(job.id))!;
    expect(succeeded.status).toBe('SUCCEEDED');
    const message = `id: tagging job ${job.id} has already ended (SUCCEEDED); only a QUEUED or RUNNING job can be cancelled.`;
    await expect(catalogue.cancelTaggingJob(job.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message });
    // As a cancel would see it had it read the job just before its last chunk completed.
    const getJob = jest.spyOn(t.gateway.store, 'getJob').mockResolvedValueOnce({ ...succeeded, status: 'RUNNING', finishedAt: null });
    try {
      await expect(catalogue.cancelTaggingJob(job.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message });
    } finally {
      getJob.mockRestore();
    }
    expect((await catalogue.getTaggingJob(job.id))!.status).toBe('SUCCEEDED');
  });
});
