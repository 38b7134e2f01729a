/** The contract's manual change that brings automatic tags with it (setManualTags' `rescored`): a category set by hand re-scoring the attributes it gates. */
import type { CatalogueStore, TagChangeRow } from '../../../../gateway/store';
import { product, tag, type Subject } from './fixtures';

const manual = (label: string) => ({ label, score: 1, similarity: 0.5, needsReview: false, model: 'clip-a|fp32', taxonomyVersion: 1 });

/** A change without the fields the store gives (seq, time). */
const contentOf = ({ seq: _seq, changedAt: _changedAt, ...change }: TagChangeRow) => change;

export function rescoredTagsContract(subject: Subject): void {
  describe('manual tags with rescored automatic ones', () => {
    let store: CatalogueStore;
    beforeEach(async () => {
      store = subject.store;
      await store.upsertProducts(['a', 'b'].map((id) => product(id)));
      await store.replaceAutoTags(
        ['a', 'b'],
        [
          tag('a', 'kind', 'root'),
          tag('a', 'kind', 'circles'),
          tag('a', 'style', 'casual'),
          tag('a', 'pattern', 'plain'),
          tag('b', 'color', 'red'),
        ],
      );
    });

    const labels = async (id: string) => ((await store.getTags([id])).get(id) ?? []).map((t) => `${t.facet}:${t.label}:${t.source}`).sort();

    it("replaces the product's automatic tags of the facets named, in the manual change's transaction, recording them as manual", async () => {
      const seq = await store.lastTagChangeSeq();
      await store.setManualTags('a', 'kind', [manual('root'), manual('stars')], {
        facets: ['color', 'pattern'],
        tags: [tag('a', 'color', 'blue', { score: 0.7 }), tag('a', 'color', 'red', { score: 0.2 })],
      });
      expect(await labels('a')).toEqual([
        'color:blue:auto',
        'color:red:auto',
        'kind:root:manual',
        'kind:stars:manual',
        'style:casual:auto',
      ]);
      expect((await store.getTags(['a'])).get('a')!.find((t) => t.label === 'blue')!.score).toBeCloseTo(0.7, 6);
      // Another product's tags in those facets are not touched.
      expect(await labels('b')).toEqual(['color:red:auto']);
      const changes = (await store.tagChanges(seq, 100)).map(contentOf);
      expect(changes).toEqual(
        expect.arrayContaining([
          {
            productId: 'a',
            facet: 'kind',
            previousLabels: ['circles', 'root'],
            labels: ['root', 'stars'],
            source: 'manual',
            model: 'clip-a|fp32',
          },
          { productId: 'a', facet: 'pattern', previousLabels: ['plain'], labels: [], source: 'manual', model: 'clip-a|fp32' },
          { productId: 'a', facet: 'color', previousLabels: [], labels: ['blue', 'red'], source: 'manual', model: 'clip-a|fp32' },
        ]),
      );
      expect(changes).toHaveLength(3);
    });

    it('keeps a rescored facet that has manual tags, and refuses tags of another product or facet before writing', async () => {
      await store.setManualTags('a', 'pattern', [manual('striped')]);
      await store.setManualTags('a', 'kind', [], {
        facets: ['kind', 'pattern'],
        tags: [tag('a', 'kind', 'root'), tag('a', 'pattern', 'plain')],
      });
      expect(await labels('a')).toEqual(['kind:root:auto', 'pattern:striped:manual', 'style:casual:auto']);
      await expect(store.setManualTags('a', 'kind', [], { facets: ['color'], tags: [tag('b', 'color', 'red')] })).rejects.toThrow(
        'tags[0].productId "b" is not one of productIds',
      );
      await expect(store.setManualTags('a', 'kind', [], { facets: ['color'], tags: [tag('a', 'pattern', 'plain')] })).rejects.toThrow(
        'rescored.tags[0].facet "pattern" is not one of rescored.facets',
      );
      expect(await labels('a')).toEqual(['kind:root:auto', 'pattern:striped:manual', 'style:casual:auto']);
    });
  });
}
