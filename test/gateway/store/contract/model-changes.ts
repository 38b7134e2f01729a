/** The contract's model changes: vectors of the new model built beside the old, then the switch-over. */
import {
  MODEL_CHANGE_INCOMPLETE,
  type CatalogueStore,
  type ChunkOutcome,
  type JobChunk,
  type VectorModel,
} from '../../../../gateway/store';
import { hash, jobIds as ids, MODEL_A, MODEL_B, outcome, product, vec, type Subject } from './fixtures';

/** Runs inside the jobs' describe, whose beforeEach makes MODEL_A the active model. */
export function modelChangesContract(subject: Subject): void {
  describe('model changes', () => {
    let store: CatalogueStore;
    beforeEach(() => {
      store = subject.store;
    });
    const b = (i: number) => vec(...[0, 1, 2, 3, 4, 5, 6, 7].map((j) => (j === i % 8 ? 1 : 0)));
    /** A re-embedding chunk's outcome: a MODEL_B vector for each product, or a failure for those in `failing`. */
    function embedded(chunk: JobChunk, failing: string[] = []): ChunkOutcome {
      const good = chunk.productIds.filter((id) => !failing.includes(id));
      return {
        ...outcome(chunk, failing),
        productIds: [],
        tags: [],
        write: {
          model: MODEL_B,
          products: [],
          imageVectors: [],
          imageBytes: [],
          productVectors: good.map((id, i) => ({ productId: id, imageHashes: [hash(id)], vector: b(i) })),
        },
      };
    }
    /** Claims and completes re-embedding chunks; stops at the first other chunk, claimed and returned as `next`. */
    async function drain(model: VectorModel, make: (chunk: JobChunk) => ChunkOutcome) {
      const chunks: JobChunk[] = [];
      for (let c = await store.claimJobChunk('w', 2, model); c; c = await store.claimJobChunk('w', 2, model)) {
        if (!c.reembed) return { chunks, next: c };
        chunks.push(c);
        expect(await store.completeJobChunk(c, make(c))).toBe(true);
      }
      return { chunks, next: undefined };
    }

    beforeEach(async () => {
      await store.upsertProducts(ids(5).map((id) => product(id)));
      await store.putProductVectors(
        MODEL_A,
        ids(5).map((productId, i) => ({ productId, vector: vec(...[0, 1, 2, 3].map((j) => (j === i % 4 ? 1 : 0))) })),
      );
      await store.putProductVectors(MODEL_B, [{ productId: 'j000', vector: b(7) }]);
    });

    it('covers the products without a vector of the new model, then switches over and queues a re-tagging', async () => {
      const { job, created } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
      expect(created).toBe(true);
      expect(job).toMatchObject({ changesModel: true, model: 'clip-b|fp32', total: 4, status: 'QUEUED' });
      expect(await store.getModelState()).toEqual({ active: MODEL_A, target: MODEL_B });
      // One open at a time: asking again gives the same job.
      expect(await store.createJob({ filter: {}, reembed: true, model: MODEL_B, idempotencyKey: 'again' })).toEqual({
        job,
        created: false,
      });
      await expect(store.createJob({ filter: { ids: ['j001'] }, reembed: true, model: MODEL_B })).rejects.toThrow(/filter must be empty/);
      // A gateway of the active model does not take the new model's work.
      expect(await store.claimJobChunk('old', 2, MODEL_A)).toBeUndefined();
      const { chunks, next } = await drain(MODEL_B, (c) => embedded(c));
      expect(chunks.map((c) => c.productIds)).toEqual([
        ['j001', 'j002'],
        ['j003', 'j004'],
      ]);
      expect(chunks.every((c) => c.reembed && c.changesModel && c.model === 'clip-b|fp32')).toBe(true);
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED', processed: 4, failed: 0 });
      expect(await store.getModelState()).toEqual({ active: MODEL_B, target: null });
      expect((await store.searchProducts(MODEL_B, b(0), 5)).length).toBe(5);
      // The switch-over queued a tagging job for the new model, which only its gateways take.
      expect(next).toMatchObject({ reembed: false, changesModel: false, model: 'clip-b|fp32', productIds: ['j000', 'j001'] });
      expect((await store.getJob(next!.jobId))!.total).toBe(5);
      expect(await store.claimJobChunk('old', 2, MODEL_A)).toBeUndefined();
    });

    it('fails when a product failed, keeps the old model, and a new job does only what is left', async () => {
      const { job } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
      expect((await drain(MODEL_B, (c) => embedded(c, ['j003']))).next).toBeUndefined();
      const failed = (await store.getJob(job.id))!;
      expect(failed).toMatchObject({ status: 'FAILED', processed: 3, failed: 1 });
      expect(failed.errors.map((e) => e.code)).toEqual(['NOT_FOUND', MODEL_CHANGE_INCOMPLETE]);
      expect(await store.getModelState()).toEqual({ active: MODEL_A, target: MODEL_B });
      const { job: next, created } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
      expect(created).toBe(true);
      expect(next.total).toBe(1);
      expect((await drain(MODEL_B, (c) => embedded(c))).chunks.map((c) => c.productIds)).toEqual([['j003']]);
      expect(await store.getModelState()).toEqual({ active: MODEL_B, target: null });
    });

    it('goes over products added behind its cursor before switching over', async () => {
      await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
      const first = (await store.claimJobChunk('w', 2, MODEL_B))!;
      await store.upsertProducts([product('a-late')]); // sorts before every chunk cut so far
      expect(await store.completeJobChunk(first, embedded(first))).toBe(true);
      const rest = (await drain(MODEL_B, (c) => embedded(c))).chunks;
      expect(rest.map((c) => c.productIds)).toEqual([['j003', 'j004'], ['a-late']]);
      expect(await store.getModelState()).toEqual({ active: MODEL_B, target: null });
    });

    it('cancelling it clears the target', async () => {
      const { job } = await store.createJob({ filter: {}, reembed: true, model: MODEL_B });
      await store.cancelJob(job.id);
      expect(await store.getModelState()).toEqual({ active: MODEL_A, target: null });
      expect(await store.claimJobChunk('w', 2, MODEL_B)).toBeUndefined();
    });

    it('a re-embedding job of the active model refreshes the filtered products and switches nothing', async () => {
      const { job } = await store.createJob({ filter: { ids: ['j001'] }, reembed: true, model: MODEL_A });
      expect(job).toMatchObject({ changesModel: false, total: 1 });
      expect(await store.claimJobChunk('other', 2, MODEL_B)).toBeUndefined();
      const chunk = (await store.claimJobChunk('w', 2, MODEL_A))!;
      expect(chunk).toMatchObject({ productIds: ['j001'], reembed: true, changesModel: false });
      await store.completeJobChunk(chunk, {
        ...outcome(chunk),
        write: {
          ...embedded(chunk).write!,
          model: MODEL_A,
          productVectors: [{ productId: 'j001', imageHashes: [hash('j001')], vector: vec(0, 0, 1, 0) }],
        },
      });
      expect(await store.getJob(job.id)).toMatchObject({ status: 'SUCCEEDED' });
      expect(await store.getProductVector(MODEL_A, 'j001')).toEqual(vec(0, 0, 1, 0));
      expect(await store.getModelState()).toEqual({ active: MODEL_A, target: null });
    });
  });
}
