import { StoreError, type Page } from './port';

/**
 * The stores' page cursors: base64url of the last key of a page (a product id as it is; a tag's
 * key as a JSON array of strings). Opaque to callers, and the same in every adapter. Only a
 * cursor this codec made decodes: Buffer decodes any text, skipping what is not base64, so the
 * text must be canonical base64url of valid UTF-8 (and of the key's shape), or it is refused.
 */

export function encodeCursor(key: string | readonly string[]): string {
  return Buffer.from(typeof key === 'string' ? key : JSON.stringify(key), 'utf8').toString('base64url');
}

/** A page of at most `first` items from `rows` (read with a limit of first + 1), its cursor made from its last item's key. */
export function pageOf<T>(rows: T[], first: number, keyOf: (item: T) => string | readonly string[]): Page<T> {
  const items = rows.slice(0, first);
  const last = items[items.length - 1];
  return { items, hasNextPage: rows.length > first, endCursor: last === undefined ? undefined : encodeCursor(keyOf(last)) };
}

/** The product id a product cursor names. */
export function decodeIdCursor(cursor: string): string {
  return decodeText(cursor);
}

/** The `length` strings a key cursor names. */
export function decodeKeyCursor(cursor: string, length: number): string[] {
  const text = decodeText(cursor);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badCursor(cursor, error);
  }
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'string')) throw badCursor(cursor);
  return value as string[];
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(cursor: string): string {
  if (typeof cursor !== 'string' || !BASE64URL.test(cursor)) throw badCursor(String(cursor));
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) throw badCursor(cursor);
  try {
    return strictUtf8.decode(bytes);
  } catch (error) {
    throw badCursor(cursor, error);
  }
}

function badCursor(cursor: string, cause?: unknown): StoreError {
  const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}...` : cursor;
  return new StoreError('BAD_CURSOR', `The cursor ${JSON.stringify(shown)} was not made by this list; pass the endCursor of a page.`, {
    cause,
  });
}
