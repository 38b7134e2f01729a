import { StoreError, type ProductFilter } from '../port';

/** A double-quoted SQL identifier; callers pass only names checked or made by this adapter. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** pgvector's text form, `[0.1,0.2,...]`: exact for float32 both ways (shortest round-trip decimals). */
export function vectorText(vector: Float32Array): string {
  let text = '[';
  for (let i = 0; i < vector.length; i++) text += (i === 0 ? '' : ',') + String(vector[i]);
  return `${text}]`;
}

/** pgvector's text output (`[1,2.5,1e-07]`) is JSON. */
export function parseVector(text: string): Float32Array {
  return Float32Array.from(JSON.parse(text) as number[]);
}

/** The index of the first element that is not a finite number, or -1. */
export function firstNonFinite(vector: Float32Array): number {
  for (let i = 0; i < vector.length; i++) if (!Number.isFinite(vector[i])) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Cursors: base64url of a JSON value (a product id; a tag's key). Opaque to callers.

export function encodeCursor(value: string | string[]): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function badCursor(cursor: string, cause?: unknown): StoreError {
  const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}...` : cursor;
  return new StoreError('BAD_CURSOR', `The cursor ${JSON.stringify(shown)} was not made by this list; pass the endCursor of a page.`, {
    cause,
  });
}

function decodeCursorText(cursor: string): string {
  // Buffer decodes any text, skipping what is not base64: only a canonical encoding is one of ours.
  if (!BASE64URL.test(cursor)) throw badCursor(cursor);
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) throw badCursor(cursor);
  try {
    return strictUtf8.decode(bytes);
  } catch (error) {
    throw badCursor(cursor, error);
  }
}

/** The product id a product cursor names. */
export function decodeIdCursor(cursor: string): string {
  return decodeCursorText(cursor);
}

/** The `length` strings a key cursor names. */
export function decodeKeyCursor(cursor: string, length: number): string[] {
  const text = decodeCursorText(cursor);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badCursor(cursor, error);
  }
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'string')) throw badCursor(cursor);
  return value as string[];
}

// ---------------------------------------------------------------------------------------------
// Statements with numbered parameters

/** Collects parameter values and hands out their `$n` placeholders. */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown, cast = ''): string {
    this.values.push(value);
    return `$${this.values.length}${cast}`;
  }
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

/**
 * The SQL conditions of a filter, ANDed by the caller; empty when it filters nothing.
 * `idColumn` is the product id column of the query (`p.id`, `v.product_id`); `attributesColumn` is
 * `p.attributes` of a products row joined to it, needed only when the filter has attributes.
 */
export function filterConditions(
  filter: ProductFilter,
  params: Params,
  names: { idColumn: string; attributesColumn: string; tags: string },
): string[] {
  const conditions: string[] = [];
  if (filter.ids) conditions.push(`${names.idColumn} = ANY(${params.add(filter.ids, '::text[]')})`);
  for (const t of filter.tags ?? []) {
    conditions.push(
      `EXISTS (SELECT 1 FROM ${names.tags} t WHERE t.product_id = ${names.idColumn} AND t.facet = ${params.add(t.facet)} AND t.label = ${params.add(t.label)})`,
    );
  }
  const attributes = attributeEntries(filter);
  if (attributes.length > 0) {
    // Containment finds the candidates through the GIN index and is equality for scalars; for an
    // array or object value it would also accept a superset, so those are compared whole as well.
    conditions.push(`${names.attributesColumn} @> ${params.add(JSON.stringify(Object.fromEntries(attributes)), '::jsonb')}`);
    for (const [key, value] of attributes) {
      if (!isScalar(value))
        conditions.push(`${names.attributesColumn} -> ${params.add(key)} = ${params.add(JSON.stringify(value), '::jsonb')}`);
    }
  }
  return conditions;
}

/** The attribute conditions that say something (a value of undefined is no condition, as in JSON). */
export function attributeEntries(filter: ProductFilter): [string, unknown][] {
  return Object.entries(filter.attributes ?? {}).filter(([, value]) => value !== undefined);
}
