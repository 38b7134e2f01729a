import { checkVectors } from './checks';
import { modelKey, StoreError, type VectorModel } from './port';

/**
 * The port's label vectors: the vectors of label prompts per model and exact prompt text, so that a
 * prompt is embedded once per model, whatever the taxonomy version and however often the gateway
 * restarts. Read by key, never searched. Below it, what both adapters' parts share: the checks of a
 * write, the vector's bytes as both engines keep them (raw little-endian float32, so a vector read
 * back is bitwise the one written), and the cutting of long lists into chunks.
 */

/** Refuses rows whose text is not a string or whose vector is not `model.dim` finite numbers, before anything is written. */
export function checkLabelVectors(model: VectorModel, rows: readonly { text: string; vector: Float32Array }[]): void {
  if (!Array.isArray(rows)) throw new TypeError('rows must be an array of { text, vector }');
  rows.forEach((row, i) => {
    if (typeof row?.text !== 'string') throw new TypeError(`rows[${i}].text must be a string, got ${typeof row?.text}`);
  });
  // Label vectors are read by text, never searched: a zero vector is stored as any other.
  checkVectors(model, rows, 'rows', false);
}

/** Refuses a list of texts to look up that holds anything but strings. */
export function checkTexts(texts: readonly string[]): void {
  if (!Array.isArray(texts)) throw new TypeError('texts must be an array of strings');
  texts.forEach((text, i) => {
    if (typeof text !== 'string') throw new TypeError(`texts[${i}] must be a string, got ${typeof text}`);
  });
}

/** DIMENSION_MISMATCH for a model whose key holds vectors of another size than it was given with. */
export function labelDimensionMismatch(model: VectorModel, storedDim: number): StoreError {
  return new StoreError(
    'DIMENSION_MISMATCH',
    `model ${modelKey(model)} holds label vectors of ${storedDim} values, but was given as ${model.dim}`,
  );
}

/** The vector's bytes (little-endian float32, as on every platform Node runs on), without copying. */
export function float32Bytes(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** A copy of the bytes as float32 (a Buffer from a driver may sit at any byte offset, and is not ours to keep). */
export function float32Of(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** `items` cut into consecutive slices of at most `size`. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Lets timers and I/O run between two chunks of a long synchronous job (better-sqlite3 blocks the event loop). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
