// Embeddings shared by every request: the service (caches, in-flight work, batchers) and the
// batcher's settings.
export { DEFAULT_BATCHER_OPTIONS, type BatcherOptions } from './batcher';
export { EmbeddingService, type Embedded, type EmbeddingInput, type EmbeddingServiceOptions, type InferenceBudget } from './service';
