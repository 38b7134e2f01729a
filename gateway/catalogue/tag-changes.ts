import { ErrorCode } from '../common/errors';
import type { CatalogueStore, TagChangeRow } from '../store';
import type { Connection, Edge } from './cursor';
import { FieldError, storeCall } from './errors';
import { FOLLOW_INTERVAL_MS, pause, stoppable } from './follow';
import { checkFirst, type CatalogueLimits } from './limits';

/** How many changes a follower reads at once; a full batch is followed by the next at once, without a pause. */
const FOLLOW_BATCH = 100;

/** A change's cursor: its seq, opaque to clients (base64url of its decimal digits). */
export function tagChangeCursor(seq: number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64url');
}

/** The seq a cursor names; anything this gateway did not make is a FieldError naming `field`. */
export function seqOfCursor(cursor: string, field: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const seq = /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(seq) || tagChangeCursor(seq) !== cursor) {
    throw new FieldError(
      [field],
      ErrorCode.BAD_USER_INPUT,
      `${field} is not a cursor this gateway made: ${JSON.stringify(cursor.slice(0, 100))}.`,
    );
  }
  return seq;
}

const edgeOf = (node: TagChangeRow): Edge<TagChangeRow> => ({ cursor: tagChangeCursor(node.seq), node });

/**
 * The feed of tag changes the store's outbox records (see TagChangeRow): read a page at a time, or
 * followed as they are committed. The store, not this process, is where changes are seen: any
 * gateway on it may have made them.
 */
export class TagChanges {
  constructor(
    private readonly store: CatalogueStore,
    private readonly limits: Pick<CatalogueLimits, 'maxFirst'>,
  ) {}

  /** The changes after the cursor (from the first without one), in the order they were committed, `first` at a time. */
  async page(first: number, after?: string): Promise<Connection<TagChangeRow>> {
    checkFirst(first, this.limits);
    const from = after === undefined ? undefined : seqOfCursor(after, 'after');
    const rows = await storeCall(() => this.store.tagChanges(from, first + 1));
    const edges = rows.slice(0, first).map(edgeOf);
    return { edges, hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor };
  }

  /**
   * Every change after the cursor, then each one as it is committed, in order and each once; without
   * a cursor, those committed from now on. A bad cursor fails the first read with BAD_USER_INPUT.
   * Reads the store every `intervalMs` while nothing is new, and stops at once when `signal` aborts
   * or the iterator is returned.
   */
  follow(after: string | undefined, signal?: AbortSignal, intervalMs = FOLLOW_INTERVAL_MS): AsyncIterableIterator<Edge<TagChangeRow>> {
    return stoppable(signal, (stop) => this.changesOf(after, stop, intervalMs));
  }

  private async *changesOf(
    after: string | undefined,
    stop: AbortSignal,
    intervalMs: number,
  ): AsyncGenerator<Edge<TagChangeRow>, undefined> {
    let seq = after === undefined ? await storeCall(() => this.store.lastTagChangeSeq()) : seqOfCursor(after, 'after');
    while (!stop.aborted) {
      const rows = await storeCall(() => this.store.tagChanges(seq, FOLLOW_BATCH));
      for (const row of rows) {
        if (stop.aborted) return undefined;
        seq = row.seq;
        yield edgeOf(row);
      }
      if (rows.length < FOLLOW_BATCH) await pause(intervalMs, stop);
    }
    return undefined;
  }
}
