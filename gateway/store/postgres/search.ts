import type { PoolClient } from 'pg';

import { check, nonNegativeInt } from '../../../functions/options';
import { checkVector, checkVectorModel } from '../checks';
import { attributeEntries, where } from '../filter';
import { byDistanceThenId, hitsOf, type Neighbour } from '../order';
import type { Hit, ProductFilter, VectorModel } from '../port';
import { Part } from '../composed';
import type { Connection, PostgresStoreOptions } from './connection';
import { filterConditions, Params } from './filters';
import { ITERATIVE_SCAN_PGVECTOR, MAX_DIM, versionAtLeast } from './schema';
import { vectorText, type ModelTable, type Vectors } from './vectors';

/**
 * Search goes through the HNSW index with pgvector's iterative index scans (0.8+, strict order), so
 * a filter applied after the index no longer leaves fewer than k hits while more exist. When the
 * index still returns fewer than k (the filter matches fewer than k products, or the scan reached
 * `maxScanTuples`), or the filter names ids, the search is an exact scan of the filtered candidates:
 * always min(k, matching) hits. Ties are broken by product id, exactly, also across the k-th place.
 */

export type SearchSettings = Pick<PostgresStoreOptions, 'maxScanTuples' | 'efSearch' | 'exactSearchMatching'>;

export class Search extends Part<Connection, { vectors: Vectors; settings: SearchSettings }> {
  /** How searches were answered: through the index alone, by an exact scan, or the index then an exact scan. */
  readonly searches = { index: 0, exact: 0, fallback: 0 };
  /** Whether the server's pgvector has iterative index scans; learnt at migrate() or on first use. */
  private iterativeScan?: boolean;

  /** Takes note of the server's pgvector version (see Lifecycle.migrate). */
  learnPgvector(version: string): void {
    this.iterativeScan = versionAtLeast(version, ITERATIVE_SCAN_PGVECTOR);
  }

  async searchProducts(model: VectorModel, query: Float32Array, k: number, filter: ProductFilter = {}): Promise<Hit[]> {
    checkVectorModel(model, MAX_DIM);
    check('k', k, nonNegativeInt);
    checkVector(model, query, 'query', true);
    if (k === 0 || filter.ids?.length === 0) return [];
    const q = vectorText(query);
    const neighbours = await this.c.withClient(async (client, discard) => {
      const table = await this.uses.vectors.findModel(client, model);
      if (!table) return [];
      if (filter.ids || (await this.fewMatch(client, table, filter))) {
        // Few candidates (at most ids.length, or at most exactSearchMatching): computing each
        // distance beats walking the graph, and is exact, where a filtered HNSW scan loses recall.
        this.searches.exact++;
        return this.exactSearch(client, table, q, k, filter);
      }
      const search = this.indexSearch(table, q, k + 1, filter);
      const found = await this.withSearchSettings(
        client,
        discard,
        this.candidates(k, filter),
        async () => (await client.query<Neighbour>(search.sql, search.values)).rows,
      );
      if (found.length < k) {
        // Fewer than k matched, or the scan gave up at maxScanTuples: the exact answer, from the filtered products.
        this.searches.fallback++;
        return this.exactSearch(client, table, q, k, filter);
      }
      this.searches.index++;
      found.sort(byDistanceThenId);
      if (found.length > k && found[k].distance === found[k - 1].distance) {
        // Equal distances across the k-th place: the lowest ids among all of them win, found exactly.
        return this.exactSearch(client, table, q, k, filter, found[k - 1].distance);
      }
      return found.slice(0, k);
    });
    return hitsOf(neighbours);
  }

  /**
   * The plan of the index search `searchProducts` runs first for these arguments (EXPLAIN, with the
   * same settings): to check that the HNSW index is used.
   */
  async explainSearch(model: VectorModel, query: Float32Array, k: number, filter: ProductFilter = {}): Promise<string> {
    checkVectorModel(model, MAX_DIM);
    check('k', k, nonNegativeInt);
    checkVector(model, query, 'query', true);
    return this.c.withClient(async (client, discard) => {
      const table = await this.uses.vectors.findModel(client, model);
      if (!table) return '';
      const search = this.indexSearch(table, vectorText(query), k + 1, filter);
      const plan = await this.withSearchSettings(client, discard, this.candidates(k, filter), () =>
        client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${search.sql}`, search.values),
      );
      return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
  }

  /** Whether a filter (other than ids) matches at most exactSearchMatching products of the model: counted, but never past that. */
  private async fewMatch(client: PoolClient, table: ModelTable, filter: ProductFilter): Promise<boolean> {
    const most = this.uses.settings.exactSearchMatching;
    if (!Object.values(filter).some((v) => v !== undefined) || most === 0) return false;
    const params = new Params();
    const from = this.searchFrom(table, filter, params);
    const limit = params.add(most + 1);
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM ${from} LIMIT ${limit}) m`, params.values);
    return Number(rows[0].n) <= most;
  }

  private searchFrom(table: ModelTable, filter: ProductFilter, params: Params): string {
    const n = this.c.names;
    const conditions = filterConditions(filter, params, { idColumn: 'v.product_id', attributesColumn: 'p.attributes', tags: n.tags });
    const join = attributeEntries(filter).length > 0 ? `JOIN ${n.products} p ON p.id = v.product_id` : '';
    return `${n.table(table.table)} v ${join} ${where(conditions)}`;
  }

  /**
   * Nearest first through the HNSW index (run it with withSearchSettings). Over a halfvec index the
   * ORDER BY is the index's own expression (the planner uses an expression index only for it), and
   * each row's distance is the float32 one from the vector column: the caller orders by it, so the
   * order, the scores and the tie check at the k-th place are exact among the candidates.
   */
  private indexSearch(table: ModelTable, query: string, limit: number, filter: ProductFilter): { sql: string; values: unknown[] } {
    const params = new Params();
    const q = params.add(query, '::vector');
    const from = this.searchFrom(table, filter, params);
    const order = table.hnsw === 'half' ? `v.embedding::halfvec(${table.dim}) <=> ${q}::halfvec(${table.dim})` : `v.embedding <=> ${q}`;
    const sql = `SELECT v.product_id AS "productId", v.embedding <=> ${q} AS distance FROM ${from}
      ORDER BY ${order} LIMIT ${params.add(limit)}`;
    return { sql, values: params.values };
  }

  /** ef_search for a search of k: see PostgresStoreOptions.efSearch. */
  private candidates(k: number, filter: ProductFilter): number {
    const filtered = Object.values(filter).some((v) => v !== undefined);
    return Math.max(k + 1, filtered ? 2 * this.uses.settings.efSearch : this.uses.settings.efSearch);
  }

  /**
   * Runs `work` in a read-only transaction whose HNSW scans keep `candidates` (ef_search) and use
   * iterative scans (strict order, up to maxScanTuples entries): they keep going until the query's
   * LIMIT of rows pass the filter, where a plain scan stops after ef_search candidates whatever the
   * filter left.
   */
  private async withSearchSettings<T>(client: PoolClient, discard: () => void, candidates: number, work: () => Promise<T>): Promise<T> {
    const iterative = this.iterativeScan ?? (await this.learnIterativeScan(client));
    // hnsw.ef_search is at most 1000; iterative scans go past it.
    const settings = [
      `SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(40, candidates))}`,
      ...(iterative
        ? ['SET LOCAL hnsw.iterative_scan = strict_order', `SET LOCAL hnsw.max_scan_tuples = ${this.uses.settings.maxScanTuples}`]
        : []),
    ];
    return this.c.inTransaction(
      client,
      discard,
      async () => {
        await client.query(settings.join('; '));
        return work();
      },
      'BEGIN READ ONLY',
    );
  }

  /** Every filtered product's distance, computed (no index order), nearest first and ties by id. */
  private async exactSearch(
    client: PoolClient,
    table: ModelTable,
    query: string,
    k: number,
    filter: ProductFilter,
    maxDistance?: number,
  ): Promise<Neighbour[]> {
    const params = new Params();
    const q = params.add(query, '::vector');
    const from = this.searchFrom(table, filter, params);
    const within = maxDistance === undefined ? '' : `WHERE distance <= ${params.add(maxDistance, '::float8')}`;
    const sql = `WITH candidates AS MATERIALIZED (SELECT v.product_id, v.embedding <=> ${q} AS distance FROM ${from})
      SELECT product_id AS "productId", distance FROM candidates ${within} ORDER BY distance, product_id LIMIT ${params.add(k)}`;
    return (await client.query<Neighbour>(sql, params.values)).rows;
  }

  private async learnIterativeScan(client: PoolClient): Promise<boolean> {
    const row = (await client.query<{ v: string | null }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)).rows[0];
    this.iterativeScan = row?.v ? versionAtLeast(row.v, ITERATIVE_SCAN_PGVECTOR) : false;
    return this.iterativeScan;
  }
}
