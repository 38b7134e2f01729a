import { ErrorCode } from '../common/errors';
import type { Page } from '../store';
import { FieldError } from './errors';

/** One item of a page with the cursor that resumes right after it. */
export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  hasNextPage: boolean;
  /** Undefined when `edges` is empty. */
  endCursor?: string;
}

/**
 * The store gives a cursor for the end of a page only; a Relay connection wants one per edge. A
 * gateway cursor is the store's cursor where its page began plus how many items of it to skip,
 * so any edge's cursor resumes right after that edge, whatever the store's cursors look like.
 */
interface Position {
  /** The store cursor the page was read after (absent: the beginning). */
  a?: string;
  /** Items to skip after it. */
  s: number;
}

function encode(position: Position): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

function decode(cursor: string, field: string, maxSkip: number): Position {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const position = value as Position | undefined;
  if (
    typeof position !== 'object' ||
    position === null ||
    !(position.a === undefined || typeof position.a === 'string') ||
    !Number.isInteger(position.s) ||
    position.s < 0 ||
    position.s > maxSkip
  ) {
    throw new FieldError(
      [field],
      ErrorCode.BAD_USER_INPUT,
      `${field} is not a cursor this gateway made: ${JSON.stringify(cursor.slice(0, 100))}.`,
    );
  }
  return position;
}

/** A page of `first` items after a gateway cursor, read from a store page reader. */
export async function readConnection<T>(
  read: (first: number, after?: string) => Promise<Page<T>>,
  first: number,
  after: string | undefined,
  options: { field: string; maxFirst: number },
): Promise<Connection<T>> {
  const start = after === undefined ? { s: 0 } : decode(after, options.field, options.maxFirst);
  const page = await read(first + start.s, start.a);
  const items = page.items.slice(start.s);
  const edges = items.map((node, i) => ({ node, cursor: encode({ a: start.a, s: start.s + i + 1 }) }));
  return {
    edges,
    hasNextPage: page.hasNextPage,
    endCursor:
      edges.length === 0 ? undefined : page.endCursor !== undefined ? encode({ a: page.endCursor, s: 0 }) : edges[edges.length - 1].cursor,
  };
}
