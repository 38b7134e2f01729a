import type { EmbedRequest, ModelDescription } from '../../functions/clip';
import type { InferenceBackend } from '../backends';

/** Seconds of inference per input, by the kind of batch. */
export interface MeasuredCost {
  images: number;
  texts: number;
}

/** A mid-grey crop of the model's size: every pixel the same work as a photograph's. */
function greyCrop(model: ModelDescription): Uint8Array {
  const { cropWidth, cropHeight } = model.preprocess;
  return new Uint8Array(cropWidth * cropHeight * 3).fill(128);
}

/**
 * Seconds per input of one batch, run twice: the first run of a session pays for its
 * allocations, the second is the steady cost. A new request each time: a backend may transfer
 * the crops' buffers to its worker, which leaves them empty here.
 */
async function secondsPerInput(backend: InferenceBackend, makeRequest: () => EmbedRequest): Promise<number> {
  let seconds = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 2; run++) {
    const request = makeRequest();
    const started = performance.now();
    const results = await backend.embed(request);
    const failed = results.find((result) => !result.ok);
    if (failed && !failed.ok) throw new Error(`the warm-up batch of ${request.kind} failed: ${failed.message}`);
    seconds = (performance.now() - started) / 1000 / request.items.length;
  }
  return seconds;
}

/**
 * What an image and a text cost the backend, measured by running a small batch of each: the
 * prior admission control starts from before real batches have been timed. Only worth it where
 * a batch costs nothing but time (the model in this process); a remote GPU would be woken, and
 * billed, for it. A batch of `imageBatch` images, smaller than a full one, errs on the side of a
 * higher cost per input.
 */
export async function measureInputCost(backend: InferenceBackend, model: ModelDescription, imageBatch = 4): Promise<MeasuredCost> {
  const images = await secondsPerInput(backend, () => ({
    kind: 'crops',
    items: Array.from({ length: imageBatch }, () => greyCrop(model)),
  }));
  const texts = await secondsPerInput(backend, () => ({
    kind: 'text',
    items: Array.from({ length: 2 * imageBatch }, (_, i) => `a photo of a product, number ${i}`),
  }));
  return { images, texts };
}
