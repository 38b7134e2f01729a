import { zeroShot } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { drawShape, loadReference, seededRandom, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();

/**
 * Meaning, not just shapes: images drawn here (SVG through sharp's librsvg, a PRNG the training
 * script never used) are classified over all colour × shape labels with the gateway's default
 * prompt template, as a client of the gateway would do it.
 */
describe('zero-shot classification with the tiny CLIP', () => {
  let model: ClipModel;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  });
  afterAll(() => model.release());

  it('names the right colour and shape for at least 95% of fresh images', async () => {
    const random = seededRandom(20261127);
    const perClass = 8;
    const labels = reference.classes.flatMap((label) => Array<string>(perClass).fill(label));
    const images = await Promise.all(labels.map((label, i) => drawShape(reference, label, random, i % 2 === 0 ? 'png' : 'jpeg')));
    const prompts = await model.embedTexts(reference.classes.map((label) => `a photo of a ${label}.`));
    const labelVectors = prompts.map((p) => (p.ok ? p.vector : Promise.reject(new Error(p.message)))) as Float32Array[];
    const embedded = await model.embedImages(images);
    let correct = 0;
    const confusions: string[] = [];
    embedded.forEach((result, i) => {
      if (!result.ok) throw new Error(result.message);
      const [best] = zeroShot(result.vector, labelVectors, model.info.logitScale);
      if (reference.classes[best.index] === labels[i]) correct++;
      else confusions.push(`${labels[i]} -> ${reference.classes[best.index]}`);
    });
    const accuracy = correct / labels.length;
    process.stdout.write(
      `zero-shot top-1: ${(accuracy * 100).toFixed(1)}% of ${labels.length} images${confusions.length ? `; misses: ${confusions.join(', ')}` : ''}\n`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
  });
});
