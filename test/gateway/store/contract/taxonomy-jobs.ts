/** The contract's taxonomy jobs: chunks of prompt texts, then the taxonomy set and a re-tagging queued in the last completion. */
import type { CatalogueStore, ChunkOutcome, JobChunk, JobRow, NewJob } from '../../../../gateway/store';
import { TAXONOMY_NOT_SET } from '../../../../gateway/store/taxonomy-jobs';
import { FACETS, jobIds, MODEL_A, product, type Subject } from './fixtures';

const WORKER = 'worker-1';
const TEXTS = ['a photo of a red thing', 'a photo of a green thing', 'casual clothing', 'a casual outfit', 'formal clothing'];

function taxonomyJob(texts = TEXTS, chunkSize = 2, facets = FACETS): NewJob {
  return { filter: {}, reembed: false, model: MODEL_A, taxonomy: { facets, texts, chunkSize } };
}

/** A chunk of prompts embedded: `failed` of them could not be. */
function embedded(chunk: JobChunk, failed: string[] = []): ChunkOutcome {
  const texts = chunk.texts ?? [];
  return {
    productIds: [],
    tags: [],
    processed: texts.length - failed.length,
    failed: failed.length,
    errors: failed.map((text) => ({
      field: null,
      message: `the prompt ${JSON.stringify(text)} could not be embedded`,
      code: 'BACKEND_UNAVAILABLE',
    })),
  };
}

export function taxonomyJobsContract(subject: Subject): void {
  describe('taxonomy jobs', () => {
    let store: CatalogueStore;
    beforeEach(async () => {
      store = subject.store;
      await store.claimActiveModel(MODEL_A);
    });

    /**
     * Claims and completes chunks of prompts with `complete` while there are any; returns the texts
     * claimed, chunk by chunk, and the first other chunk claimed (left claimed).
     */
    async function drain(
      complete: (chunk: JobChunk) => ChunkOutcome = (chunk) => embedded(chunk),
    ): Promise<{ claimed: string[][]; next?: JobChunk }> {
      const claimed: string[][] = [];
      for (;;) {
        const chunk = await store.claimJobChunk(WORKER, 100, MODEL_A);
        if (!chunk?.texts) return { claimed, next: chunk };
        claimed.push(chunk.texts);
        expect(chunk.productIds).toEqual([]);
        expect(await store.completeJobChunk(chunk, complete(chunk))).toBe(true);
      }
    }

    it('embeds its prompts a chunk at a time, then sets the taxonomy and queues a re-tagging of every product', async () => {
      await store.upsertProducts(jobIds(3).map((id) => product(id)));
      const { job, created } = await store.createJob(taxonomyJob([...TEXTS, TEXTS[0]]));
      expect(created).toBe(true);
      expect(job).toMatchObject({ status: 'QUEUED', total: 5, processed: 0, taxonomy: FACETS, reembed: false, filter: {} });
      expect(await store.getTaxonomy()).toBeUndefined();

      // The runner's chunk size counts products: a taxonomy job's chunks were cut when it was made.
      const { claimed, next } = await drain();
      expect(claimed).toEqual([TEXTS.slice(0, 2), TEXTS.slice(2, 4), TEXTS.slice(4)]);
      const done = await store.getJob(job.id);
      expect(done).toMatchObject({ status: 'SUCCEEDED', total: 5, processed: 5, failed: 0, finishedAt: expect.any(String) });
      expect(await store.getTaxonomy()).toMatchObject({ version: 1, facets: FACETS });
      const retag = (await store.listJobs(10)).find((j) => j.id !== job.id) as JobRow;
      expect(retag).toMatchObject({ status: 'RUNNING', total: 3, reembed: false, taxonomy: null, model: 'clip-a|fp32', filter: {} });
      expect(next).toMatchObject({ jobId: retag.id, productIds: jobIds(3), texts: null });
    });

    it('hands a stale chunk of prompts to the next claimer, as any chunk', async () => {
      await store.createJob(taxonomyJob(TEXTS.slice(0, 2)));
      const first = (await store.claimJobChunk(WORKER, 100, MODEL_A))!;
      expect(await store.claimJobChunk('worker-2', 100, MODEL_A)).toBeUndefined();
      expect(await store.reclaimStaleJobChunks(new Date(Date.now() + 60_000).toISOString())).toBe(1);
      const again = (await store.claimJobChunk('worker-2', 100, MODEL_A))!;
      expect(again).toMatchObject({ seq: first.seq, texts: TEXTS.slice(0, 2), attempts: 2 });
      expect(await store.completeJobChunk(first, embedded(first))).toBe(false);
      expect(await store.completeJobChunk(again, embedded(again))).toBe(true);
      expect((await store.getTaxonomy())?.version).toBe(1);
    });

    it('fails without setting the taxonomy when a prompt failed, naming how many', async () => {
      const { job } = await store.createJob(taxonomyJob());
      await drain((chunk) => embedded(chunk, chunk.texts!.includes(TEXTS[2]) ? [TEXTS[2]] : []));
      const failed = await store.getJob(job.id);
      expect(failed).toMatchObject({ status: 'FAILED', processed: 4, failed: 1 });
      expect(failed!.errors.map((e) => e.code)).toEqual(['BACKEND_UNAVAILABLE', TAXONOMY_NOT_SET]);
      expect(failed!.errors[1].message).toContain('1 prompt(s) could not be embedded');
      expect(await store.getTaxonomy()).toBeUndefined();
      expect((await store.listJobs(10)).map((j) => j.id)).toEqual([job.id]);
    });

    it('the latest request wins: a new taxonomy job cancels the open one, and a version set meanwhile fails it', async () => {
      const older = (await store.createJob(taxonomyJob())).job;
      const newer = (await store.createJob(taxonomyJob(TEXTS.slice(0, 1), 2, FACETS.slice(0, 1)))).job;
      expect((await store.getJob(older.id))?.status).toBe('CANCELLED');
      await store.setTaxonomy(FACETS.slice(1));
      expect((await drain()).claimed).toEqual([TEXTS.slice(0, 1)]);
      const overtaken = await store.getJob(newer.id);
      expect(overtaken).toMatchObject({ status: 'FAILED', errors: [{ code: TAXONOMY_NOT_SET, field: null }] });
      expect(overtaken!.errors[0].message).toContain('taxonomy version 1 was set after this job was made (on version 0)');
      expect(await store.getTaxonomy()).toMatchObject({ version: 1, facets: FACETS.slice(1) });
    });

    it('with no prompt left to embed, sets the taxonomy at its first claim', async () => {
      await store.setTaxonomy(FACETS);
      const { job } = await store.createJob(taxonomyJob([]));
      expect(job.total).toBe(0);
      expect(await store.claimJobChunk(WORKER, 100, MODEL_A)).toBeUndefined();
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 0 });
      expect(await store.getTaxonomy()).toMatchObject({ version: 2, facets: FACETS });
    });

    it('refuses a taxonomy job over products, re-embedding, or with a chunk size that is not a positive integer', async () => {
      await expect(store.createJob({ ...taxonomyJob(), filter: { ids: ['a'] } })).rejects.toThrow('filter must be {}');
      await expect(store.createJob({ ...taxonomyJob(), reembed: true })).rejects.toThrow('reembed must be false');
      await expect(store.createJob(taxonomyJob(TEXTS, 0))).rejects.toThrow('taxonomy.chunkSize');
      await expect(store.createJob(taxonomyJob([7 as unknown as string]))).rejects.toThrow('taxonomy.texts[0] must be a string');
      expect(await store.listJobs(10)).toEqual([]);
    });
  });
}
