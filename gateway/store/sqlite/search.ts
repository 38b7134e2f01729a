import { check, nonNegativeInt } from '../../../functions/options';
import { checkVector, checkVectorModel } from '../checks';
import { hasConditions, where } from '../filter';
import { byDistanceThenId, hitsOf, type Neighbour } from '../order';
import { modelKey, type Hit, type ProductFilter, type VectorModel } from '../port';
import { Part } from '../composed';
import type { Connection } from './connection';
import { attributeTestByPk, filterConditions, matchingPks, type Conditions } from './filters';
import { DOES_NOT, FilterMemory, MATCHES, UNKNOWN, type FilterKnowledge } from './filter-memory';
import type { Graph } from './hnsw/graph';
import type { SearchIndexes } from './hnsw/indexes';
import { toBlob, type ModelTables, type Vectors } from './vectors';

/**
 * The largest filtered candidate set scored one by one (point lookups of each candidate's vector
 * and an exact `vec_distance_cosine`); above it, a vec0 KNN query with a `rowid IN (candidates)`
 * constraint. Both are exact and apply the filter before choosing the k best, so both return
 * min(k, matching) hits; they differ in cost. Point lookups cost ~7 µs per candidate at 512 dims,
 * while a constrained KNN still walks every chunk of the table (~15 ms at 100k products whatever
 * the filter): lookups win below a few thousand candidates.
 */
const EXACT_SCAN_MAX_CANDIDATES = 1000;
/** vec0 refuses a KNN query for more neighbours than this; larger k are answered by an exact scan. */
export const KNN_MAX_K = 4096;
/** Products a filter is checked on to estimate the share it matches. */
const FILTER_SAMPLE = 64;
/**
 * Products checked in all when the first sample's share is near WALK_FILTERED_ABOVE: 64 products
 * send a filter matching 1% down the walk one time in seven (two hits make 3.1%), where it takes
 * ten times as long; 256 do it about one time in three hundred.
 */
const FILTER_SAMPLE_NEAR_THRESHOLD = 256;
/** Up to about this many matching products, a filtered walk lists them first; above, it checks each product it meets. */
const LIST_MATCHING_UP_TO = 25_000;
/**
 * A filter matching at least this share of the products is applied during the HNSW walk; a more
 * selective one by ranking the 8-bit codes of the products it matches (see throughGraph).
 */
const WALK_FILTERED_ABOVE = 0.03;
/**
 * Products ranked best by their codes that are scored exactly, per hit asked for: the codes' order
 * is off by about 1e-3 of cosine similarity, so the k nearest are nearly always among the first 4(k + 1).
 */
const CODE_CANDIDATES_PER_HIT = 4;
/** An approximate search takes at least this many candidates per hit asked for. */
const APPROXIMATE_CANDIDATES_PER_HIT = 10;

/** See SqliteStoreOptions.approximateSearchAbove, approximateSearchCandidates and searchIndexEf. */
export interface SearchTuning {
  approximateAbove: number;
  approximateCandidates: number;
  /** The HNSW search's beam width (at least k + 1; half this under a filter). */
  indexEf: number;
}

export class Search extends Part<Connection, { vectors: Vectors; tuning: SearchTuning; indexes: SearchIndexes }> {
  /**
   * How searches above the exact threshold were answered: through the HNSW graph (`codes` of them by
   * ranking a selective filter's products by their codes), or (while it is made) the binary copy.
   */
  readonly approximate = { graph: 0, codes: 0, binary: 0 };
  /** Products checked against a filter by a query during walks (see FilterMemory for the rest). */
  filterChecks = 0;
  private readonly memory = new FilterMemory(this.c);

  /**
   * Makes the model's HNSW graph if its searches are approximate (more than `approximateSearchAbove`
   * vectors) and resolves once it is current: searches until then take the binary copy.
   */
  async prepareSearch(model: VectorModel): Promise<void> {
    checkVectorModel(model);
    const tables = await this.c.run('preparing the search index', 'read', () => this.uses.vectors.tablesOf(model));
    if (tables && tables.count > this.uses.tuning.approximateAbove) await this.uses.indexes.prepare(tables, modelKey(model));
  }

  /**
   * Exact search up to `approximateSearchAbove` product vectors of the model; above it, see
   * "Approximate" below. Either way the filter is applied before the k best are chosen, never
   * after, so a selective filter still yields min(k, matching) hits.
   *
   * - No filter: a vec0 KNN query.
   * - A filter: its candidates are found with SQL first. Up to EXACT_SCAN_MAX_CANDIDATES of them
   *   are scored one by one (a point lookup of each vector, `vec_distance_cosine`, ORDER BY in
   *   SQL); more go into the KNN query as a `rowid IN (SELECT ...)` constraint, which vec0 applies
   *   while it scans.
   * - k above vec0's KNN limit: an exact scan of the whole table.
   *
   * Ties are broken by product id: a KNN query is asked for one row more than k, and for more
   * while that row ties the k-th, so that no tied product is cut arbitrarily.
   *
   * Approximate (a model above `approximateSearchAbove` vectors, no filter or one matching more
   * than EXACT_SCAN_MAX_CANDIDATES): the model's HNSW graph (hnsw/) gives k + 1 candidates, under a
   * filter matching at least WALK_FILTERED_ABOVE of the products too; under a more selective one,
   * the graph's 8-bit codes of every matching product rank them (see throughGraph); what a search
   * learns of a filter serves the next ones under it until what it reads changes (filter-memory.ts).
   * Otherwise (no graph yet, or the graph's answer in doubt) a scan of the
   * binary-quantized vectors (Hamming distance, 64 bytes a vector at 512 dims instead of 2 KiB),
   * joined to the filter's products if any, takes the max(approximateSearchCandidates, 10 × k)
   * nearest as candidates. Either way the candidates are rescored with `vec_distance_cosine` on the
   * float vectors and the k best returned: the scores are exact; the set may miss a neighbour the
   * graph or the quantization did not reach (recall@20 in BENCHMARKS.md §6.3).
   */
  async searchProducts(model: VectorModel, query: Float32Array, k: number, filter?: ProductFilter): Promise<Hit[]> {
    checkVectorModel(model);
    check('k', k, nonNegativeInt);
    checkVector(model, query, 'query', true);
    return this.c.run('searchProducts', 'read', () => {
      const tables = this.uses.vectors.tablesOf(model);
      if (!tables || k === 0) return [];
      const q = toBlob(query);
      const filtered = hasConditions(filter);
      const { sql, params } = filterConditions(filtered ? filter : undefined);

      if (filtered) {
        const candidates = this.c
          .sql(`SELECT p.pk FROM products p ${where(sql)} LIMIT ?`)
          .pluck()
          .all(...params, EXACT_SCAN_MAX_CANDIDATES + 1) as number[];
        if (candidates.length === 0) return [];
        if (candidates.length <= EXACT_SCAN_MAX_CANDIDATES) {
          return this.rescore(tables, q, candidates, k);
        }
      }
      const graph = tables.count > this.uses.tuning.approximateAbove ? this.uses.indexes.current(tables, modelKey(model)) : undefined;
      if (graph) {
        const hits = this.throughGraph(graph, query, k, filtered ? filter : undefined);
        if (hits) {
          this.approximate.graph++;
          return hits;
        }
      }
      // Under a filter the k nearest matching products lie farther out, where the sign bits rank
      // less well: twice the candidates (recall@20 0.945 → 0.98 at 100k with a 10% filter).
      const candidates = Math.max(this.uses.tuning.approximateCandidates * (filtered ? 2 : 1), k * APPROXIMATE_CANDIDATES_PER_HIT);
      if (tables.binary && tables.count > this.uses.tuning.approximateAbove && candidates <= KNN_MAX_K) {
        const pks = this.c
          .sql(
            filtered
              ? `SELECT b.pk FROM products p CROSS JOIN ${tables.binary} b ON b.pk = p.pk ${where(sql)}
               ORDER BY vec_distance_hamming(vec_bit(b.bits), vec_quantize_binary(?)) LIMIT ?`
              : `SELECT b.pk FROM ${tables.binary} b ORDER BY vec_distance_hamming(vec_bit(b.bits), vec_quantize_binary(?)) LIMIT ?`,
          )
          .pluck()
          .all(...params, q, candidates) as number[];
        if (tables.count > this.uses.tuning.approximateAbove) this.approximate.binary++;
        return graph ? this.rescoreInGraph(graph, query, pks, k) : this.rescore(tables, q, pks, k);
      }
      const scored = k >= KNN_MAX_K ? this.exact(tables, q, k, filtered, sql, params) : this.knn(tables, q, k, filtered, sql, params);
      return hitsOf(scored.sort(byDistanceThenId).slice(0, k));
    });
  }

  /**
   * The k nearest through the HNSW graph, rescored exactly (scores and ties as an exact search gives
   * them), or undefined for the caller's other paths: when the graph found fewer than k while more
   * may exist, or when the k-th ties the next. Under a filter (in its `row` form) the walk follows
   * links through every product but keeps only matching ones; a filter matching too few for a walk
   * has its products ranked by their codes.
   */
  private throughGraph(graph: Graph, query: Float32Array, k: number, filter?: ProductFilter): Hit[] | undefined {
    const { indexEf } = this.uses.tuning;
    let found: number[];
    let exist: number;
    let byCode = false;
    if (!filter) {
      found = graph.search(query, k + 1, indexEf).map((hit) => hit.pk);
      exist = graph.size;
    } else {
      const row = filterConditions(filter, 'row');
      const top = this.c.sql('SELECT max(pk) FROM products').pluck().get() as number;
      const reads = (filter.tags ?? []).length > 0 ? 'everything' : 'products';
      const known = this.memory.of(`${row.sql.join(' AND ')}\0${JSON.stringify(row.params)}`, top, reads);
      known.share ??= this.matchingShare(row);
      const matching = known.share * graph.size;
      const { answers } = known;
      if (matching < graph.size * WALK_FILTERED_ABOVE) {
        // Few match: a walk would pass by many products for each one it keeps (at 1% of a million,
        // 44 ms for a recall of 0.95). Every matching product, listed by the filter's indexes, is
        // ranked by its vector's 8-bit code instead, and the best few are scored exactly below.
        found = graph.nearestByCode(query, this.listed(filter, known), (k + 1) * CODE_CANDIDATES_PER_HIT);
        byCode = true;
        // Fewer than asked: every matching product with a vector is among them.
        exist = found.length;
      } else {
        let allowed: (pk: number) => boolean;
        if (matching <= LIST_MATCHING_UP_TO) {
          // Listing them costs ~0.5 µs a product: a bitmap the walk looks up for nothing.
          this.listed(filter, known);
          allowed = (pk) => pk < answers.length && answers[pk] === MATCHES;
        } else {
          // Too many to list: each product the walk meets is checked (a point query, ~8 µs, tens
          // once the file is cold), a cost that depends on the walk's length, not the catalogue's;
          // the answers are kept for the next searches under the filter (filter-memory.ts).
          const byPk = attributeTestByPk(filter);
          const { sql, params } = byPk ?? {
            sql: `SELECT 1 FROM products p WHERE p.pk = @pk AND ${row.sql.join(' AND ')}`,
            params: row.params,
          };
          const matches = this.c.sql(sql).pluck();
          const check = (pk: number) => {
            this.filterChecks++;
            return matches.get(...params, { pk }) !== undefined;
          };
          allowed = (pk) => {
            if (pk >= answers.length) return check(pk);
            if (answers[pk] === UNKNOWN) answers[pk] = known.pks ? DOES_NOT : check(pk) ? MATCHES : DOES_NOT;
            return answers[pk] === MATCHES;
          };
        }
        found = graph.search(query, k + 1, Math.max(indexEf / 2, k + 1), allowed).map((hit) => hit.pk);
        // Fewer than k found: whether more match is not known here; the caller's path decides.
        exist = found.length >= k ? k : Infinity;
      }
    }
    if (found.length < Math.min(k, exist)) return undefined;
    // One more than k, scored exactly: when it ties the k-th, which of the tied products come first
    // (lowest ids) is decided by the exact search, which sees all of them.
    const hits = this.rescoreInGraph(graph, query, found, k + 1);
    if (hits.length > k && hits[k].score === hits[k - 1].score) return undefined;
    if (byCode) this.approximate.codes++;
    return hits.slice(0, k);
  }

  /** The pks of the products the filter matches, listed once while what it reads stays as it is, and marked in its answers. */
  private listed(filter: ProductFilter, known: FilterKnowledge): number[] {
    if (!known.pks) {
      known.pks = this.matchingProducts(filter);
      for (const pk of known.pks) if (pk < known.answers.length) known.answers[pk] = MATCHES;
    }
    return known.pks;
  }

  /**
   * The pks of the products the filter matches, read from its indexes as one JSON array: better-sqlite3
   * hands out a long list's rows at ~0.2 µs each, where SQLite's json_group_array and JSON.parse
   * take about 60% of that (100,000 pks of a million products: 12–23 ms against 19–33).
   */
  private matchingProducts(filter: ProductFilter): number[] {
    const { sql, params } = matchingPks(filter);
    return JSON.parse(
      this.c
        .sql(`SELECT json_group_array(pk) FROM (${sql})`)
        .pluck()
        .get(...params) as string,
    ) as number[];
  }

  /**
   * About what share of the products the filter matches: checked on FILTER_SAMPLE products (more
   * when that is near WALK_FILTERED_ABOVE) picked at random by pk (a pk is a point in the key's
   * range; the product at or after it is checked).
   */
  private matchingShare(filter: Conditions): number {
    // Apart: SQLite reads min() or max() of a key from one end of it, but both together by a scan.
    const lo = this.c.sql('SELECT min(pk) FROM products').pluck().get() as number | null;
    const hi = this.c.sql('SELECT max(pk) FROM products').pluck().get() as number | null;
    if (lo === null || hi === null) return 0;
    const at = this.c.sql('SELECT pk FROM products WHERE pk >= ? ORDER BY pk LIMIT 1').pluck();
    // 1 or 0 for a product, nothing where no product has the pk: one lookup of the product where
    // there is one (most pks; at a million products each random lookup can cost tens of µs).
    const matches = this.c.sql(`SELECT ${filter.sql.map((c) => `(${c})`).join(' AND ')} FROM products p WHERE p.pk = ?`).pluck();
    let hits = 0;
    let checked = 0;
    const sample = (n: number) => {
      for (; checked < n; checked++) {
        const pk = lo + Math.floor(Math.random() * (hi - lo + 1));
        const match = (matches.get(...filter.params, pk) ?? matches.get(...filter.params, at.get(pk))) as number;
        if (match) hits++;
      }
      return hits / checked;
    };
    const share = sample(FILTER_SAMPLE);
    return share >= (WALK_FILTERED_ABOVE * 2) / 3 && share < WALK_FILTERED_ABOVE * 2 ? sample(FILTER_SAMPLE_NEAR_THRESHOLD) : share;
  }

  /** The k nearest through vec0's KNN query, asked for more while the row after the k-th ties it (then ties go by id). */
  private knn(tables: ModelTables, q: Buffer, k: number, filtered: boolean, sql: string[], params: unknown[]): Neighbour[] {
    const constraint = filtered ? `AND v.rowid IN (SELECT p.pk FROM products p ${where(sql)})` : '';
    const nearest = (n: number) =>
      this.c
        .sql(
          `SELECT p.id AS productId, knn.distance AS distance
           FROM (SELECT v.rowid AS pk, v.distance AS distance FROM ${tables.product} v WHERE v.embedding MATCH ? AND k = ? ${constraint}) knn
           JOIN products p ON p.pk = knn.pk`,
        )
        .all(q, n, ...params) as Neighbour[];
    for (let n = k + 1; ; n = Math.min(n * 2, KNN_MAX_K)) {
      const rows = nearest(n).sort(byDistanceThenId);
      if (rows.length < n || rows[n - 1].distance !== rows[k - 1].distance) return rows;
      if (n === KNN_MAX_K) return this.exact(tables, q, k, filtered, sql, params);
    }
  }

  /** Every (filtered) product's distance, computed: the k nearest, ties by id. */
  private exact(tables: ModelTables, q: Buffer, k: number, filtered: boolean, sql: string[], params: unknown[]): Neighbour[] {
    return this.c
      .sql(
        `SELECT p.id AS productId, vec_distance_cosine(v.embedding, ?) AS distance
         FROM ${tables.product} v CROSS JOIN products p ON p.pk = v.rowid ${filtered ? where(sql) : ''}
         ORDER BY distance, p.id LIMIT ?`,
      )
      .all(q, ...params, k) as Neighbour[];
  }

  /** The k of these products nearest to the query, scored exactly on the graph's copy of their vectors, ties by id. */
  private rescoreInGraph(graph: Graph, query: Float32Array, pks: number[], k: number): Hit[] {
    const scored = graph.distances(query, pks);
    const ids = new Map(
      (
        this.c
          .sql('SELECT p.pk AS pk, p.id AS id FROM json_each(?) c CROSS JOIN products p ON p.pk = c.value')
          .all(JSON.stringify(scored.map((s) => s.pk))) as { pk: number; id: string }[]
      ).map((row) => [row.pk, row.id]),
    );
    const neighbours: Neighbour[] = scored.map(({ pk, distance }) => ({ productId: ids.get(pk)!, distance }));
    return hitsOf(neighbours.sort(byDistanceThenId).slice(0, k));
  }

  /** The k of these products nearest to q, scored exactly, one vec0 point lookup each. */
  private rescore(tables: ModelTables, q: Buffer, pks: number[], k: number): Hit[] {
    // CROSS JOIN fixes the loop order: candidates outside, one vec0 point lookup each.
    return hitsOf(
      this.c
        .sql(
          `SELECT p.id AS productId, vec_distance_cosine(v.embedding, ?) AS distance
         FROM json_each(?) c CROSS JOIN ${tables.product} v ON v.rowid = c.value CROSS JOIN products p ON p.pk = c.value
         ORDER BY distance, p.id LIMIT ?`,
        )
        .all(q, JSON.stringify(pks), k) as Neighbour[],
    );
  }
}
