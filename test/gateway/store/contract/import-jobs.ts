/** The contract's import jobs: a file's entries cut into chunks when the job is made, claimed in file order, the job done with the last. */
import type { CatalogueStore, ChunkOutcome, JobChunk, NewJob } from '../../../../gateway/store';
import { jobIds, MODEL_A, product, type Subject } from './fixtures';

const WORKER = 'worker-1';
const SOURCE = { file: 'products_export.csv', format: 'shopify-csv' };
// Entries are opaque to the store: any text, quotes, commas and braces included, comes back as it went in.
const ENTRIES = ['{"line":2,"ok":true}', 'line 3, "quoted"', '{}', '[1,2]', 'ünïcode ✓', ''];

function importJob(entries = ENTRIES, chunkSize = 4, idempotencyKey?: string): NewJob {
  return { filter: {}, reembed: false, model: MODEL_A, idempotencyKey, import: { source: SOURCE, entries, chunkSize } };
}

const done = (chunk: JobChunk, failed = 0): ChunkOutcome => ({
  productIds: [],
  tags: [],
  processed: chunk.entries!.length - failed,
  failed,
  errors: failed > 0 ? [{ field: ['line', '3'], message: 'line 3: the image cannot be decoded', code: 'IMAGE_DECODE_FAILED' }] : [],
});

export function importJobsContract(subject: Subject): void {
  describe('import jobs', () => {
    let store: CatalogueStore;
    beforeEach(async () => {
      store = subject.store;
      await store.claimActiveModel(MODEL_A);
    });

    it('holds the file’s entries in chunks cut when it is made, claimed in file order; the last completion ends it', async () => {
      // Stored products are not the job's: its chunks are the file's, however many products there are.
      await store.upsertProducts(jobIds(3).map((id) => product(id)));
      const { job, created } = await store.createJob(importJob());
      expect(created).toBe(true);
      expect(job).toMatchObject({
        status: 'QUEUED',
        total: 6,
        processed: 0,
        importSource: SOURCE,
        taxonomy: null,
        reembed: false,
        filter: {},
      });

      const first = (await store.claimJobChunk(WORKER, 100, MODEL_A))!;
      expect(first).toMatchObject({ jobId: job.id, seq: 1, productIds: [], texts: null, entries: ENTRIES.slice(0, 4) });
      expect(await store.completeJobChunk(first, done(first, 1))).toBe(true);
      const last = (await store.claimJobChunk(WORKER, 100, MODEL_A))!;
      expect(last).toMatchObject({ seq: 2, entries: ENTRIES.slice(4) });
      expect(await store.completeJobChunk(last, done(last))).toBe(true);

      expect(await store.getJob(job.id)).toMatchObject({
        status: 'SUCCEEDED',
        total: 6,
        processed: 5,
        failed: 1,
        errors: [{ field: ['line', '3'], code: 'IMAGE_DECODE_FAILED' }],
        importSource: SOURCE,
        finishedAt: expect.any(String),
      });
      // Nothing follows it: an import's products were tagged as they were upserted.
      expect(await store.claimJobChunk(WORKER, 100, MODEL_A)).toBeUndefined();
      expect(await store.listJobs(10)).toHaveLength(1);
    });

    it('hands a stale chunk of entries to the next claimer, which completes it once', async () => {
      const { job } = await store.createJob(importJob(ENTRIES.slice(0, 2)));
      const first = (await store.claimJobChunk(WORKER, 100, MODEL_A))!;
      expect(await store.reclaimStaleJobChunks(new Date(Date.now() + 60_000).toISOString())).toBe(1);
      const again = (await store.claimJobChunk('worker-2', 100, MODEL_A))!;
      expect(again).toMatchObject({ seq: first.seq, entries: ENTRIES.slice(0, 2), attempts: 2 });
      expect(await store.completeJobChunk(first, done(first))).toBe(false);
      expect(await store.completeJobChunk(again, done(again))).toBe(true);
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 2 });
    });

    it('answers the same idempotency key with the job it made, and an empty file with a job that ends at its first claim', async () => {
      const { job } = await store.createJob(importJob(ENTRIES, 4, 'shop-export-1'));
      expect(await store.createJob(importJob(ENTRIES.slice(0, 1), 4, 'shop-export-1'))).toEqual({ job, created: false });
      expect(await store.cancelJob(job.id)).toMatchObject({ status: 'CANCELLED' });
      expect(await store.claimJobChunk(WORKER, 100, MODEL_A)).toBeUndefined();

      const { job: empty } = await store.createJob(importJob([]));
      expect(empty).toMatchObject({ status: 'QUEUED', total: 0 });
      expect(await store.claimJobChunk(WORKER, 100, MODEL_A)).toBeUndefined();
      expect(await store.getJob(empty.id)).toMatchObject({ status: 'SUCCEEDED', total: 0, processed: 0 });
    });

    it('refuses an import job that also covers stored products, embeds, or holds what is not text', async () => {
      const bad = (change: Partial<NewJob>) => store.createJob({ ...importJob(), ...change });
      await expect(bad({ filter: { ids: ['p1'] } })).rejects.toThrow(/filter must be \{\}/);
      await expect(bad({ reembed: true })).rejects.toThrow(/reembed must be false/);
      await expect(bad({ import: { source: SOURCE, entries: ['a', 7 as unknown as string], chunkSize: 4 } })).rejects.toThrow(
        /import\.entries\[1\] must be a string, got number/,
      );
      await expect(bad({ import: { source: SOURCE, entries: ['a'], chunkSize: 0 } })).rejects.toThrow(/import\.chunkSize/);
      expect(await store.listJobs(10)).toEqual([]);
    });
  });
}
