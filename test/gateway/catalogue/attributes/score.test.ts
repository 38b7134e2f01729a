import { join } from 'node:path';

import { meanUnitVector } from '../../../../functions/clip';
import { ClipModel } from '../../../../functions/clip/model';
import {
  ApplicableAttributes,
  attributePrompts,
  AttributeScorer,
  distinctPromptTexts,
  loadAttributeTaxonomy,
  VISUAL_ATTRIBUTES,
  type AttributeProduct,
  type AttributeTaxonomy,
  type VisualAttribute,
} from '../../../../gateway/catalogue/attributes';
import * as matrix from '../../../../gateway/catalogue/matrix';
import { drawShape, drawUnseenShape, loadReference, seededRandom, TINY_CLIP_DIR } from '../../../helpers/tiny-clip';

// The fixture (see taxonomy.test.ts): Shapes (zz-1) and Stars (zz-1-1) have Color and Size; Sized
// Shapes (zz-1-2) and Test Goods (zz) only Size; Other (zz-2) Band color and Size. Color's values
// are the tiny CLIP's eight colours, in its order.
const FIXTURE_DIR = join(__dirname, '../../../fixtures/taxonomy/attributes');
const SHAPES = ['zz', 'zz-1'];
const STARS = ['gid://shopify/TaxonomyCategory/zz', 'gid://shopify/TaxonomyCategory/zz-1', 'gid://shopify/TaxonomyCategory/zz-1-1'];
const OTHER = ['zz', 'zz-2'];
const SIZED = ['zz', 'zz-1', 'zz-1-2'];

let taxonomy: AttributeTaxonomy;
beforeAll(async () => {
  taxonomy = await loadAttributeTaxonomy(FIXTURE_DIR);
});

const unit = (values: number[]) => meanUnitVector([Float32Array.from(values)]);
/** Value i of every attribute along axis i: colour i is one-hot i, size Small 0, Large 1. */
const axisVectors = (applicable: ApplicableAttributes, dim = 8) =>
  new Map(
    applicable.attributes.flatMap((a) =>
      a.values.map((v, i) => [v.id, unit(Array.from({ length: dim }, (_, d) => (d === i ? 1 : 0)))] as const),
    ),
  );
const scorer = (visual: Record<string, VisualAttribute>, logitScale = 10) => {
  const applicable = new ApplicableAttributes(taxonomy, visual);
  return new AttributeScorer(applicable, axisVectors(applicable), { logitScale });
};
const SINGLE_COLOUR = { color: { ...VISUAL_ATTRIBUTES.color, mode: 'single' as const } };
const SIZE = { size: { mode: 'single' as const, templates: ['a {} thing.'] } };
const softmax = (similarities: number[], scale: number) => {
  const e = similarities.map((s) => Math.exp(scale * s));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
};

describe('AttributeScorer.score', () => {
  it("keeps an attribute's best value with its softmax score and similarity, for the products under a category that has it", async () => {
    const product = unit([0.8, 0.6, 0, 0, 0, 0, 0, 0]);
    const tags = await scorer(SINGLE_COLOUR).score([{ productId: 'p1', vector: product, categoryPath: SHAPES }]);
    expect(tags).toEqual([
      {
        productId: 'p1',
        attribute: 'color',
        valueId: 'gid://shopify/TaxonomyValue/9001',
        valueName: 'Red',
        score: expect.closeTo(softmax([0.8, 0.6, 0, 0, 0, 0, 0, 0], 10)[0], 6),
        similarity: expect.closeTo(0.8, 6),
      },
    ]);
  });

  it('keeps every value reaching 1 / values for a multi attribute (colour), best first', async () => {
    const twoColours = unit([0.5, 0, 0, 0, 0, 0.7, 0, 0]); // blue, then red
    const tags = await scorer({ color: VISUAL_ATTRIBUTES.color }, 5).score([{ productId: 'p', vector: twoColours, categoryPath: STARS }]);
    const expected = softmax(
      [0.5, 0, 0, 0, 0, 0.7, 0, 0].map((x) => x / Math.hypot(0.5, 0.7)),
      5,
    );
    expect(tags.map((t) => [t.valueName, Number(t.score.toFixed(5))])).toEqual([
      ['Blue', Number(expected[5].toFixed(5))],
      ['Red', Number(expected[0].toFixed(5))],
    ]);
    expect(expected.filter((s) => s >= 1 / 8)).toHaveLength(2);
  });

  it('gives nothing to products whose category lacks the attribute or is unknown, and keeps the order of the products', async () => {
    const vector = unit([0, 0, 1, 0, 0, 0, 0, 0]);
    const products: AttributeProduct[] = [
      { productId: 'other', vector, categoryPath: OTHER },
      { productId: 'sized', vector, categoryPath: SIZED },
      { productId: 'unknown', vector, categoryPath: [] },
      { productId: 'star', vector, categoryPath: STARS },
      { productId: 'root', vector, categoryPath: ['zz'] },
      { productId: 'shape', vector, categoryPath: SHAPES },
    ];
    const tags = await scorer(SINGLE_COLOUR).score(products);
    expect(tags.map((t) => [t.productId, t.attribute, t.valueName])).toEqual([
      ['star', 'color', 'Yellow'],
      ['shape', 'color', 'Yellow'],
    ]);
    expect(await scorer(SINGLE_COLOUR).score([])).toEqual([]);
  });

  it("runs one matrix product per attribute over the products it applies to, and gives each product its attributes in the allowlist's order", async () => {
    const spy = jest.spyOn(matrix, 'matrixProduct');
    try {
      const random = seededRandom(27);
      const products: AttributeProduct[] = Array.from({ length: 120 }, (_, i) => ({
        productId: `p${i}`,
        vector: unit(Array.from({ length: 8 }, () => random() * 2 - 1)),
        categoryPath: [SHAPES, STARS, OTHER, []][i % 4],
      }));
      const colourAndSize = scorer({ ...SINGLE_COLOUR, ...SIZE }, 30);
      const tags = await colourAndSize.score(products);
      // Colour applies to Shapes and Stars (60 products), Size to those and Other (90), nothing to the unknown category.
      expect(spy.mock.calls.map(([, n, , k, m]) => [n, k, m])).toEqual([
        [60, 8, 8],
        [90, 8, 2],
      ]);
      expect(tags.filter((t) => t.productId === 'p0').map((t) => t.attribute)).toEqual(['color', 'size']);
      expect(tags.filter((t) => t.productId === 'p2').map((t) => t.attribute)).toEqual(['size']);
      expect(tags.filter((t) => t.productId === 'p3')).toEqual([]);
      // Each tag as a plain loop of dot products and a softmax finds it.
      for (const tag of tags) {
        const product = products.find((p) => p.productId === tag.productId)!;
        const values = colourAndSize.applicable.attributes.find((a) => a.handle === tag.attribute)!.values;
        const similarities = values.map((_, i) => product.vector[i]);
        const best = similarities.indexOf(Math.max(...similarities));
        expect(tag.valueId).toBe(values[best].id);
        expect(tag.similarity).toBeCloseTo(similarities[best], 5);
        expect(tag.score).toBeCloseTo(softmax(similarities, 30)[best], 5);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses vectors that do not fit and paths that are not categories, naming them', async () => {
    const applicable = new ApplicableAttributes(taxonomy, SINGLE_COLOUR);
    const vectors = axisVectors(applicable);
    expect(() => new AttributeScorer(applicable, vectors, { logitScale: 0 })).toThrow('logitScale must be a positive number: 0');
    const missing = new Map(vectors);
    missing.delete('gid://shopify/TaxonomyValue/9004');
    expect(() => new AttributeScorer(applicable, missing, { logitScale: 100 })).toThrow(
      'attribute color: no vector for its value Green (gid://shopify/TaxonomyValue/9004).',
    );
    const uneven = new Map(vectors).set('gid://shopify/TaxonomyValue/9002', unit([1, 0, 0]));
    expect(() => new AttributeScorer(applicable, uneven, { logitScale: 100 })).toThrow(
      'attribute color: the vector of Orange (gid://shopify/TaxonomyValue/9002) has 3 dimensions, others 8.',
    );
    const scoring = new AttributeScorer(applicable, vectors, { logitScale: 100 });
    await expect(scoring.score([{ productId: 'p9', vector: unit([1, 0]), categoryPath: SHAPES }])).rejects.toThrow(
      "product p9: its vector has 2 dimensions, the values' 8.",
    );
    // A product without a visual attribute is not held to the values' dimension.
    expect(await scoring.score([{ productId: 'p8', vector: unit([1, 0]), categoryPath: OTHER }])).toEqual([]);
    await expect(scoring.score([{ productId: 'p7', vector: unit([1, 0]), categoryPath: ['zz', 'zz-1-1'] }])).rejects.toThrow(
      'product p7\'s category path: "zz-1-1" is not a child of "zz", the category before it.',
    );
  });
});

describe('AttributeScorer.rescore, after a manual change of category', () => {
  it('gives a product moved under a category with colour its colour, and takes it away when moved back', async () => {
    const scoring = scorer({ ...SINGLE_COLOUR, ...SIZE });
    const product = { productId: 'moved', vector: unit([0, 0, 0, 0, 0, 1, 0, 0.2]) };
    const there = await scoring.rescore(product, OTHER, SHAPES);
    expect(there.dropped).toEqual([]);
    expect(there.tags.map((t) => [t.attribute, t.valueName])).toEqual([
      ['color', 'Blue'],
      ['size', 'Small'],
    ]);
    const back = await scoring.rescore(product, SHAPES, OTHER);
    expect(back.dropped).toEqual(['color']);
    expect(back.tags.map((t) => t.attribute)).toEqual(['size']);
    expect(await scoring.rescore(product, OTHER, [])).toEqual({ tags: [], dropped: ['size'] });
    const sideways = await scoring.rescore(product, STARS, SIZED);
    expect(sideways.dropped).toEqual(['color']);
    expect(sideways.tags.map((t) => t.attribute)).toEqual(['size']);
    await expect(scoring.rescore(product, ['zz-5'], SHAPES)).rejects.toThrow(
      'product moved\'s previous category path: "zz-5" is not a category',
    );
  });
});

describe('AttributeScorer on the tiny CLIP', () => {
  let model: ClipModel;
  let scoring: AttributeScorer;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
    // The shipped scheme's prompts for Color ("a photo of something red.", ...), embedded as the caller would.
    const applicable = new ApplicableAttributes(taxonomy, { color: VISUAL_ATTRIBUTES.color });
    const prompts = attributePrompts(applicable);
    const texts = distinctPromptTexts(prompts);
    const embedded = await model.embedTexts(texts);
    const byText = new Map(
      texts.map((text, i) => {
        const result = embedded[i];
        if (!result.ok) throw new Error(`${text}: ${result.message}`);
        return [text, result.vector];
      }),
    );
    const vectors = new Map(prompts.map((p) => [p.valueId, meanUnitVector(p.texts.map((t) => byText.get(t)!))]));
    scoring = new AttributeScorer(applicable, vectors, { logitScale: model.info.logitScale });
  });
  afterAll(() => model.release());

  const productsOf = async (labels: string[], seed: number, categoryPath: readonly string[], draw = drawShape) => {
    const reference = loadReference();
    const random = seededRandom(seed);
    const images = await Promise.all(labels.map((label) => draw(reference, label, random)));
    return (await model.embedImages(images)).map((result, i): AttributeProduct => {
      if (!result.ok) throw new Error(result.message);
      return { productId: `${labels[i]} #${i}`, vector: result.vector, categoryPath };
    });
  };

  it('scores the colour of drawn shapes it never saw (≥ 90%) under Shapes, and none under Other', async () => {
    const labels = loadReference().classes.flatMap((c) => [c, c]);
    // Half as the training script draws them (by another renderer), half as it never did (drawUnseenShape).
    const shapes = [
      ...(await productsOf(labels.slice(0, 32), 20261207, STARS)),
      ...(await productsOf(labels.slice(32), 1207, SHAPES, drawUnseenShape)),
    ];
    const others = await productsOf(labels.slice(0, 16), 7, OTHER);
    const tags = await scoring.score([...shapes, ...others]);
    expect(new Set(tags.map((t) => t.productId))).toEqual(new Set(shapes.map((p) => p.productId)));
    // Best first: the first tag of each product is its colour.
    const firsts = new Map<string, string>();
    for (const tag of tags) if (!firsts.has(tag.productId)) firsts.set(tag.productId, tag.valueName.toLowerCase());
    const right = shapes.filter((p) => firsts.get(p.productId) === p.productId.split(' ')[0]).length;
    expect(right / shapes.length).toBeGreaterThanOrEqual(0.9);
  });

  it("re-scores a product's colour when its category changes: none under Other, its colour under Shapes, none again", async () => {
    const [star] = await productsOf(['purple star'], 99, OTHER);
    expect(await scoring.score([star])).toEqual([]);
    const moved = await scoring.rescore(star, OTHER, SHAPES);
    expect(moved.dropped).toEqual([]);
    expect(moved.tags[0]).toMatchObject({
      productId: star.productId,
      attribute: 'color',
      valueName: 'Purple',
      valueId: 'gid://shopify/TaxonomyValue/9007',
    });
    expect(await scoring.rescore(star, SHAPES, OTHER)).toEqual({ tags: [], dropped: ['color'] });
  });
});
