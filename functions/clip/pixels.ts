import type { ImagePreprocessSpec } from './model-dir';

/**
 * The model-side half of preprocessing: uint8 HWC RGB crops to the float32 NCHW `pixel_values`
 * batch, rescaled (× rescale_factor) and normalised ((x − mean) / std) per channel.
 *
 * Every crop must be cropWidth × cropHeight × 3 bytes; callers check that per item first.
 */
export function toPixelValues(crops: readonly Uint8Array[], spec: ImagePreprocessSpec): Float32Array {
  const { cropWidth: width, cropHeight: height } = spec;
  const plane = width * height;
  const out = new Float32Array(crops.length * 3 * plane);
  // A 256-entry table per channel: the same arithmetic for every pixel, done once.
  const tables = [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = spec.doRescale ? v * spec.rescaleFactor : v;
      if (spec.doNormalize) x = (x - spec.mean[c]) / spec.std[c];
      table[v] = x;
    }
    return table;
  });
  crops.forEach((crop, n) => {
    const base = n * 3 * plane;
    for (let p = 0; p < plane; p++) {
      out[base + p] = tables[0][crop[p * 3]];
      out[base + plane + p] = tables[1][crop[p * 3 + 1]];
      out[base + 2 * plane + p] = tables[2][crop[p * 3 + 2]];
    }
  });
  return out;
}

/** Bytes a crop must have for this model: width × height × 3. */
export function cropByteLength(spec: ImagePreprocessSpec): number {
  return spec.cropWidth * spec.cropHeight * 3;
}
