// A taxonomy tree over the bundled tiny CLIP's domain, tagging images it has never seen: one root
// ("shape", as a shop's tree has a vertical on top), the four shapes under it, and the 32
// colour-and-shape classes the model was trained on as the leaves ("red circle" under "circle").
import { ClipModel } from '../../../../functions/clip/model';
import { TreeTagger, type TreeTag } from '../../../../gateway/catalogue/tree/beam';
import { nodeVectors, treePrompts, type TreePromptOptions } from '../../../../gateway/catalogue/tree/prompts';
import { treeFromRows } from '../../../../gateway/catalogue/tree/tree';
import { drawShape, loadReference, seededRandom, TINY_CLIP_DIR, type Reference } from '../../../helpers/tiny-clip';

let model: ClipModel;
let reference: Reference;
/** The class each held-out image was drawn as, and its vector. */
let truth: string[];
let images: Float32Array[];

beforeAll(async () => {
  model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  reference = loadReference();
  // Four fresh images per class, drawn by sharp with a seed no other test uses.
  const random = seededRandom(20261207);
  truth = reference.classes.flatMap((c) => [c, c, c, c]);
  const drawn = await Promise.all(truth.map((label) => drawShape(reference, label, random)));
  images = (await model.embedImages(drawn)).map((result) => {
    if (!result.ok) throw new Error(result.message);
    return result.vector;
  });
});
afterAll(() => model.release());

function shapeTree() {
  const rows: { id: string; name: string; parentId: string | null }[] = [{ id: 'shape', name: 'shape', parentId: null }];
  for (const shape of reference.domain.shapes) rows.push({ id: shape, name: shape, parentId: 'shape' });
  for (const shape of reference.domain.shapes) {
    for (const colour of Object.keys(reference.domain.colours))
      rows.push({ id: `${colour} ${shape}`, name: `${colour} ${shape}`, parentId: shape });
  }
  return treeFromRows(rows);
}

/** The tree's node vectors from the real model, with the first four of the templates it was trained on. */
async function vectorsOf(tree: ReturnType<typeof shapeTree>, options: TreePromptOptions) {
  const prompts = treePrompts(tree, { templates: reference.domain.templates.slice(0, 4), ...options });
  const texts = await model.embedTexts([...prompts.texts]);
  return nodeVectors(
    prompts,
    texts.map((result) => {
      if (!result.ok) throw new Error(result.message);
      return result.vector;
    }),
  );
}

interface Accuracy {
  leaf: number;
  flat: number;
  /** Images whose leaf is right but whose path names another shape: must be none. */
  pathWrong: number;
  tags: TreeTag[];
}

async function accuracy(tree: ReturnType<typeof shapeTree>, vectors: (Float32Array | null)[], beamWidth: number): Promise<Accuracy> {
  const tagger = new TreeTagger(tree, vectors, { logitScale: model.info.logitScale, beamWidth });
  const tags = await tagger.tagMany(images);
  let leaf = 0;
  let flat = 0;
  let pathWrong = 0;
  tags.forEach((tag, i) => {
    if (tree.nodes[tagger.flatBestLeaf(images[i])].id === truth[i]) flat++;
    if (tag.id !== truth[i]) return;
    leaf++;
    if (tag.path.map((level) => level.id).join('/') !== `shape/${truth[i].split(' ')[1]}/${truth[i]}`) pathWrong++;
  });
  return { leaf: leaf / tags.length, flat: flat / tags.length, pathWrong, tags };
}

describe('a tree over the tiny CLIP domain (shape > 4 shapes > 32 colour-and-shape leaves)', () => {
  it('tags held-out images with the right leaf and path, at least as often as the flat classifier over the leaves', async () => {
    const tree = shapeTree();
    const vectors = await vectorsOf(tree, {});
    for (const beamWidth of [1, 5]) {
      const result = await accuracy(tree, vectors, beamWidth);
      expect(images).toHaveLength(128);
      expect(result.leaf).toBeGreaterThanOrEqual(0.9);
      expect(result.leaf).toBeGreaterThanOrEqual(result.flat);
      expect(result.pathWrong).toBe(0);
      // The path carries a score per level: one root is certain, and a right leaf is a confident one.
      for (const tag of result.tags) expect(tag.path[0].score).toBe(1);
      const right = result.tags.filter((tag, i) => tag.id === truth[i]);
      expect(right.filter((tag) => tag.path[2].score > 0.5).length / right.length).toBeGreaterThan(0.9);
    }
  });

  it('tags them as well with the shapes left without a vocabulary of their own: the middle level is scored through its children', async () => {
    const tree = shapeTree();
    const vectors = await vectorsOf(tree, { hasVocabulary: (node) => node.depth !== 2 });
    expect(vectors.slice(1, 5)).toEqual([null, null, null, null]);
    const result = await accuracy(tree, vectors, 1);
    expect(result.leaf).toBeGreaterThanOrEqual(0.9);
    expect(result.leaf).toBeGreaterThanOrEqual(result.flat);
    expect(result.pathWrong).toBe(0);
    for (const tag of result.tags) {
      expect(tag.path[1].own).toBeNull();
      // A node without a vector takes its best child's similarity: the leaf's, since the path follows it.
      expect(tag.path[1].similarity).toBe(tag.path[2].similarity);
    }
  });

  it('tags them as well with the leaves named without their parent as context', async () => {
    const tree = shapeTree();
    const withContext = await accuracy(tree, await vectorsOf(tree, {}), 5);
    const without = await accuracy(tree, await vectorsOf(tree, { contextTemplate: null }), 5);
    expect(without.leaf).toBeGreaterThanOrEqual(0.9);
    expect(without.pathWrong).toBe(0);
    // The model never saw "a photo of a red circle, a kind of circle." in training; the context costs it nothing here.
    expect(withContext.leaf).toBeGreaterThanOrEqual(without.leaf);
  });
});
