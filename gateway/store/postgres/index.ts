import { setOnly } from '../../../functions/options';
import { ComposedStore } from '../composed';
import type { ProductFilter, VectorModel } from '../port';
import { checkOptions, Connection, DEFAULT_POSTGRES_STORE_OPTIONS, type PostgresStoreOptions } from './connection';
import { Inbound } from './inbound';
import { Jobs } from './jobs';
import { LabelVectors } from './label-vectors';
import { Models } from './models';
import { Products } from './products';
import { Lifecycle } from './lifecycle';
import { Search } from './search';
import { Tags } from './tags';
import { Vectors } from './vectors';
import { Webhooks } from './webhooks';

export { DEFAULT_POSTGRES_STORE_OPTIONS, schemaName, type PostgresStoreOptions } from './connection';

/**
 * The catalogue in PostgreSQL with pgvector: for several gateways sharing one catalogue. One file
 * per concern, the same names as the SQLite adapter's: connection, schema (tables and migrations), lifecycle (migrate, close), rows,
 * filters, errors, products, vectors, models, search, tags, jobs.
 *
 * Layout (see schema.ts): fixed tables for products, tags, taxonomies and image vectors, and one
 * product-vector table per model, named from a hash of the model key, with a typed `vector(dim)`
 * column and its own HNSW index (cosine). A table per model rather than one table with an untyped
 * column and per-model partial indexes: the database itself enforces each model's dim, every index
 * covers a whole table (no partial-index predicate the planner must prove from a parameter), the
 * planner keeps statistics per model, and a model is dropped with its table. How searches use the
 * index: see search.ts.
 */
export class PostgresStore extends ComposedStore {
  private readonly search: Search;

  constructor(options: PostgresStoreOptions) {
    const checked = checkOptions(options);
    const c = new Connection(checked);
    const vectors = new Vectors(c, { indexPrecision: checked.indexPrecision });
    const models = new Models(c);
    const tags = new Tags(c);
    const products = new Products(c, { vectors, tags });
    const search = new Search(c, { vectors, settings: checked });
    super('postgres', {
      lifecycle: new Lifecycle(c, {
        onPgvector: (version) => {
          search.learnPgvector(version);
          vectors.learnPgvector(version);
        },
        indexPrecision: checked.indexPrecision,
      }),
      products,
      vectors,
      labelVectors: new LabelVectors(c, { vectors }),
      models,
      search,
      tags,
      jobs: new Jobs(c, { models, products, tags, vectors }),
      webhooks: new Webhooks(c),
      inbound: new Inbound(c),
    });
    this.search = search;
  }

  /** How searches were answered: through the index alone, by an exact scan, or the index then an exact scan. */
  get searches(): { index: number; exact: number; fallback: number } {
    return this.search.searches;
  }

  /**
   * The plan of the index search `searchProducts` runs first for these arguments (EXPLAIN, with the
   * same settings): to check that the HNSW index is used.
   */
  explainSearch(model: VectorModel, query: Float32Array, k: number, filter: ProductFilter = {}): Promise<string> {
    return this.search.explainSearch(model, query, k, filter);
  }
}

/** Opens a store on a pool of connections; nothing is connected until the first call (usually migrate()). */
export async function openPostgresStore(options: Partial<PostgresStoreOptions> & { url: string }): Promise<PostgresStore> {
  return new PostgresStore({ ...DEFAULT_POSTGRES_STORE_OPTIONS, ...setOnly(options), url: options.url });
}
