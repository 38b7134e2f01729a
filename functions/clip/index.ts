// The CLIP core's light entry: what a gateway needs to prepare inputs and read results, without
// loading ONNX Runtime. ClipModel, which runs the model, is the heavy entry: `./model`.
export { classifierInputProblem, DEFAULT_TEMPLATES, LabelEmbeddingError, ZeroShotClassifier } from './classify';
export type { LabelScore } from './classify';
export { ClipErrorCode, ClipInputError, CodedError, DeviceError, ModelLoadError } from './errors';
export { checkImageLimits, DEFAULT_IMAGE_LIMITS, decodeAndCrop, ICC_PROFILE_HANDLING, RESAMPLING, sniffImageFormat } from './image-crop';
export type { ImageCrop, ImageFormat, ImageLimits } from './image-crop';
export { MODEL_DTYPE, MODEL_DTYPES, modelFiles, OPENAI_LOGIT_SCALE, readModelDirectory } from './model-dir';
export type { ClipModelSpec, ImagePreprocessSpec, ModelDtype } from './model-dir';
export { cropByteLength, toPixelValues } from './pixels';
export { dot, meanUnitVector, zeroShot } from './scoring';
export type { IndexScore } from './scoring';
export { EXECUTION_DEVICE, failure, withItems } from './types';
export type {
  ClipModelInfo,
  EmbedRequest,
  EmbedRequestItem,
  EmbedRequestKind,
  EmbedResult,
  ExecutionDevice,
  ModelDescription,
} from './types';
