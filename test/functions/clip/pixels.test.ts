import { readModelDirectory, type ImagePreprocessSpec } from '../../../functions/clip';
import { cropByteLength, toPixelValues } from '../../../functions/clip/pixels';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

/** The bundled model's spec: 64×64 crops, rescale 1/255, OpenAI's CLIP mean and std. */
const spec = readModelDirectory(TINY_CLIP_DIR).image;
const PLANE = 64 * 64;

/**
 * ((v / 255) − mean[c]) / std[c] for mean [0.48145466, 0.4578275, 0.40821073] and std
 * [0.26862954, 0.26130258, 0.27577711], worked out separately in float64.
 */
const NORMALISED: Record<number, [number, number, number]> = {
  0: [-1.79226253374815, -1.7520971281645974, -1.4802197687835659],
  10: [-1.6462782675557206, -1.6020194432274268, -1.3380191116133249],
  50: [-1.0623412027860037, -1.0017087034787446, -0.7692164829323617],
  128: [0.07633607351494368, 0.16889723903118556, 0.33994864299551714],
  200: [1.127422790100434, 1.2494565705788134, 1.3637933746212514],
  255: [1.930336254158794, 2.0748838377332515, 2.1458969890575763],
};

/** A crop of the spec's size whose every pixel is `rgb`. */
function solid(rgb: [number, number, number], size = PLANE): Uint8Array {
  const crop = new Uint8Array(size * 3);
  for (let p = 0; p < size; p++) crop.set(rgb, p * 3);
  return crop;
}

const tiny = (overrides: Partial<ImagePreprocessSpec>): ImagePreprocessSpec => ({
  doResize: false,
  kernel: 'cubic',
  doCenterCrop: true,
  cropWidth: 2,
  cropHeight: 1,
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  ...overrides,
});

describe('cropByteLength', () => {
  it('is width × height × 3', () => {
    expect(cropByteLength(spec)).toBe(12288);
    expect(cropByteLength(tiny({ cropWidth: 5, cropHeight: 7 }))).toBe(105);
  });
});

describe('toPixelValues with the bundled model’s spec', () => {
  it('uses 64×64 crops, rescale 1/255 and normalisation', () => {
    expect(spec).toMatchObject({ cropWidth: 64, cropHeight: 64, doRescale: true, doNormalize: true });
  });

  it('rescales and normalises each channel with its own mean and std', () => {
    for (const v of [0, 10, 50, 128, 200, 255]) {
      const out = toPixelValues([solid([v, v, v])], spec);
      expect(out).toBeInstanceOf(Float32Array);
      expect(out.length).toBe(3 * PLANE);
      for (let c = 0; c < 3; c++) {
        // First, last and a middle pixel of each channel's plane.
        for (const p of [0, 1234, PLANE - 1]) expect(out[c * PLANE + p]).toBeCloseTo(NORMALISED[v][c], 5);
      }
    }
  });

  it('turns HWC into NCHW: the R, G and B bytes of a pixel go to three planes at that pixel’s index', () => {
    const crop = solid([128, 128, 128]);
    // Pixel (row 3, column 5) is red-ish, pixel (row 63, column 0) is blue-ish.
    const a = 3 * 64 + 5;
    const b = 63 * 64;
    crop.set([255, 10, 200], a * 3);
    crop.set([0, 50, 255], b * 3);
    const out = toPixelValues([crop], spec);
    expect([out[a], out[PLANE + a], out[2 * PLANE + a]].map((x) => +x.toFixed(5))).toEqual(
      [NORMALISED[255][0], NORMALISED[10][1], NORMALISED[200][2]].map((x) => +x.toFixed(5)),
    );
    expect([out[b], out[PLANE + b], out[2 * PLANE + b]].map((x) => +x.toFixed(5))).toEqual(
      [NORMALISED[0][0], NORMALISED[50][1], NORMALISED[255][2]].map((x) => +x.toFixed(5)),
    );
    // Neighbours keep the background value.
    expect(out[a + 1]).toBeCloseTo(NORMALISED[128][0], 5);
    expect(out[PLANE + a - 1]).toBeCloseTo(NORMALISED[128][1], 5);
  });

  it('puts the second crop of a batch after the first one’s three planes', () => {
    const first = solid([0, 0, 0]);
    const second = solid([255, 128, 10]);
    second.set([200, 200, 200], 7 * 3);
    const out = toPixelValues([first, second], spec);
    expect(out.length).toBe(2 * 3 * PLANE);
    const base = 3 * PLANE;
    // The first crop is untouched by the second.
    expect(out[PLANE - 1]).toBeCloseTo(NORMALISED[0][0], 5);
    expect(out[3 * PLANE - 1]).toBeCloseTo(NORMALISED[0][2], 5);
    // The second starts right after it, channel by channel.
    expect(out[base]).toBeCloseTo(NORMALISED[255][0], 5);
    expect(out[base + PLANE]).toBeCloseTo(NORMALISED[128][1], 5);
    expect(out[base + 2 * PLANE]).toBeCloseTo(NORMALISED[10][2], 5);
    expect(out[base + 7]).toBeCloseTo(NORMALISED[200][0], 5);
    expect(out[base + PLANE + 7]).toBeCloseTo(NORMALISED[200][1], 5);
    expect(out[base + 2 * PLANE + 7]).toBeCloseTo(NORMALISED[200][2], 5);
    expect(out[base + 3 * PLANE - 1]).toBeCloseTo(NORMALISED[10][2], 5);
  });

  it('gives an empty batch for no crops', () => {
    expect(toPixelValues([], spec)).toEqual(new Float32Array(0));
  });
});

describe('toPixelValues with rescaling or normalisation off', () => {
  // Two pixels, 2×1: (10, 20, 30) and (255, 0, 128). Planes: R = [10, 255], G = [20, 0], B = [30, 128].
  const crop = new Uint8Array([10, 20, 30, 255, 0, 128]);

  it('passes the bytes through when both are off', () => {
    const out = toPixelValues([crop], tiny({ doRescale: false, doNormalize: false, mean: [9, 9, 9], std: [9, 9, 9] }));
    expect(Array.from(out)).toEqual([10, 255, 20, 0, 30, 128]);
  });

  it('only rescales when normalisation is off', () => {
    const out = toPixelValues([crop], tiny({ doRescale: true, rescaleFactor: 0.5, doNormalize: false, mean: [9, 9, 9] }));
    expect(Array.from(out)).toEqual([5, 127.5, 10, 0, 15, 64]);
  });

  it('normalises the raw bytes when rescaling is off', () => {
    const out = toPixelValues([crop], tiny({ doRescale: false, doNormalize: true, mean: [10, 0, 128], std: [5, 4, 2] }));
    // R: (10 − 10)/5, (255 − 10)/5; G: 20/4, 0/4; B: (30 − 128)/2, (128 − 128)/2.
    expect(Array.from(out)).toEqual([0, 49, 5, 0, -49, 0]);
  });

  it('rescales before normalising', () => {
    const out = toPixelValues([crop], tiny({ doRescale: true, rescaleFactor: 0.1, mean: [1, 0, 3], std: [0.5, 2, 1] }));
    // R: (1 − 1)/0.5, (25.5 − 1)/0.5; G: 2/2, 0/2; B: (3 − 3)/1, (12.8 − 3)/1.
    const expected = [0, 49, 1, 0, 0, 9.8];
    Array.from(out).forEach((x, i) => expect(x).toBeCloseTo(expected[i], 5));
  });
});
