import { drawShape, loadReference, seededRandom } from './tiny-clip';

/**
 * One product per class of the tiny CLIP (32: "red circle", ...), each with a freshly drawn
 * picture as base64, ids p00..p31 in class order, and its colour and shape as attributes.
 */
export async function shapeProducts(seed: number) {
  const reference = loadReference();
  const random = seededRandom(seed);
  return Promise.all(
    reference.classes.map(async (label, i) => ({
      id: `p${String(i).padStart(2, '0')}`,
      title: label,
      images: [{ base64: (await drawShape(reference, label, random)).toString('base64') }],
      attributes: { colour: label.split(' ')[0], shape: label.split(' ')[1] },
    })),
  );
}
