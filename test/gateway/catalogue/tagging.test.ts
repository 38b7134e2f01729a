import { meanUnitVector } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { SCORE_BLOCK, tagsFor, tagsForMany, type ScoredFacet, type TaggingContext } from '../../../gateway/catalogue/tagging';
import type { FacetRow } from '../../../gateway/store/port';
import { drawShape, loadReference, seededRandom, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const CONTEXT: TaggingContext = { logitScale: 100, model: 'tiny-clip|fp32', taxonomyVersion: 3 };

function facet(name: string, labels: string[], extra: Partial<FacetRow> = {}): FacetRow {
  return { name, labels, templates: ['a photo of a {}.'], mode: 'single', threshold: null, reviewBelow: null, ...extra };
}

const unit = (values: number[]) => {
  const v = Float32Array.from(values);
  return meanUnitVector([v]);
};

describe('tagsFor', () => {
  it("keeps the best label of a single facet, with the softmax score and the label's similarity", () => {
    const labels: ScoredFacet = {
      facet: facet('colour', ['red', 'green', 'blue']),
      labelVectors: [unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])],
    };
    const product = unit([0.8, 0.6, 0]);
    const [tag, ...rest] = tagsFor('p1', product, [labels], CONTEXT);
    expect(rest).toEqual([]);
    // softmax of 100 × [0.8, 0.6, 0]: e^0 / (e^0 + e^-20 + e^-80)
    const expected = 1 / (1 + Math.exp(-20) + Math.exp(-80));
    expect(tag).toEqual({
      productId: 'p1',
      facet: 'colour',
      label: 'red',
      score: expect.closeTo(expected, 12),
      similarity: expect.closeTo(0.8, 6),
      source: 'auto',
      needsReview: false,
      model: 'tiny-clip|fp32',
      taxonomyVersion: 3,
    });
  });

  it('keeps every label of a multi facet that reaches its threshold, by default 1 / labels', () => {
    const vectors = [unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])];
    const product = unit([1, 1, 0]); // as close to red as to green
    const multi = (threshold: number | null) =>
      tagsFor(
        'p',
        product,
        [{ facet: facet('colour', ['red', 'green', 'blue'], { mode: 'multi', threshold }), labelVectors: vectors }],
        CONTEXT,
      ).map((t) => [t.label, Number(t.score.toFixed(6))]);
    expect(multi(null)).toEqual([
      ['red', 0.5],
      ['green', 0.5],
    ]);
    expect(multi(0.6)).toEqual([]);
  });

  it('marks tags under reviewBelow for review', () => {
    const vectors = [unit([1, 0]), unit([0, 1])];
    const unsure = unit([1, 0.99]);
    const [tag] = tagsFor('p', unsure, [{ facet: facet('f', ['a', 'b'], { reviewBelow: 0.9 }), labelVectors: vectors }], CONTEXT);
    expect(tag.score).toBeLessThan(0.9);
    expect(tag.needsReview).toBe(true);
    const [sure] = tagsFor('p', unit([1, 0]), [{ facet: facet('f', ['a', 'b'], { reviewBelow: 0.9 }), labelVectors: vectors }], CONTEXT);
    expect(sure.needsReview).toBe(false);
  });

  it('refuses label vectors of another size', () => {
    expect(() => tagsFor('p', unit([1, 0, 0]), [{ facet: facet('f', ['a']), labelVectors: [unit([1, 0])] }], CONTEXT)).toThrow(
      "facet f: label vectors have 2 dimensions, the product's 3",
    );
  });
});

describe('tagsFor on the tiny CLIP', () => {
  let model: ClipModel;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  });
  afterAll(() => model.release());

  it('tags drawn shapes with their colour and shape (≥ 95%), from their vectors alone', async () => {
    const reference = loadReference();
    const templates = reference.domain.templates.slice(0, 4);
    const labelVector = async (label: string) => {
      const results = await model.embedTexts(templates.map((t) => t.replaceAll('{}', () => label)));
      return meanUnitVector(results.map((r) => (r.ok ? r.vector : new Float32Array())));
    };
    const classes = reference.classes;
    const facets: ScoredFacet[] = [
      { facet: facet('kind', classes, { templates }), labelVectors: await Promise.all(classes.map(labelVector)) },
    ];
    const random = seededRandom(20261128);
    const truth = classes.flatMap((c) => [c, c, c]);
    const images = await Promise.all(truth.map((label) => drawShape(reference, label, random)));
    const vectors = await model.embedImages(images);
    let right = 0;
    vectors.forEach((result, i) => {
      if (!result.ok) throw new Error(result.message);
      const [tag] = tagsFor(`p${i}`, result.vector, facets, { ...CONTEXT, logitScale: model.info.logitScale });
      if (tag.label === truth[i]) right++;
    });
    expect(right / truth.length).toBeGreaterThanOrEqual(0.95);
  });
});

describe('tagsForMany', () => {
  it('gives every product the tags tagsFor gives it, from one matrix product, single and multi facets alike', async () => {
    const random = seededRandom(77);
    const gaussianish = () => random() * 2 - 1;
    const dim = 24;
    const facets: ScoredFacet[] = [
      {
        facet: facet('kind', ['a', 'b', 'c', 'd']),
        labelVectors: Array.from({ length: 4 }, () => unit(Array.from({ length: dim }, gaussianish))),
      },
      {
        facet: facet('style', ['x', 'y', 'z'], { mode: 'multi', threshold: 0.2, reviewBelow: 0.6 }),
        labelVectors: Array.from({ length: 3 }, () => unit(Array.from({ length: dim }, gaussianish))),
      },
    ];
    const products = Array.from({ length: 300 }, (_, i) => ({
      productId: `p${i}`,
      vector: unit(Array.from({ length: dim }, gaussianish)),
    }));
    const many = await tagsForMany(products, facets, { ...CONTEXT, logitScale: 10 });
    const one = products.flatMap((p) => tagsFor(p.productId, p.vector, facets, { ...CONTEXT, logitScale: 10 }));
    expect(many.map((t) => [t.productId, t.facet, t.label, t.needsReview])).toEqual(
      one.map((t) => [t.productId, t.facet, t.label, t.needsReview]),
    );
    many.forEach((t, i) => {
      expect(t.score).toBeCloseTo(one[i].score, 5);
      expect(t.similarity).toBeCloseTo(one[i].similarity, 5);
    });
    expect(new Set(many.filter((t) => t.facet === 'style').map((t) => t.productId)).size).toBeGreaterThan(100);
    expect(await tagsForMany([], facets, CONTEXT)).toEqual([]);
  });

  it('scores a block read from the store (views of one buffer, from an offset) and more products than a block, as tagsFor does', async () => {
    const random = seededRandom(78);
    const dim = 8;
    const labels = ['a', 'b', 'c'];
    const facets: ScoredFacet[] = [
      { facet: facet('kind', labels), labelVectors: labels.map(() => unit(Array.from({ length: dim }, () => random() - 0.5))) },
    ];
    const count = SCORE_BLOCK + 37;
    // One buffer, the block starting past its first vector, as a store's block read hands out subarrays.
    const buffer = new Float32Array((count + 1) * dim);
    for (let p = 0; p <= count; p++) buffer.set(unit(Array.from({ length: dim }, () => random() - 0.5)), p * dim);
    const block = buffer.subarray(dim);
    const products = Array.from({ length: count }, (_, p) => ({ productId: `p${p}`, vector: block.subarray(p * dim, (p + 1) * dim) }));
    const many = await tagsForMany(products, facets, CONTEXT);
    const one = products.flatMap((p) => tagsFor(p.productId, p.vector, facets, CONTEXT));
    expect(many.map((t) => [t.productId, t.label])).toEqual(one.map((t) => [t.productId, t.label]));
    many.forEach((t, i) => expect(t.similarity).toBeCloseTo(one[i].similarity, 5));
    // Copies of the same vectors, each in its own buffer: the same tags.
    const copies = products.map(({ productId, vector }) => ({ productId, vector: Float32Array.from(vector) }));
    expect(await tagsForMany(copies, facets, CONTEXT)).toEqual(many);
  });
});
