/** The SQLite adapter's pure pieces: filters as SQL, cursors, vector blobs, attribute JSON, error mapping. */
import { StoreError, type ProductFilter, type VectorModel } from '../port';
import { modelKey } from '../port';

// ---------------------------------------------------------------------------------------------
// Filters

/** SQL conditions on `products p`, ANDed, with their parameters in order. */
export interface Conditions {
  sql: string[];
  params: unknown[];
}

/** True when the filter names at least one condition. */
export function hasConditions(filter: ProductFilter | undefined): filter is ProductFilter {
  if (!filter) return false;
  return (
    filter.ids !== undefined ||
    (filter.tags !== undefined && filter.tags.length > 0) ||
    (filter.attributes !== undefined && Object.values(filter.attributes).some((v) => v !== undefined))
  );
}

/**
 * The filter as conditions on `products p`. Attributes (stored as JSONB) compare as JSON: the value
 * at the key, rendered as JSON text, must equal the filter's value rendered the same way, so 42
 * matches the number 42, not the string "42", and true matches true, not 1. Objects compare with
 * their keys sorted on both sides.
 */
export function filterConditions(filter: ProductFilter | undefined): Conditions {
  const sql: string[] = [];
  const params: unknown[] = [];
  if (!filter) return { sql, params };
  if (filter.ids !== undefined) {
    if (filter.ids.length === 0) sql.push('0');
    else {
      sql.push('p.id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.ids));
    }
  }
  for (const { facet, label } of filter.tags ?? []) {
    sql.push('EXISTS (SELECT 1 FROM tags t WHERE t.product_id = p.id AND t.facet = ? AND t.label = ?)');
    params.push(facet, label);
  }
  for (const [key, value] of Object.entries(filter.attributes ?? {})) {
    if (value === undefined) continue;
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new TypeError(`filter.attributes[${JSON.stringify(key)}] must be a JSON value, got ${value}`);
    if (typeof value === 'function' || typeof value === 'bigint' || typeof value === 'symbol') {
      throw new TypeError(`filter.attributes[${JSON.stringify(key)}] must be a JSON value, got a ${typeof value}`);
    }
    if (/["\\]/.test(key)) {
      // A JSON path cannot name a key holding a quote or a backslash: find it among the object's entries.
      const [test, ...values] = jsonEachTest(value);
      sql.push(`EXISTS (SELECT 1 FROM json_each(p.attributes) a WHERE a.key = ? AND ${test})`);
      params.push(key, ...values);
    } else {
      // The fast path (one JSONB lookup per row); json(?) is constant, computed once per query.
      sql.push('p.attributes -> ? = json(?)');
      params.push(`$."${key}"`, canonicalJson(value));
    }
  }
  return { sql, params };
}

/** A test on `json_each`'s row `a` that its value equals `value` as JSON, and its parameters. */
function jsonEachTest(value: unknown): [string, ...unknown[]] {
  if (value === null) return ["a.type = 'null'"];
  if (value === true) return ["a.type = 'true'"];
  if (value === false) return ["a.type = 'false'"];
  if (typeof value === 'string') return ["a.type = 'text' AND a.atom = ?", value];
  if (typeof value === 'number') return ["a.type IN ('integer', 'real') AND a.atom = ?", value];
  return ['a.type = ? AND json(a.value) = json(?)', Array.isArray(value) ? 'array' : 'object', canonicalJson(value)];
}

/** JSON with every object's keys sorted, so equal objects have equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

export function where(conditions: string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}

// ---------------------------------------------------------------------------------------------
// Cursors: base64url of the last key; anything that does not round-trip is refused.

export function encodeCursor(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encodeCursor(text) !== cursor) throw new StoreError('BAD_CURSOR', `after: ${JSON.stringify(cursor)} is not a cursor this store made`);
  return text;
}

/** A cursor over tags: the last (productId, facet, label). */
export function decodeTagCursor(cursor: string): [string, string, string] {
  let key: unknown;
  try {
    key = JSON.parse(decodeCursor(cursor));
  } catch (error) {
    if (error instanceof StoreError) throw error;
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== 3 || !key.every((part) => typeof part === 'string')) {
    throw new StoreError('BAD_CURSOR', `after: ${JSON.stringify(cursor)} is not a cursor this store made`);
  }
  return key as [string, string, string];
}

// ---------------------------------------------------------------------------------------------
// Vectors

/** The vector's bytes, as vec0 takes them (little-endian float32, as on every platform Node runs on). */
export function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** A copy (a Buffer from SQLite may sit at any byte offset, and is not ours to keep). */
export function fromBlob(blob: Buffer): Float32Array {
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}

/** Throws DIMENSION_MISMATCH naming the model and both sizes unless every vector has `model.dim` values. */
export function checkDims(model: VectorModel, vectors: Iterable<{ vector: Float32Array }>, what: string): void {
  let i = 0;
  for (const { vector } of vectors) {
    if (!(vector instanceof Float32Array)) throw new TypeError(`${what}[${i}].vector must be a Float32Array`);
    if (vector.length !== model.dim) {
      throw new StoreError(
        'DIMENSION_MISMATCH',
        `${what}[${i}] has ${vector.length} values, but model ${modelKey(model)} makes vectors of ${model.dim}; nothing was written`,
      );
    }
    i++;
  }
}

/**
 * Throws unless every vector has finite values and a length above zero: cosine similarity is
 * undefined for the zero vector (SQLite would give a NULL distance, and the product would sort first).
 */
export function checkSearchable(vectors: Iterable<{ vector: Float32Array }>, what: string): void {
  let i = 0;
  for (const { vector } of vectors) {
    let norm = 0;
    for (const x of vector) norm += x * x;
    if (!Number.isFinite(norm) || norm === 0) {
      throw new TypeError(`${what}[${i}] must have finite values and a length above zero: cosine similarity is undefined for it`);
    }
    i++;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** SQLite result codes (extended codes start with these) that mean the database cannot be used now. */
const UNUSABLE: [prefix: string, what: string][] = [
  ['SQLITE_BUSY', 'the catalogue database is locked by another connection and stayed locked past the busy timeout'],
  ['SQLITE_LOCKED', 'the catalogue database is locked'],
  ['SQLITE_FULL', 'the catalogue database, or the disk holding it, is full'],
  ['SQLITE_CANTOPEN', 'the catalogue database file cannot be opened'],
  ['SQLITE_READONLY', 'the catalogue database is read-only'],
  ['SQLITE_CORRUPT', 'the catalogue database file is corrupt'],
  ['SQLITE_NOTADB', 'the catalogue database file is not an SQLite database'],
  ['SQLITE_IOERR', 'reading or writing the catalogue database failed'],
  ['SQLITE_PERM', 'the catalogue database file may not be accessed'],
  ['SQLITE_NOMEM', 'SQLite ran out of memory'],
  ['SQLITE_PROTOCOL', 'the catalogue database lock protocol failed'],
];

/** The error a caller gets for `error`, thrown while doing `doing` ("upsertProducts"), a write when `writes`. */
export function storeError(error: unknown, doing: string, writes: boolean): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const match = UNUSABLE.find(([prefix]) => code.startsWith(prefix));
    if (match)
      return new StoreError('STORE_UNAVAILABLE', `${doing} failed: ${match[1]} (${code})${writes ? '; nothing was written' : ''}`, {
        cause: error,
      });
  }
  if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
    return new StoreError('STORE_UNAVAILABLE', `${doing} failed: the catalogue store is closed`, { cause: error });
  }
  return error;
}
