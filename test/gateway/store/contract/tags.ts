/** The contract's taxonomy versions and tags: automatic and manual, top products by label, the review queue. */
import type { CatalogueStore, TagRow } from '../../../../gateway/store';
import { codeOf, FACETS, product, tag, tagsOf, type Subject } from './fixtures';

export function tagsContract(subject: Subject): void {
  let store: CatalogueStore;
  beforeEach(() => {
    store = subject.store;
  });

  describe('taxonomy', () => {
    it('has none at first, then numbers each version 1, 2, ...', async () => {
      expect(await store.getTaxonomy()).toBeUndefined();
      const first = await store.setTaxonomy(FACETS);
      expect(first.version).toBe(1);
      expect(first.facets).toEqual(FACETS);
      expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt);
      expect(await store.getTaxonomy()).toEqual(first);

      const next = [FACETS[1]];
      const second = await store.setTaxonomy(next);
      expect(second.version).toBe(2);
      expect(second.facets).toEqual(next);
      expect(await store.getTaxonomy()).toEqual(second);
      expect((await store.setTaxonomy([])).version).toBe(3);
      expect((await store.getTaxonomy())?.facets).toEqual([]);
    });
  });

  describe('tags', () => {
    beforeEach(async () => {
      await store.upsertProducts(['a', 'b', 'c', 'd'].map((id) => product(id)));
    });

    it('stores every field of a tag', async () => {
      const t = tag('a', 'colour', 'red', {
        score: 0.875,
        similarity: 0.3125,
        needsReview: true,
        model: 'clip-b|q8',
        taxonomyVersion: 7,
      });
      await store.replaceAutoTags(['a'], [t]);
      expect(await tagsOf(store, 'a')).toEqual([t]);
      const map = await store.getTags(['a', 'b', 'missing']);
      expect(map.get('a')).toEqual([t]);
      expect(map.get('b') ?? []).toEqual([]);
      expect(map.get('missing') ?? []).toEqual([]);
    });

    it('replaces the automatic tags of the products named, and only theirs', async () => {
      await store.replaceAutoTags(
        ['a', 'b', 'c'],
        [tag('a', 'colour', 'red'), tag('a', 'style', 'casual'), tag('b', 'colour', 'green'), tag('c', 'colour', 'red')],
      );
      await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'green', { score: 0.75 })]);
      expect(await tagsOf(store, 'a')).toEqual([tag('a', 'colour', 'green', { score: 0.75 })]);
      expect(await tagsOf(store, 'b')).toEqual([]);
      expect(await tagsOf(store, 'c')).toEqual([tag('c', 'colour', 'red')]);
    });

    it('never touches manual tags, and drops automatic tags for a facet with manual tags', async () => {
      await store.setManualTags('a', 'colour', [
        { label: 'red', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'green'), tag('a', 'colour', 'red'), tag('a', 'style', 'formal')]);
      expect(await tagsOf(store, 'a')).toEqual([
        tag('a', 'colour', 'red', { source: 'manual', score: 1, similarity: 0.5 }),
        tag('a', 'style', 'formal'),
      ]);
      await store.replaceAutoTags(['a'], []);
      expect(await tagsOf(store, 'a')).toEqual([tag('a', 'colour', 'red', { source: 'manual', score: 1, similarity: 0.5 })]);
    });

    it('setManualTags replaces one facet of one product, and an empty list removes them', async () => {
      const manual = (label: string, score: number) => ({
        label,
        score,
        similarity: 0.125,
        needsReview: false,
        model: 'clip-a|fp32',
        taxonomyVersion: 2,
      });
      await store.replaceAutoTags(['a', 'b'], [tag('a', 'style', 'casual'), tag('b', 'colour', 'red')]);
      await store.setManualTags('a', 'colour', [manual('red', 1), manual('green', 0.5)]);
      await store.setManualTags('a', 'colour', [manual('green', 0.75)]);
      await store.setManualTags('b', 'style', [manual('sport', 1)]);
      const m = (id: string, facet: string, label: string, score: number) =>
        tag(id, facet, label, { source: 'manual', score, similarity: 0.125, taxonomyVersion: 2 });
      expect(await tagsOf(store, 'a')).toEqual([m('a', 'colour', 'green', 0.75), tag('a', 'style', 'casual')]);
      expect(await tagsOf(store, 'b')).toEqual([tag('b', 'colour', 'red'), m('b', 'style', 'sport', 1)]);
      await store.setManualTags('a', 'colour', []);
      expect(await tagsOf(store, 'a')).toEqual([tag('a', 'style', 'casual')]);
      // An empty list on a facet without manual tags leaves its automatic tags alone.
      await store.setManualTags('b', 'colour', []);
      expect(await tagsOf(store, 'b')).toEqual([tag('b', 'colour', 'red'), m('b', 'style', 'sport', 1)]);
    });

    it('setManualTags removes automatic tags of that facet', async () => {
      await store.replaceAutoTags(['a'], [tag('a', 'colour', 'green'), tag('a', 'style', 'casual')]);
      await store.setManualTags('a', 'colour', [
        { label: 'red', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      expect(await tagsOf(store, 'a')).toEqual([
        tag('a', 'colour', 'red', { source: 'manual', score: 1, similarity: 0.5 }),
        tag('a', 'style', 'casual'),
      ]);
    });

    it('labelTopProducts answers the best k by score, ties by product id', async () => {
      await store.replaceAutoTags(
        ['a', 'b', 'c'],
        [
          tag('a', 'colour', 'red', { score: 0.5 }),
          tag('b', 'colour', 'red', { score: 0.875 }),
          tag('c', 'colour', 'red', { score: 0.5 }),
          tag('c', 'colour', 'green', { score: 1 }),
        ],
      );
      await store.setManualTags('d', 'colour', [
        { label: 'red', score: 0.625, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      expect(await store.labelTopProducts('colour', 'red', 10)).toEqual([
        { productId: 'b', score: 0.875 },
        { productId: 'd', score: 0.625 },
        { productId: 'a', score: 0.5 },
        { productId: 'c', score: 0.5 },
      ]);
      expect(await store.labelTopProducts('colour', 'red', 2)).toEqual([
        { productId: 'b', score: 0.875 },
        { productId: 'd', score: 0.625 },
      ]);
      expect(await store.labelTopProducts('colour', 'blue', 5)).toEqual([]);
      expect(await store.labelTopProducts('style', 'red', 5)).toEqual([]);
    });

    it('tagsForReview pages through automatic tags marked for review, by (productId, facet, label)', async () => {
      const review = { needsReview: true };
      await store.replaceAutoTags(
        ['a', 'b', 'c'],
        [
          tag('c', 'colour', 'red', review),
          tag('a', 'style', 'formal', review),
          tag('a', 'style', 'casual', review),
          tag('a', 'colour', 'green', review),
          tag('b', 'colour', 'red'),
          tag('b', 'style', 'sport', review),
        ],
      );
      await store.setManualTags('d', 'colour', [
        { label: 'red', score: 1, similarity: 0.5, needsReview: true, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      const keys = (rows: TagRow[]) => rows.map((t) => `${t.productId}/${t.facet}/${t.label}`);
      const first = await store.tagsForReview(2);
      expect(keys(first.items)).toEqual(['a/colour/green', 'a/style/casual']);
      expect(first.hasNextPage).toBe(true);
      expect(first.items[0]).toEqual(tag('a', 'colour', 'green', review));
      const second = await store.tagsForReview(2, first.endCursor);
      expect(keys(second.items)).toEqual(['a/style/formal', 'b/style/sport']);
      expect(second.hasNextPage).toBe(true);
      const third = await store.tagsForReview(2, second.endCursor);
      expect(keys(third.items)).toEqual(['c/colour/red']);
      expect(third.hasNextPage).toBe(false);
      expect(await store.tagsForReview(2, third.endCursor)).toEqual({ items: [], hasNextPage: false, endCursor: undefined });
      expect(await codeOf(store.tagsForReview(2, '%%% not a cursor %%%'))).toBe('BAD_CURSOR');
    });

    it('deleting a product deletes its tags', async () => {
      await store.replaceAutoTags(['a', 'b'], [tag('a', 'colour', 'red', { needsReview: true }), tag('b', 'colour', 'red')]);
      await store.setManualTags('a', 'style', [
        { label: 'formal', score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 },
      ]);
      await store.deleteProducts(['a']);
      expect(await tagsOf(store, 'a')).toEqual([]);
      expect(await store.labelTopProducts('colour', 'red', 10)).toEqual([{ productId: 'b', score: 0.5 }]);
      expect((await store.tagsForReview(10)).items).toEqual([]);
      // A product of the same id created again starts with no tags.
      await store.upsertProducts([product('a')]);
      expect(await tagsOf(store, 'a')).toEqual([]);
    });
  });
}
