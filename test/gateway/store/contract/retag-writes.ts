/**
 * The contract's reads and writes of a re-tagging: a chunk's products and vectors in one block,
 * and automatic tags written again where only what differs changes (the outbox records labels only).
 */
import type { CatalogueStore, TagChangeRow } from '../../../../gateway/store';
import { MODEL_A, MODEL_B, product, tag, tagsOf, vec, type Subject } from './fixtures';

const contentOf = ({ productId, facet, previousLabels, labels }: TagChangeRow) => ({ productId, facet, previousLabels, labels });

export function retagWritesContract(subject: Subject): void {
  describe('re-tagging reads and writes', () => {
    let store: CatalogueStore;
    beforeEach(async () => {
      store = subject.store;
      await store.upsertProducts(['a', 'b', 'c'].map((id) => product(id)));
    });

    it('reads the products asked in their order, once each: the vectors of those with one as one block, those without named', async () => {
      await store.putProductVectors(MODEL_A, [
        { productId: 'a', vector: vec(1, 0, 0, 0) },
        { productId: 'c', vector: vec(0.5, -0.25, 0, 1e-7) },
      ]);
      const block = await store.getProductVectorBlock(MODEL_A, ['c', 'gone', 'b', 'a', 'c']);
      expect(block.ids).toEqual(['c', 'a']);
      expect(block.vectors).toEqual(vec(0.5, -0.25, 0, 1e-7, 1, 0, 0, 0));
      expect(block.withoutVector).toEqual(['b']);
      const none = await store.getProductVectorBlock(MODEL_B, ['a', 'gone', 'b']);
      expect(none).toEqual({ ids: [], vectors: new Float32Array(0), withoutVector: ['a', 'b'] });
      expect(await store.getProductVectorBlock(MODEL_A, [])).toEqual({ ids: [], vectors: new Float32Array(0), withoutVector: [] });
    });

    it('writes the same tags again to no change: every field kept, nothing in the outbox', async () => {
      const tags = [
        tag('a', 'colour', 'red', { score: 0.75, needsReview: true }),
        tag('a', 'style', 'casual'),
        tag('b', 'style', 'formal'),
      ];
      await store.replaceAutoTags(['a', 'b'], tags);
      const seq = await store.lastTagChangeSeq();
      const stored = [await tagsOf(store, 'a'), await tagsOf(store, 'b')];
      await store.replaceAutoTags(
        ['a', 'b'],
        tags.map((t) => ({ ...t })),
      );
      expect([await tagsOf(store, 'a'), await tagsOf(store, 'b')]).toEqual(stored);
      expect(await store.lastTagChangeSeq()).toBe(seq);
    });

    it('updates a tag whose score, similarity, review mark, model or taxonomy version alone changed, recording no change', async () => {
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'red'), tag('a', 'style', 'casual'), tag('a', 'size', 'big')]);
      const seq = await store.lastTagChangeSeq();
      const again = [
        tag('a', 'colour', 'red', { score: 0.9, needsReview: true }),
        tag('a', 'style', 'casual', { similarity: -0.125, model: 'clip-b|fp32' }),
        tag('a', 'size', 'big', { taxonomyVersion: 2 }),
      ];
      await store.replaceAutoTags(['a'], again);
      expect((await tagsOf(store, 'a')).map((t) => [t.facet, t.score, t.similarity, t.needsReview, t.model, t.taxonomyVersion])).toEqual([
        ['colour', 0.9, 0.25, true, 'clip-a|fp32', 1],
        ['size', 0.5, 0.25, false, 'clip-a|fp32', 2],
        ['style', 0.5, -0.125, false, 'clip-b|fp32', 1],
      ]);
      expect(await store.lastTagChangeSeq()).toBe(seq);
      // The review list and the by-label ranking read the new values.
      expect((await store.tagsForReview(10)).items.map((t) => [t.productId, t.facet, t.label])).toEqual([['a', 'colour', 'red']]);
      await store.replaceAutoTags(['b'], [tag('b', 'colour', 'red', { score: 0.8 })]);
      expect(await store.labelTopProducts('colour', 'red', 2)).toEqual([
        { productId: 'a', score: 0.9 },
        { productId: 'b', score: 0.8 },
      ]);
    });

    it('of a product whose labels change, keeps the labels that stay, drops and adds the others, and records the change once', async () => {
      await store.replaceAutoTags(['a'], [tag('a', 'style', 'casual'), tag('a', 'style', 'sport'), tag('a', 'colour', 'red')]);
      const seq = await store.lastTagChangeSeq();
      await store.replaceAutoTags(
        ['a'],
        [tag('a', 'style', 'sport', { score: 0.7 }), tag('a', 'style', 'formal'), tag('a', 'size', 'big')],
      );
      expect((await tagsOf(store, 'a')).map((t) => [t.facet, t.label, t.score])).toEqual([
        ['size', 'big', 0.5],
        ['style', 'formal', 0.5],
        ['style', 'sport', 0.7],
      ]);
      const changes = (await store.tagChanges(seq, 100)).map(contentOf);
      expect(changes).toEqual([
        { productId: 'a', facet: 'colour', previousLabels: ['red'], labels: [] },
        { productId: 'a', facet: 'style', previousLabels: ['casual', 'sport'], labels: ['formal', 'sport'] },
        { productId: 'a', facet: 'size', previousLabels: [], labels: ['big'] },
      ]);
    });

    it('takes the last of a label given twice, and leaves out a deleted product and a facet with manual tags', async () => {
      await store.setManualTags('b', 'style', [
        { label: 'formal', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      await store.deleteProducts(['c']);
      const seq = await store.lastTagChangeSeq();
      await store.replaceAutoTags(
        ['a', 'b', 'c'],
        [
          tag('a', 'colour', 'red', { score: 0.1 }),
          tag('a', 'colour', 'red', { score: 0.6 }),
          tag('b', 'style', 'sport'),
          tag('c', 'style', 'sport'),
        ],
      );
      expect((await tagsOf(store, 'a')).map((t) => [t.label, t.score])).toEqual([['red', 0.6]]);
      expect((await tagsOf(store, 'b')).map((t) => [t.label, t.source])).toEqual([['formal', 'manual']]);
      expect((await store.getTags(['c'])).get('c') ?? []).toEqual([]);
      expect((await store.tagChanges(seq, 100)).map(contentOf)).toEqual([
        { productId: 'a', facet: 'colour', previousLabels: [], labels: ['red'] },
      ]);
    });

    it('records the changes of a write of many products in the order of its products, each once', async () => {
      const ids = Array.from({ length: 150 }, (_, i) => `p${String(i).padStart(3, '0')}`);
      await store.upsertProducts(ids.map((id) => product(id)));
      await store.replaceAutoTags(
        ids,
        ids.map((id) => tag(id, 'kind', 'old')),
      );
      const seq = await store.lastTagChangeSeq();
      await store.replaceAutoTags(
        ids,
        ids.map((id, i) => tag(id, 'kind', i % 3 === 0 ? 'old' : 'new')),
      );
      const changes = await store.tagChanges(seq, 1000);
      const changed = ids.filter((_, i) => i % 3 !== 0);
      expect(changes.map(contentOf)).toEqual(
        changed.map((productId) => ({ productId, facet: 'kind', previousLabels: ['old'], labels: ['new'] })),
      );
      expect(changes.map((c) => c.seq)).toEqual(changes.map((_, i) => seq + 1 + i));
    });

    it('lists the labels of a change in code point order, as the store sorts them, past U+FFFF too', async () => {
      const seq = await store.lastTagChangeSeq();
      const astral = 'mug \u{1F375}';
      const wide = 'mug \uFF21';
      await store.replaceAutoTags(['a'], [tag('a', 'kind', astral), tag('a', 'kind', wide), tag('a', 'kind', 'mug')]);
      const [change] = await store.tagChanges(seq, 100);
      expect(change.labels).toEqual(['mug', wide, astral]);
      await store.replaceAutoTags(['a'], [tag('a', 'kind', astral)]);
      const [, removal] = await store.tagChanges(seq, 100);
      expect([removal.previousLabels, removal.labels]).toEqual([['mug', wide, astral], [astral]]);
    });
  });
}
