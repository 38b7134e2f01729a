import { zeroShot } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { drawUnseenShape, loadReference, seededRandom, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();

/**
 * Robustness, not just the training distribution: images from a renderer the training script never
 * used (SVG through sharp's librsvg, with ellipses, rotated rects, paths, strokes and gradients on
 * tinted backgrounds; see drawUnseenShape), decoded and cropped by the gateway's own pipeline, and
 * classified over all 32 colour × shape labels with the default prompt template.
 */
describe('zero-shot classification of images from an unseen renderer', () => {
  let model: ClipModel;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  });
  afterAll(() => model.release());

  it('names the right colour and shape for at least 95% of 256 images', async () => {
    const random = seededRandom(20261211);
    const perClass = 8;
    const labels = reference.classes.flatMap((label) => Array<string>(perClass).fill(label));
    const images: Buffer[] = [];
    for (const label of labels) images.push(await drawUnseenShape(reference, label, random));
    const prompts = await model.embedTexts(reference.classes.map((label) => `a photo of a ${label}.`));
    const labelVectors = prompts.map((p) => {
      if (!p.ok) throw new Error(p.message);
      return p.vector;
    });
    const embedded = await model.embedImages(images);
    let correct = 0;
    const confusions = new Map<string, number>();
    embedded.forEach((result, i) => {
      if (!result.ok) throw new Error(result.message);
      const [best] = zeroShot(result.vector, labelVectors, model.info.logitScale);
      if (reference.classes[best.index] === labels[i]) correct++;
      else {
        const key = `${labels[i]} -> ${reference.classes[best.index]}`;
        confusions.set(key, (confusions.get(key) ?? 0) + 1);
      }
    });
    const accuracy = correct / labels.length;
    const misses = [...confusions].sort((a, b) => b[1] - a[1]).map(([key, n]) => (n > 1 ? `${key} ×${n}` : key));
    process.stdout.write(
      `unseen-renderer zero-shot top-1: ${(accuracy * 100).toFixed(1)}% of ${labels.length} images` +
        `${misses.length ? `; confusions: ${misses.join(', ')}` : ''}\n`,
    );
    expect(labels.length).toBeGreaterThanOrEqual(224);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
  });
});
