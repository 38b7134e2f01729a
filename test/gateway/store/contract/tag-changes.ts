/** The contract's outbox of tag changes: what each tag write records, and reading it in order. */
import type { CatalogueStore, TagChangeRow } from '../../../../gateway/store';
import { hash, MODEL_A, product, tag, tagsOf, vec, type Subject } from './fixtures';

const TAGGING_JOB = { filter: {}, reembed: false, model: MODEL_A };

/** A change without the fields the store gives (seq, time), to compare contents. */
function contentOf({ seq: _seq, changedAt: _changedAt, ...change }: TagChangeRow): Omit<TagChangeRow, 'seq' | 'changedAt'> {
  return change;
}

const manual = (label: string, model = 'clip-a|fp32') => ({
  label,
  score: 1,
  similarity: 0.5,
  needsReview: false,
  model,
  taxonomyVersion: 1,
});

export function tagChangesContract(subject: Subject): void {
  describe('tag changes (the outbox)', () => {
    let store: CatalogueStore;
    beforeEach(async () => {
      store = subject.store;
      await store.upsertProducts(['a', 'b', 'c'].map((id) => product(id)));
    });

    const all = async () => store.tagChanges(undefined, 1000);

    it('records one change per (product, facet) tagged the first time, with its labels sorted and the tags’ model', async () => {
      const started = Date.now();
      await store.replaceAutoTags(
        ['a', 'b'],
        [
          tag('a', 'style', 'sport', { model: 'clip-b|q8' }),
          tag('a', 'style', 'casual', { model: 'clip-b|q8' }),
          tag('a', 'colour', 'red', { model: 'clip-b|q8' }),
          tag('b', 'colour', 'green', { model: 'clip-b|q8' }),
        ],
      );
      const changes = await all();
      expect(changes.map(contentOf)).toEqual([
        { productId: 'a', facet: 'colour', previousLabels: [], labels: ['red'], source: 'auto', model: 'clip-b|q8' },
        { productId: 'a', facet: 'style', previousLabels: [], labels: ['casual', 'sport'], source: 'auto', model: 'clip-b|q8' },
        { productId: 'b', facet: 'colour', previousLabels: [], labels: ['green'], source: 'auto', model: 'clip-b|q8' },
      ]);
      const seqs = changes.map((c) => c.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(3);
      for (const c of changes) {
        expect(new Date(c.changedAt).toISOString()).toBe(c.changedAt);
        expect(Date.parse(c.changedAt)).toBeGreaterThanOrEqual(started - 60_000);
      }
    });

    it('records nothing when the same labels are written again, even with other scores', async () => {
      const tags = [tag('a', 'colour', 'red'), tag('a', 'style', 'casual'), tag('a', 'style', 'formal')];
      await store.replaceAutoTags(['a'], tags);
      const first = await all();
      expect(first).toHaveLength(2);
      await store.replaceAutoTags(['a'], tags);
      await store.replaceAutoTags(
        ['a'],
        [...tags].reverse().map((t) => ({ ...t, score: 0.875, similarity: 0.125, needsReview: true })),
      );
      // An upsert that writes the same tags with its vectors records nothing either.
      await store.saveProducts({
        model: MODEL_A,
        products: [product('a')],
        imageVectors: [{ hash: hash('x'), vector: vec(1, 0, 0, 0) }],
        imageBytes: [],
        productVectors: [],
        tags: { productIds: ['a'], tags },
      });
      expect(await all()).toEqual(first);
    });

    it('records the old and the new labels of a change, and a removal with the write’s model', async () => {
      await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'red'), tag('b', 'colour', 'red')]);
      const [after] = (await all()).slice(-1);
      await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'green', { model: 'clip-c|fp32' }), tag('b', 'colour', 'red')]);
      await store.replaceAutoTags(['a'], [tag('a', 'style', 'formal', { model: 'clip-d|fp32' })]);
      expect((await store.tagChanges(after.seq, 10)).map(contentOf)).toEqual([
        { productId: 'a', facet: 'colour', previousLabels: ['red'], labels: ['green'], source: 'auto', model: 'clip-c|fp32' },
        // The colour went with the same write that gave a style: that write's model.
        { productId: 'a', facet: 'colour', previousLabels: ['green'], labels: [], source: 'auto', model: 'clip-d|fp32' },
        { productId: 'a', facet: 'style', previousLabels: [], labels: ['formal'], source: 'auto', model: 'clip-d|fp32' },
      ]);
      // A write of no tags at all removes with no model to name.
      await store.replaceAutoTags(['b'], []);
      expect((await all()).slice(-1).map(contentOf)).toEqual([
        { productId: 'b', facet: 'colour', previousLabels: ['red'], labels: [], source: 'auto', model: null },
      ]);
    });

    it('records manual tags as manual, and nothing for an automatic tagging of a manual facet', async () => {
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'red')]);
      await store.setManualTags('a', 'colour', [manual('green', 'clip-m|fp32'), manual('blue', 'clip-m|fp32')]);
      await store.setManualTags('a', 'colour', [manual('green', 'clip-m|fp32'), manual('blue', 'clip-m|fp32')]);
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'red'), tag('a', 'colour', 'green')]);
      await store.setManualTags('a', 'colour', []);
      await store.setManualTags('missing', 'colour', [manual('red')]);
      expect((await all()).map(contentOf)).toEqual([
        { productId: 'a', facet: 'colour', previousLabels: [], labels: ['red'], source: 'auto', model: 'clip-a|fp32' },
        { productId: 'a', facet: 'colour', previousLabels: ['red'], labels: ['blue', 'green'], source: 'manual', model: 'clip-m|fp32' },
        { productId: 'a', facet: 'colour', previousLabels: ['blue', 'green'], labels: [], source: 'manual', model: null },
      ]);
    });

    it('records a tagging job’s changes as the job’s, and an upsert’s own tagging as automatic', async () => {
      await store.putProductVectors(MODEL_A, [{ productId: 'a', vector: vec(1, 0, 0, 0) }]);
      await store.claimActiveModel(MODEL_A);
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'red')]);
      await store.createJob(TAGGING_JOB);
      const chunk = await store.claimJobChunk('w1', 10, MODEL_A);
      expect(chunk?.productIds).toEqual(['a', 'b', 'c']);
      const tags = [tag('a', 'colour', 'green'), tag('b', 'colour', 'green')];
      expect(await store.completeJobChunk(chunk!, { productIds: ['a', 'b', 'c'], tags, processed: 3, failed: 0, errors: [] })).toBe(true);
      expect((await all()).map((c) => [c.productId, c.labels, c.source])).toEqual([
        ['a', ['red'], 'auto'],
        ['a', ['green'], 'job'],
        ['b', ['green'], 'job'],
      ]);
    });

    it('refuses manual tags whose score is not a finite number before writing anything, and records nothing', async () => {
      await store.setManualTags('a', 'colour', [manual('red')]);
      const before = await all();
      await expect(store.setManualTags('a', 'colour', [manual('green'), { ...manual('blue'), score: Number.NaN }])).rejects.toThrow(
        'tags[1].score must be a finite number, got NaN',
      );
      expect(await all()).toEqual(before);
      expect((await tagsOf(store, 'a')).map((t) => t.label)).toEqual(['red']);
    });

    it('pages in seq order after a seq, exclusive, and names the newest seq', async () => {
      expect(await store.lastTagChangeSeq()).toBe(0);
      for (const [i, label] of ['red', 'green', 'red', 'green', 'red'].entries()) {
        await store.replaceAutoTags(['c'], [tag('c', 'colour', label, { taxonomyVersion: i + 1 })]);
      }
      const changes = await all();
      expect(changes.map((c) => c.labels)).toEqual([['red'], ['green'], ['red'], ['green'], ['red']]);
      expect(await store.tagChanges(undefined, 2)).toEqual(changes.slice(0, 2));
      expect(await store.tagChanges(changes[1].seq, 2)).toEqual(changes.slice(2, 4));
      expect(await store.tagChanges(changes[3].seq, 2)).toEqual(changes.slice(4));
      expect(await store.tagChanges(changes[4].seq, 2)).toEqual([]);
      expect(await store.lastTagChangeSeq()).toBe(changes[4].seq);
      expect(await store.tagChanges(undefined, 0)).toEqual([]);
      await expect(store.tagChanges(-1, 2)).rejects.toThrow('after must be');
      await expect(store.tagChanges(undefined, 1.5)).rejects.toThrow('first must be');
    });

    it('keeps the changes of a product deleted, and records none for the deletion', async () => {
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'red')]);
      const before = await all();
      expect(await store.deleteProducts(['a'])).toEqual(['a']);
      expect(await all()).toEqual(before);
    });
  });
}
