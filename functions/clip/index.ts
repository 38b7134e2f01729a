// The CLIP core's public surface; everything else in this folder is private to it.
export { ClipModel, DEFAULT_CLIP_MODEL_OPTIONS } from './embed';
export type { ClipModelInfo, ClipModelOptions, EmbedResult } from './embed';
export { ClipErrorCode, ClipInputError, ModelLoadError } from './errors';
export { DEFAULT_IMAGE_LIMITS, decodeAndCrop, sniffImageFormat } from './image-crop';
export type { ImageCrop, ImageFormat, ImageLimits } from './image-crop';
export { MODEL_DTYPES, OPENAI_LOGIT_SCALE, readModelDirectory } from './model-dir';
export type { ClipModelSpec, ImagePreprocessSpec, ModelDtype } from './model-dir';
export { cropByteLength, toPixelValues } from './pixels';
export { dot, meanUnitVector, zeroShot } from './scoring';
export type { LabelScore } from './scoring';
export type { ExecutionDevice } from './sessions';
export { ClipTokenizer } from './tokenizer';
export type { Padding, TokenBatch } from './tokenizer';
