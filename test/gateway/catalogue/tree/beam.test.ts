import { meanUnitVector } from '../../../../functions/clip';
import { TreeTagger, type TreeTag } from '../../../../gateway/catalogue/tree/beam';
import { treeFromRows, type TaxonomyTree } from '../../../../gateway/catalogue/tree/tree';
import { seededRandom } from '../../../helpers/tiny-clip';

const unit = (values: number[]) => meanUnitVector([Float32Array.from(values)]);
const e = (axis: number) => Float32Array.from({ length: 4 }, (_, i) => (i === axis ? 1 : 0));

// A product with similarities 0.5, 0.7, 0.1, 0.5 to the axes (already unit length).
const PRODUCT = Float32Array.from([0.5, 0.7, 0.1, 0.5]);
const SHOP = treeFromRows([
  { id: 'animals', name: 'Animals', parentId: null },
  { id: 'dogs', name: 'Dogs', parentId: 'animals' },
  { id: 'cats', name: 'Cats', parentId: 'animals' },
  { id: 'apparel', name: 'Apparel', parentId: null },
  { id: 'shoes', name: 'Shoes', parentId: 'apparel' },
  { id: 'boots', name: 'Boots', parentId: 'shoes' },
  { id: 'sandals', name: 'Sandals', parentId: 'shoes' },
  { id: 'shirts', name: 'Shirts', parentId: 'apparel' },
]);
// Own similarities: animals 0.5, dogs 0.5, cats 0.1, apparel 0.1, shoes none, boots 0.7, sandals 0.5, shirts 0.5.
const SHOP_VECTORS = [e(0), e(3), e(2), e(2), null, e(1), e(3), e(0)];

const ids = (tag: TreeTag) => tag.path.map((level) => level.id);

describe('TreeTagger on a small tree with known answers', () => {
  it('walks to the best leaf, each level scored among its siblings by effective similarity, the middle level without a vector through its children', () => {
    const tagger = new TreeTagger(SHOP, SHOP_VECTORS, { logitScale: 10, beamWidth: 1 });
    const tag = tagger.tag(PRODUCT);
    expect(tag.id).toBe('boots');
    expect(tag.leaf).toBe(5);
    // Every level is 0.7 against a sibling at 0.5: softmax(10 × [0.7, 0.5]) = 1 / (1 + e^-2).
    const level = 1 / (1 + Math.exp(-2));
    expect(tag.path).toEqual([
      {
        index: 3,
        id: 'apparel',
        name: 'Apparel',
        score: expect.closeTo(level, 6),
        similarity: expect.closeTo(0.7, 6),
        own: expect.closeTo(0.1, 6),
      },
      { index: 4, id: 'shoes', name: 'Shoes', score: expect.closeTo(level, 6), similarity: expect.closeTo(0.7, 6), own: null },
      {
        index: 5,
        id: 'boots',
        name: 'Boots',
        score: expect.closeTo(level, 6),
        similarity: expect.closeTo(0.7, 6),
        own: expect.closeTo(0.7, 6),
      },
    ]);
    expect(tag.score).toBeCloseTo(level ** 3, 6);
    expect(tagger.flatBestLeaf(PRODUCT)).toBe(5);
  });

  it('lets a coarse prompt that matches better than every leaf steer a narrow beam; a wider beam comes back to the best leaf', () => {
    const vectors = [PRODUCT, ...SHOP_VECTORS.slice(1)]; // Animals now matches the product exactly.
    expect(ids(new TreeTagger(SHOP, vectors, { logitScale: 10, beamWidth: 1 }).tag(PRODUCT))).toEqual(['animals', 'dogs']);
    const wide = new TreeTagger(SHOP, vectors, { logitScale: 10, beamWidth: 2 }).tag(PRODUCT);
    expect(ids(wide)).toEqual(['apparel', 'shoes', 'boots']);
    // Animals outscores Apparel at the top level (1.0 against 0.7): the path's first level says so.
    expect(wide.path[0].score).toBeCloseTo(1 / (1 + Math.exp(3)), 6);
  });

  it('keeps a leaf met on the way as a finished path, and breaks ties by file order', () => {
    // Shirts (a leaf at level 2) now matches best; Dogs and Sandals tie with it at first.
    const vectors = [e(2), e(0), e(2), e(2), null, e(3), e(0), PRODUCT];
    for (const beamWidth of [1, 2, 8]) {
      expect(new TreeTagger(SHOP, vectors, { logitScale: 100, beamWidth }).tag(PRODUCT).id).toBe('shirts');
    }
    const tied = [e(2), e(1), e(1), e(2), null, e(1), e(1), e(1)];
    expect(new TreeTagger(SHOP, tied, { logitScale: 100, beamWidth: 8 }).tag(PRODUCT).id).toBe('dogs');
    expect(new TreeTagger(SHOP, tied, { logitScale: 100, beamWidth: 8 }).flatBestLeaf(PRODUCT)).toBe(1);
  });

  it('refuses a leaf without a vector, vectors that do not fit the tree, and bad options, naming them', () => {
    const vectors = [...SHOP_VECTORS];
    vectors[2] = null;
    expect(() => new TreeTagger(SHOP, vectors, { logitScale: 10 })).toThrow(
      'node cats (Cats) has no vector and no children: nothing could score it.',
    );
    expect(() => new TreeTagger(SHOP, SHOP_VECTORS.slice(1), { logitScale: 10 })).toThrow('7 vectors for a tree of 8 nodes');
    const short = [...SHOP_VECTORS];
    short[6] = Float32Array.from([1, 0]);
    expect(() => new TreeTagger(SHOP, short, { logitScale: 10 })).toThrow(
      'node sandals (Sandals) has a vector of 2 dimensions, the others 4',
    );
    expect(() => new TreeTagger(SHOP, SHOP_VECTORS, { logitScale: 0 })).toThrow('logitScale must be a positive number, got 0');
    expect(() => new TreeTagger(SHOP, SHOP_VECTORS, { logitScale: 10, beamWidth: 0 })).toThrow(
      'beamWidth must be a positive integer, got 0',
    );
    expect(() => new TreeTagger(SHOP, SHOP_VECTORS, { logitScale: 10, batchSize: 2.5 })).toThrow(
      'batchSize must be a positive integer, got 2.5',
    );
    const tagger = new TreeTagger(SHOP, SHOP_VECTORS, { logitScale: 10 });
    expect(() => tagger.tag(Float32Array.from([1, 0, 0]))).toThrow("product 0 has 3 dimensions, the tree's vectors 4");
  });
});

/** A random tree of up to `size` nodes (several roots, any fan-out, leaves at every depth) with random unit vectors. */
function randomCase(random: () => number, size: number, dim: number, withoutVector: number) {
  const count = 1 + Math.floor(random() * size);
  const rows = Array.from({ length: count }, (_, i) => ({
    id: `n${i}`,
    name: `node ${i}`,
    parentId: i === 0 || random() < 0.1 ? null : `n${Math.floor(random() * i)}`,
  }));
  const tree = treeFromRows(rows);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const vector = () => unit(Array.from({ length: dim }, gaussian));
  const product = vector();
  const vectors = tree.nodes.map((node) => {
    if (node.children.length > 0 && random() < withoutVector) return null;
    // Some coarse prompts lean towards the product, as a good coarse match would, so that narrow beams have something to get wrong.
    if (node.children.length > 0 && random() < 0.3) return unit(Array.from(vector(), (x, i) => x + 2 * product[i]));
    return vector();
  });
  return { tree, vectors, product };
}

/** The flat classifier over the leaves, written out here: the highest own similarity, the earliest on a tie. */
function flatLeaf(tree: TaxonomyTree, vectors: readonly (Float32Array | null)[], product: Float32Array): number {
  let best = -1;
  let bestSimilarity = -Infinity;
  tree.nodes.forEach((node, i) => {
    if (node.children.length > 0) return;
    let sum = 0;
    for (let d = 0; d < product.length; d++) sum += product[d] * vectors[i]![d];
    const similarity = Math.fround(sum);
    if (similarity > bestSimilarity) [best, bestSimilarity] = [i, similarity];
  });
  return best;
}

/** The largest own similarity in a node's subtree, recursively: what each level's similarity must be. */
function subtreeBest(tree: TaxonomyTree, vectors: readonly (Float32Array | null)[], product: Float32Array, node: number): number {
  const vector = vectors[node];
  let own = -Infinity;
  if (vector) {
    own = 0;
    for (let d = 0; d < product.length; d++) own += product[d] * vector[d];
  }
  return Math.max(own, ...tree.nodes[node].children.map((c) => subtreeBest(tree, vectors, product, c)));
}

describe('the beam as wide as the tree', () => {
  it('gives the flat best leaf, over 200 random trees and products, with a consistent path', () => {
    const random = seededRandom(27_2026);
    let narrowDiffers = 0;
    for (let c = 0; c < 200; c++) {
      const { tree, vectors, product } = randomCase(random, 60, 8, 0.3);
      const logitScale = 1 + random() * 99;
      const tag = new TreeTagger(tree, vectors, { logitScale, beamWidth: tree.nodes.length }).tag(product);
      const flat = flatLeaf(tree, vectors, product);
      expect([c, tag.leaf]).toEqual([c, flat]);
      expect(new TreeTagger(tree, vectors, { logitScale }).flatBestLeaf(product)).toBe(flat);
      // The path runs from a root down parent to child to the leaf; each level carries its subtree's best similarity.
      expect(tree.roots).toContain(tag.path[0].index);
      tag.path.slice(1).forEach((level, l) => expect(tree.nodes[level.index].parent).toBe(tag.path[l].index));
      expect(tag.path[tag.path.length - 1].index).toBe(tag.leaf);
      for (const level of tag.path) {
        expect(level.similarity).toBeCloseTo(subtreeBest(tree, vectors, product, level.index), 5);
        expect(level.score).toBeGreaterThan(0);
        expect(level.score).toBeLessThanOrEqual(1);
      }
      expect(tag.score).toBeCloseTo(
        tag.path.reduce((p, level) => p * level.score, 1),
        12,
      );
      if (new TreeTagger(tree, vectors, { logitScale, beamWidth: 1 }).tag(product).leaf !== flat) narrowDiffers++;
    }
    // Not vacuous: a beam of 1 does lose the best leaf in some of these trees.
    expect(narrowDiffers).toBeGreaterThan(10);
  });

  it('is not needed when no coarse node has a vector: then a beam of 1 already finds the flat best leaf', () => {
    const random = seededRandom(4_2026);
    for (let c = 0; c < 100; c++) {
      const { tree, vectors, product } = randomCase(random, 60, 8, 1);
      expect(new TreeTagger(tree, vectors, { logitScale: 50, beamWidth: 1 }).tag(product).leaf).toBe(flatLeaf(tree, vectors, product));
    }
  });
});

describe('TreeTagger.tagMany', () => {
  it('gives every product the tag tag() gives it, from matrix products in batches', async () => {
    const random = seededRandom(99);
    const { tree, vectors } = randomCase(random, 400, 16, 0.3);
    const products = Array.from({ length: 150 }, () => randomCase(random, 1, 16, 0).product);
    const tagger = new TreeTagger(tree, vectors, { logitScale: 30, beamWidth: 3, batchSize: 64 });
    const many = await tagger.tagMany(products);
    const one = products.map((p) => tagger.tag(p));
    expect(many.map(ids)).toEqual(one.map(ids));
    many.forEach((tag, p) => {
      expect(tag.score).toBeCloseTo(one[p].score, 4);
      tag.path.forEach((level, l) => expect(level.similarity).toBeCloseTo(one[p].path[l].similarity, 5));
    });
    expect(new Set(many.map((t) => t.leaf)).size).toBeGreaterThan(10);
    expect(await tagger.tagMany([])).toEqual([]);
    await expect(tagger.tagMany([products[0], Float32Array.from([1])])).rejects.toThrow(
      "product 1 has 1 dimensions, the tree's vectors 16",
    );
  });
});
