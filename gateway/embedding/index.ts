// Embeddings shared by every request: the service (caches, in-flight work, batchers) and the
// batcher's settings, and the warm-up that measures what an input costs.
export { DEFAULT_BATCHER_OPTIONS, type BatcherOptions } from './batcher';
export { EmbeddingService, type Embedded, type EmbeddingInput, type EmbeddingServiceOptions, type InferenceBudget } from './service';
export { measureInputCost, type MeasuredCost } from './warm-up';
