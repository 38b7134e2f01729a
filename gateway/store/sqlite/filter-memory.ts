import type { Connection } from './connection';

/**
 * What searches have learnt of a filter, kept until the database next changes. A filter matching
 * many products is checked product by product as the HNSW walk meets them, each check a point query
 * (tens of µs once the file is cold, at a million products); searches under the same filter (a
 * shop's category, a brand) meet many of the same products (the graph's upper layers and hubs,
 * neighbouring queries). So each filter's answers are kept, one byte a product (1 MB a million
 * products), with its estimated share and its list of matching products when one was read, for
 * the last FILTERS_REMEMBERED filters; all of it is dropped at any change to the database, this
 * connection's (SQLite's total_changes()) or another's (PRAGMA data_version), read in the
 * search's own transaction.
 */

/** Filters remembered at once (a byte a product each). */
const FILTERS_REMEMBERED = 8;

/** A byte of `answers`: not checked yet, matches, does not. */
export const UNKNOWN = 0;
export const MATCHES = 1;
export const DOES_NOT = 2;

export interface FilterKnowledge {
  /** By pk (up to the products' largest pk when first asked): UNKNOWN, MATCHES or DOES_NOT. */
  answers: Uint8Array;
  /** The share of the products the filter matches, as last estimated. */
  share?: number;
  /** Every matching product's pk, once listed (all of them marked MATCHES: an UNKNOWN one does not match). */
  pks?: number[];
}

export class FilterMemory {
  private token = '';
  /** In the order last used, the least recently used first. */
  private readonly filters = new Map<string, FilterKnowledge>();

  constructor(private readonly c: Connection) {}

  /**
   * What is known of the filter named by `key` (its SQL and parameters) in the current read, made
   * empty (for pks up to `top`) if nothing is, or if the database changed since it was learnt.
   */
  of(key: string, top: number): FilterKnowledge {
    const changed = this.c.sql('PRAGMA data_version').pluck().get() as number;
    const own = this.c.sql('SELECT total_changes()').pluck().get() as number;
    const token = `${changed}:${own}`;
    if (token !== this.token) {
      this.filters.clear();
      this.token = token;
    }
    let known = this.filters.get(key);
    this.filters.delete(key);
    if (!known || known.answers.length <= top) known = { answers: new Uint8Array(top + 1) };
    this.filters.set(key, known);
    for (const oldest of this.filters.keys()) {
      if (this.filters.size <= FILTERS_REMEMBERED) break;
      this.filters.delete(oldest);
    }
    return known;
  }
}
