/** The contract's jobs: keyset chunks claimed by one worker at a time, reclaimed when stale, cancelled, resumed after a restart. */
import { JOB_CHUNK_MAX_ATTEMPTS, JOB_MAX_ERRORS, type CatalogueStore, type JobChunk } from '../../../../gateway/store';
import { jobIds as ids, MODEL_A, outcome, product, tag, type OpenedStore, type Subject } from './fixtures';
import { modelChangesContract } from './model-changes';

export function jobsContract(subject: Subject): void {
  describe('jobs', () => {
    let store: CatalogueStore;
    let opened: OpenedStore;
    beforeEach(() => {
      store = subject.store;
      opened = subject.opened;
    });
    // Tagging jobs are worked on by gateways of the active model.
    beforeEach(() => store.claimActiveModel(MODEL_A));
    it('lists the newest jobs first, as many as asked for', async () => {
      await store.upsertProducts(ids(3).map((id) => product(id)));
      expect(await store.listJobs(10)).toEqual([]);
      const made = [];
      for (let i = 0; i < 3; i++) {
        made.push((await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: `list-${i}` })).job);
        // Creation times are to the millisecond: keep them apart, so that newest first is one order.
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      await store.cancelJob(made[1].id);
      const listed = await store.listJobs(10);
      expect(listed.map((job) => job.id)).toEqual([made[2].id, made[1].id, made[0].id]);
      expect(listed[1]).toMatchObject({ status: 'CANCELLED', total: 3 });
      expect((await store.listJobs(2)).map((job) => job.id)).toEqual([made[2].id, made[1].id]);
    });

    it('creates a QUEUED job counting the products its filter matches', async () => {
      await store.upsertProducts([...ids(5).map((id) => product(id, { attributes: { even: id.endsWith('0') } })), product('other')]);
      const filter = { attributes: { even: false } };
      const { job, created } = await store.createJob({ filter, reembed: false, model: MODEL_A });
      expect(created).toBe(true);
      expect(job).toEqual({
        id: expect.any(String),
        status: 'QUEUED',
        total: 4,
        processed: 0,
        failed: 0,
        errors: [],
        filter,
        reembed: false,
        model: 'clip-a|fp32',
        changesModel: false,
        taxonomy: null,
        importSource: null,
        idempotencyKey: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        startedAt: null,
        finishedAt: null,
      });
      expect(await store.getJob(job.id)).toEqual(job);
      expect(await store.getJob('no-such-job')).toBeUndefined();
      expect((await store.createJob({ filter: {}, reembed: true, model: MODEL_A })).job).toMatchObject({
        total: 6,
        reembed: true,
        changesModel: false,
      });
    });

    it('returns the existing job for an idempotency key used before: one job per key', async () => {
      await store.upsertProducts(ids(3).map((id) => product(id)));
      const first = await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-1' });
      const [again, twice] = await Promise.all([
        store.createJob({ filter: { ids: ['j000'] }, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-1' }),
        store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-1' }),
      ]);
      expect(first.created).toBe(true);
      expect(first.job.idempotencyKey).toBe('nightly-1');
      expect(again).toEqual({ job: first.job, created: false });
      expect(twice).toEqual({ job: first.job, created: false });
      const other = await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'nightly-2' });
      expect(other.created).toBe(true);
      expect(other.job.id).not.toBe(first.job.id);
    });

    it('hands out keyset chunks covering every matching product once, and records their outcomes with their tags', async () => {
      const all = ids(7);
      await store.upsertProducts([...all, 'zz-skipped'].map((id) => product(id, { attributes: { pick: id !== 'zz-skipped' } })));
      const { job } = await store.createJob({ filter: { attributes: { pick: true } }, reembed: false, model: MODEL_A });
      const chunks: JobChunk[] = [];
      for (let chunk = await store.claimJobChunk('w1', 3, MODEL_A); chunk; chunk = await store.claimJobChunk('w1', 3, MODEL_A)) {
        chunks.push(chunk);
        if (chunks.length === 1) expect((await store.getJob(job.id))!.status).toBe('RUNNING');
        expect(await store.completeJobChunk(chunk, outcome(chunk, ['j004']))).toBe(true);
      }
      expect(chunks.map((c) => c.productIds)).toEqual([all.slice(0, 3), all.slice(3, 6), all.slice(6)]);
      expect(chunks.map((c) => [c.seq, c.attempts, c.jobId])).toEqual([
        [1, 1, job.id],
        [2, 1, job.id],
        [3, 1, job.id],
      ]);
      const done = (await store.getJob(job.id))!;
      expect(done).toMatchObject({ status: 'SUCCEEDED', total: 7, processed: 6, failed: 1 });
      expect(done.errors).toEqual([{ field: ['products', 'j004'], message: 'j004 failed', code: 'NOT_FOUND' }]);
      expect(done.startedAt).not.toBeNull();
      expect(done.finishedAt).not.toBeNull();
      const tags = await store.getTags([...all, 'zz-skipped']);
      expect(all.filter((id) => (tags.get(id) ?? []).length === 1)).toEqual(all.filter((id) => id !== 'j004'));
      expect(tags.get('zz-skipped') ?? []).toEqual([]);
      expect(await store.claimJobChunk('w1', 3, MODEL_A)).toBeUndefined();
    });

    it('counts products added while it runs in its total: processed never passes total', async () => {
      await store.upsertProducts(ids(2).map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
      expect(job.total).toBe(2);
      // Added after the job was made, after its first products in id order: its later chunks take them.
      await store.upsertProducts(['k1', 'k2', 'k3'].map((id) => product(id)));
      for (let chunk = await store.claimJobChunk('w1', 2, MODEL_A); chunk; chunk = await store.claimJobChunk('w1', 2, MODEL_A)) {
        expect(await store.completeJobChunk(chunk, outcome(chunk))).toBe(true);
        const now = (await store.getJob(job.id))!;
        expect(now.processed + now.failed).toBeLessThanOrEqual(now.total);
      }
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', total: 5, processed: 5, failed: 0 });
    });

    it('cuts a job that only tags in chunks of tagChunkSize, and one that re-embeds in chunks of chunkSize', async () => {
      const all = ids(7);
      await store.upsertProducts(all.map((id) => product(id)));
      const sizes = async (reembed: boolean) => {
        const { job } = await store.createJob({ filter: {}, reembed, model: MODEL_A });
        const cut: number[] = [];
        for (let chunk = await store.claimJobChunk('w1', 2, MODEL_A, 5); chunk; chunk = await store.claimJobChunk('w1', 2, MODEL_A, 5)) {
          expect(chunk.jobId).toBe(job.id);
          cut.push(chunk.productIds.length);
          await store.completeJobChunk(chunk, outcome(chunk, []));
        }
        return cut;
      };
      expect(await sizes(false)).toEqual([5, 2]);
      expect(await sizes(true)).toEqual([2, 2, 2, 1]);
      await expect(store.claimJobChunk('w1', 2, MODEL_A, 0)).rejects.toThrow(/tagChunkSize/);
    });

    it('keeps the first JOB_MAX_ERRORS errors, and finishes a job with nothing to do at its first claim', async () => {
      const all = ids(JOB_MAX_ERRORS + 5);
      await store.upsertProducts(all.map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
      const chunk = (await store.claimJobChunk('w', 100, MODEL_A))!;
      await store.completeJobChunk(chunk, outcome(chunk, all));
      const done = (await store.getJob(job.id))!;
      expect(done).toMatchObject({ status: 'SUCCEEDED', processed: 0, failed: all.length });
      expect(done.errors.map((e) => e.field)).toEqual(all.slice(0, JOB_MAX_ERRORS).map((id) => ['products', id]));

      const empty = (await store.createJob({ filter: { ids: [] }, reembed: false, model: MODEL_A })).job;
      expect(empty.total).toBe(0);
      expect(await store.claimJobChunk('w', 100, MODEL_A)).toBeUndefined();
      expect((await store.getJob(empty.id))!.status).toBe('SUCCEEDED');
    });

    it('never gives two concurrent claimers the same chunk', async () => {
      const all = ids(40);
      await store.upsertProducts(all.map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
      // A second store on the same database where the adapter has one (another gateway), else two claimers on one.
      const other = opened.reopen ? await opened.reopen() : store;
      try {
        const claimer = async (on: CatalogueStore, name: string) => {
          const got: JobChunk[] = [];
          for (let chunk = await on.claimJobChunk(name, 3, MODEL_A); chunk; chunk = await on.claimJobChunk(name, 3, MODEL_A)) {
            got.push(chunk);
            expect(await on.completeJobChunk(chunk, outcome(chunk))).toBe(true);
          }
          return got;
        };
        const chunks = (await Promise.all([claimer(store, 'a'), claimer(other, 'b'), claimer(store, 'c')])).flat();
        const claimed = chunks.flatMap((c) => c.productIds);
        expect(claimed.length).toBe(all.length);
        expect([...claimed].sort()).toEqual(all);
        expect(new Set(chunks.map((c) => c.seq)).size).toBe(chunks.length);
      } finally {
        if (other !== store) await other.close();
      }
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 40, failed: 0 });
    });

    it('reclaims a stale claim for another worker; the first claim then writes nothing', async () => {
      await store.upsertProducts(ids(2).map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
      const first = (await store.claimJobChunk('dead', 10, MODEL_A))!;
      expect(await store.claimJobChunk('alive', 10, MODEL_A)).toBeUndefined(); // its only chunk is claimed
      expect(await store.reclaimStaleJobChunks(new Date(Date.now() - 3_600_000).toISOString())).toBe(0);
      expect(await store.reclaimStaleJobChunks(new Date(Date.now() + 1_000).toISOString())).toBe(1);
      const second = (await store.claimJobChunk('alive', 10, MODEL_A))!;
      expect(second).toMatchObject({ jobId: job.id, seq: first.seq, productIds: first.productIds, attempts: 2 });
      expect(second.claim).not.toBe(first.claim);
      // The dead worker wakes up: its claim is gone, so nothing it did is written or counted.
      expect(await store.completeJobChunk(first, outcome(first))).toBe(false);
      expect((await store.getTags(ids(2))).get('j000') ?? []).toEqual([]);
      expect(await store.completeJobChunk(second, outcome(second))).toBe(true);
      // Done twice: the second completion tags nothing twice and counts nothing twice.
      expect(await store.completeJobChunk(second, outcome(second))).toBe(false);
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 2 });
      expect((await store.getTags(['j000'])).get('j000')).toEqual([tag('j000', 'colour', 'red')]);
    });

    it(`fails a job whose chunk was claimed ${JOB_CHUNK_MAX_ATTEMPTS} times without completing`, async () => {
      await store.upsertProducts(ids(2).map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
      for (let i = 0; i < JOB_CHUNK_MAX_ATTEMPTS; i++) {
        expect((await store.claimJobChunk('crashing', 10, MODEL_A))!.attempts).toBe(i + 1);
        await store.reclaimStaleJobChunks(new Date(Date.now() + 1_000).toISOString());
      }
      expect(await store.claimJobChunk('crashing', 10, MODEL_A)).toBeUndefined();
      const failed = (await store.getJob(job.id))!;
      expect(failed.status).toBe('FAILED');
      expect(failed.finishedAt).not.toBeNull();
      expect(failed.errors).toEqual([{ field: null, code: 'JOB_FAILED', message: expect.stringContaining('claimed 3 times') }]);
    });

    it('cancels a job: its claimed chunk then writes nothing and nothing more is handed out', async () => {
      await store.upsertProducts(ids(6).map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A });
      const chunk = (await store.claimJobChunk('w', 3, MODEL_A))!;
      const cancelled = (await store.cancelJob(job.id))!;
      expect(cancelled).toMatchObject({ id: job.id, status: 'CANCELLED', processed: 0 });
      expect(cancelled.finishedAt).not.toBeNull();
      expect(await store.completeJobChunk(chunk, outcome(chunk))).toBe(false);
      expect([...(await store.getTags(ids(6))).values()].flat()).toEqual([]);
      expect(await store.claimJobChunk('w', 3, MODEL_A)).toBeUndefined();
      expect(await store.cancelJob(job.id)).toEqual(cancelled); // again: unchanged
      expect(await store.cancelJob('no-such-job')).toBeUndefined();
      // A finished job stays finished.
      const { job: next } = await store.createJob({ filter: { ids: [] }, reembed: false, model: MODEL_A });
      await store.claimJobChunk('w', 3, MODEL_A);
      expect((await store.cancelJob(next.id))!.status).toBe('SUCCEEDED');
    });

    modelChangesContract(subject);

    it('a store reopened on the same database carries on with the same job', async () => {
      if (!opened.reopen) return;
      await store.upsertProducts(ids(5).map((id) => product(id)));
      const { job } = await store.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'k' });
      const chunk = (await store.claimJobChunk('w', 2, MODEL_A))!;
      await store.completeJobChunk(chunk, outcome(chunk));
      await store.claimJobChunk('killed', 2, MODEL_A); // claimed, never completed: its process died
      await store.close();
      const again = await opened.reopen();
      try {
        await again.reclaimStaleJobChunks(new Date(Date.now() + 1_000).toISOString());
        const seen: string[] = [];
        for (let c = await again.claimJobChunk('w2', 2, MODEL_A); c; c = await again.claimJobChunk('w2', 2, MODEL_A)) {
          seen.push(...c.productIds);
          await again.completeJobChunk(c, outcome(c));
        }
        expect(seen).toEqual(ids(5).slice(2));
        expect(await again.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 5 });
        expect((await again.createJob({ filter: {}, reembed: false, model: MODEL_A, idempotencyKey: 'k' })).created).toBe(false);
      } finally {
        await again.close();
      }
    });
  });
}
