import type { ModelDescription } from '../../functions/clip';

/**
 * A remote function's description of a small model (2 dims, 4×4 crops, no preprocessing), for
 * tests of the backends that call functions: what `describe` answers in them.
 */
export const SMALL_MODEL: ModelDescription = {
  info: {
    name: 'test-clip',
    dim: 2,
    imageSize: 4,
    cropWidth: 4,
    cropHeight: 4,
    contextLength: 8,
    logitScale: 100,
    dtype: 'fp32',
    device: 'cpu',
  },
  preprocess: {
    doResize: false,
    kernel: 'cubic',
    doCenterCrop: false,
    cropWidth: 4,
    cropHeight: 4,
    doRescale: false,
    rescaleFactor: 1,
    doNormalize: false,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  },
};
