import type { Connection } from './connection';

/**
 * What searches have learnt of a filter, kept until what it reads next changes. A filter matching
 * many products is checked product by product as the HNSW walk meets them, each check a point query
 * (tens of µs once the file is cold, at a million products); searches under the same filter (a
 * shop's category, a brand) meet many of the same products (the graph's upper layers and hubs,
 * neighbouring queries). So each filter's answers are kept, one byte a product (1 MB a million
 * products), with its estimated share and its list of matching products when one was read, for
 * the last FILTERS_REMEMBERED filters. A filter of attributes and ids reads the products alone: its
 * answers are dropped when the products' version moves (a trigger on every write of the products,
 * schema.ts), and outlive the writes of tags, jobs and webhooks that a busy catalogue makes all the
 * time. A filter of tags is dropped at any change to the database, this connection's (SQLite's
 * total_changes()) or another's (PRAGMA data_version). Either is read in the search's own transaction.
 */

/** Filters remembered at once (a byte a product each). */
const FILTERS_REMEMBERED = 8;

/** A byte of `answers`: not checked yet, matches, does not. */
export const UNKNOWN = 0;
export const MATCHES = 1;
export const DOES_NOT = 2;

export interface FilterKnowledge {
  /** The state of the database it was learnt in: while the search's reads give the same, it holds. */
  token: string;
  /** By pk (up to the products' largest pk when first asked): UNKNOWN, MATCHES or DOES_NOT. */
  answers: Uint8Array;
  /** The share of the products the filter matches, as last estimated. */
  share?: number;
  /** Every matching product's pk, once listed (all of them marked MATCHES: an UNKNOWN one does not match). */
  pks?: number[];
}

export class FilterMemory {
  /** In the order last used, the least recently used first. */
  private readonly filters = new Map<string, FilterKnowledge>();

  constructor(private readonly c: Connection) {}

  /**
   * What is known of the filter named by `key` (its SQL and parameters) in the current read, made
   * empty (for pks up to `top`) if nothing is, or if what it `reads` changed since it was learnt.
   */
  of(key: string, top: number, reads: 'products' | 'everything'): FilterKnowledge {
    const token = reads === 'products' ? `products ${this.productsVersion()}` : this.databaseToken();
    let known = this.filters.get(key);
    this.filters.delete(key);
    if (!known || known.token !== token || known.answers.length <= top) known = { token, answers: new Uint8Array(top + 1) };
    this.filters.set(key, known);
    for (const oldest of this.filters.keys()) {
      if (this.filters.size <= FILTERS_REMEMBERED) break;
      this.filters.delete(oldest);
    }
    return known;
  }

  private productsVersion(): number {
    return this.c.sql("SELECT version FROM catalogue_versions WHERE name = 'products'").pluck().get() as number;
  }

  /** Moves at any commit: another connection's (data_version) or this one's (total_changes()). */
  private databaseToken(): string {
    const changed = this.c.sql('PRAGMA data_version').pluck().get() as number;
    const own = this.c.sql('SELECT total_changes()').pluck().get() as number;
    return `database ${changed}:${own}`;
  }
}
