import { check, integer, nonEmpty } from '../../../functions/options';
import { modelKey, StoreError, type VectorModel } from '../port';
import { FIELDS, stringLiteral, tagKey } from './filter';

/** One product's entity in a model's collection, checked against Milvus's limits before it is sent. */

export interface VectorEntry {
  productId: string;
  vector: Float32Array;
  tags: readonly { facet: string; label: string }[];
  attributes: Readonly<Record<string, unknown>> | null;
}

/** Milvus's limits (defaults; Zilliz Cloud keeps them). */
export const MAX_VARCHAR_BYTES = 65_535;
export const MAX_ARRAY_CAPACITY = 4_096;
const MAX_JSON_BYTES = 65_536;
const MAX_DIM = 32_768;
/** Most hits (and rows) one search or query returns. */

export function checkModel(model: VectorModel): void {
  if (typeof model !== 'object' || model === null) throw new TypeError('model must be a VectorModel');
  check('model.name', model.name, nonEmpty);
  check('model.dtype', model.dtype, nonEmpty);
  check('model.dim', model.dim, integer(1, MAX_DIM));
}

export function checkVector(vector: unknown, model: VectorModel, what: string): asserts vector is Float32Array {
  if (!(vector instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
  if (vector.length !== model.dim)
    throw new StoreError(
      'DIMENSION_MISMATCH',
      `${what} has ${vector.length} values; model ${modelKey(model)} makes vectors of ${model.dim}`,
    );
  for (let i = 0; i < vector.length; i++)
    if (!Number.isFinite(vector[i])) throw new TypeError(`${what}[${i}] is ${vector[i]}, not a finite number`);
}

/** The entity of one entry, checked against Milvus's limits with the entry named. */
export function entityOf(entry: VectorEntry, model: VectorModel, what: string): Record<string, unknown> {
  if (typeof entry !== 'object' || entry === null) throw new TypeError(`${what} must be {productId, vector, tags, attributes}`);
  stringLiteral(entry.productId, `${what}.productId`);
  if (entry.productId === '') throw new TypeError(`${what}.productId must not be empty`);
  if (Buffer.byteLength(entry.productId) > MAX_VARCHAR_BYTES)
    throw new RangeError(
      `${what}.productId is ${Buffer.byteLength(entry.productId)} bytes (UTF-8); Milvus keys hold at most ${MAX_VARCHAR_BYTES}`,
    );
  const named = `${what} (product ${JSON.stringify(entry.productId)})`;
  checkVector(entry.vector, model, `${named}.vector`);
  if (!Array.isArray(entry.tags)) throw new TypeError(`${named}.tags must be a list of {facet, label}`);
  const tags = [
    ...new Set(
      entry.tags.map((t, i) => {
        if (typeof t !== 'object' || t === null) throw new TypeError(`${named}.tags[${i}] must be {facet, label}`);
        stringLiteral(t.facet, `${named}.tags[${i}].facet`);
        stringLiteral(t.label, `${named}.tags[${i}].label`);
        const key = tagKey(t.facet, t.label);
        if (Buffer.byteLength(key) > MAX_VARCHAR_BYTES)
          throw new RangeError(`${named}.tags[${i}] is over ${MAX_VARCHAR_BYTES} bytes as stored`);
        return key;
      }),
    ),
  ];
  if (tags.length > MAX_ARRAY_CAPACITY)
    throw new RangeError(`${named} has ${tags.length} tags; Milvus holds at most ${MAX_ARRAY_CAPACITY} per product`);
  const attributes = entry.attributes ?? {};
  if (typeof attributes !== 'object' || Array.isArray(attributes)) throw new TypeError(`${named}.attributes must be an object or null`);
  let json: string;
  try {
    json = JSON.stringify(attributes);
  } catch (error) {
    throw new TypeError(`${named}.attributes cannot be written as JSON: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(json) > MAX_JSON_BYTES)
    throw new RangeError(`${named}.attributes are ${Buffer.byteLength(json)} bytes as JSON; Milvus holds at most ${MAX_JSON_BYTES}`);
  return {
    [FIELDS.id]: entry.productId,
    [FIELDS.vector]: Array.from(entry.vector),
    [FIELDS.tags]: tags,
    [FIELDS.attributes]: JSON.parse(json),
  };
}
