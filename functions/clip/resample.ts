/**
 * Pillow's resampling (`Image.resize` without `reducing_gap`, libImaging/Resample.c), reproduced
 * bit for bit for 8-bit images: what Hugging Face's CLIPImageProcessor runs. libvips gets within a
 * level or two of it while it shrinks by less than 4×, but beyond that it box-averages first (its
 * "reducing gap"), and a photo shrunk 6.7× comes out up to 9 levels away. Here every output pixel
 * is the same fixed-point sum Pillow computes, so the crop equals PIL's exactly.
 */

/** Pillow's filters by the name the model directory gives them (PIL's resample 1, 2 and 3). */
export type PilFilter = 'lanczos3' | 'linear' | 'cubic';

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

const FILTERS: Record<PilFilter, Filter> = {
  linear: { support: 1, weight: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  cubic: {
    // Pillow's bicubic: Keys' kernel with a = -0.5.
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos3: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Bits of the fixed-point weights for 8-bit images: 32 - 8 - 2, as in Resample.c. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  /** Weights per output position, `taps` apiece, as Pillow's fixed-point integers. */
  weights: Int32Array;
  /** First input index and number of inputs for each output position. */
  first: Int32Array;
  count: Int32Array;
  taps: number;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for outputs `from`…`from + n - 1` of an axis
 * of `inSize` resized to `outSize`: only those the crop keeps are computed, and each output's sum
 * does not depend on the others, so the result is the same as resizing everything.
 */
function coefficients(filter: Filter, inSize: number, outSize: number, from: number, n: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const weights = new Int32Array(n * taps);
  const first = new Int32Array(n);
  const count = new Int32Array(n);
  const k = new Float64Array(taps);
  // Multiplied by the reciprocal, not divided by the scale: the last bit of each weight is Pillow's.
  const reciprocal = 1 / filterScale;
  for (let i = 0; i < n; i++) {
    const center = (from + i + 0.5) * scale;
    // C's (int) casts truncate toward zero.
    const min = Math.max(Math.trunc(center - support + 0.5), 0);
    const max = Math.min(Math.trunc(center + support + 0.5), inSize) - min;
    let sum = 0;
    for (let x = 0; x < max; x++) {
      k[x] = filter.weight((x + min - center + 0.5) * reciprocal);
      sum += k[x];
    }
    for (let x = 0; x < max; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[i * taps + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = min;
    count[i] = max;
  }
  return { weights, first, count, taps };
}

const clip8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * Resizes 8-bit RGB `pixels` (`width`×`height`, HWC) to `outWidth`×`outHeight` as Pillow does, and
 * returns only the window `crop` of the result (Hugging Face's centre crop comes right after the
 * resize, so nothing outside it is computed). Horizontal pass first, rounded to 8 bits, then
 * vertical, as in ImagingResample.
 */
export function resampleLikePil(
  pixels: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  crop: { left: number; top: number; width: number; height: number },
  filterName: PilFilter,
): Uint8Array {
  const filter = FILTERS[filterName];
  const vertical = coefficients(filter, height, outHeight, crop.top, crop.height);
  // The input rows the kept output rows read: the horizontal pass runs on those only.
  const rowFrom = vertical.first[0];
  const rowTo = vertical.first[crop.height - 1] + vertical.count[crop.height - 1];

  let rows: Uint8Array;
  let rowOffset: number;
  if (outWidth === width && crop.width === width) {
    rows = pixels;
    rowOffset = 0;
  } else {
    const horizontal = coefficients(filter, width, outWidth, crop.left, crop.width);
    const { weights, first, count, taps } = horizontal;
    rows = new Uint8Array((rowTo - rowFrom) * crop.width * 3);
    let out = 0;
    for (let y = rowFrom; y < rowTo; y++) {
      const row = y * width * 3;
      for (let i = 0; i < crop.width; i++) {
        let r = HALF;
        let g = HALF;
        let b = HALF;
        let p = row + first[i] * 3;
        const base = i * taps;
        const n = count[i];
        for (let x = 0; x < n; x++) {
          const w = weights[base + x];
          // int32 all the way, as in Pillow (its weights are scaled so that no sum overflows).
          r = (r + pixels[p] * w) | 0;
          g = (g + pixels[p + 1] * w) | 0;
          b = (b + pixels[p + 2] * w) | 0;
          p += 3;
        }
        rows[out++] = clip8(r >> PRECISION_BITS);
        rows[out++] = clip8(g >> PRECISION_BITS);
        rows[out++] = clip8(b >> PRECISION_BITS);
      }
    }
    rowOffset = rowFrom;
  }
  const stride = crop.width * 3;
  if (outHeight === height) {
    // No vertical pass, as in Pillow: the rows of the crop, as they are.
    return rows.slice((crop.top - rowOffset) * stride, (crop.top - rowOffset + crop.height) * stride);
  }
  const { weights, first, count, taps } = vertical;
  const result = new Uint8Array(crop.height * stride);
  for (let i = 0; i < crop.height; i++) {
    const base = i * taps;
    const n = count[i];
    const start = (first[i] - rowOffset) * stride;
    for (let c = 0; c < stride; c++) {
      let s = HALF;
      let p = start + c;
      for (let y = 0; y < n; y++) {
        s = (s + rows[p] * weights[base + y]) | 0;
        p += stride;
      }
      result[i * stride + c] = clip8(s >> PRECISION_BITS);
    }
  }
  return result;
}
