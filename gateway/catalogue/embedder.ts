/**
 * What the catalogue asks of the embedding service (gateway/embedding's EmbeddingService is one),
 * and nothing more: vectors for label prompts, queries and product images, and which model makes
 * them.
 */
export interface Embedder {
  readonly model: { readonly info: { name: string; dim: number; dtype: string; logitScale: number } };
  embedText(text: string, signal?: AbortSignal): Promise<Float32Array>;
  /**
   * Encoded image bytes in. `sha256` is their SHA-256 (hex) when the caller has it already: the
   * catalogue hashes every image it stores, so the bytes need not be hashed again for the cache.
   */
  embedImage(bytes: Uint8Array, signal?: AbortSignal, sha256?: string): Promise<Float32Array>;
}
