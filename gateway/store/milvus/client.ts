import { createHash } from 'node:crypto';
import { HttpClient, HttpError } from '@zilliz/milvus2-sdk-node/dist/milvus/HttpClient';
import { check, httpUrl, integer, nonEmpty, positiveInt, timeoutMs } from '../../../functions/options';
import { modelKey, StoreError, type VectorModel } from '../port';
import { checkModel, checkVector, entityOf, type VectorEntry } from './entities';
import { envelopeOf, MilvusError, type Envelope } from './errors';
import { checkSchema, collectionRequest, type DescribedCollection } from './schema';
import { collectionPrefixRule, DEFAULTS, type MilvusVectorsOptions } from './options';
import { FIELDS, filterExpression, idsExpression, rangeExpression, stringLiteral, type IdRange, type MilvusProductFilter } from './filter';

export type { IdRange } from './filter';

export { MilvusError } from './errors';
export { collectionPrefixRule, milvusOptionsFromEnv, type MilvusVectorsOptions } from './options';
export type { VectorEntry } from './entities';

/**
 * The catalogue's product vectors in Milvus / Zilliz Cloud, through the official SDK's HttpClient
 * (the RESTful API v2, which Zilliz Cloud serves as well as Milvus). Milvus holds derived data
 * only: one entity per product and model, with the product's vector and what the catalogue
 * filters on (its tags, its attributes). Products, tags and jobs stay in SQLite / PostgreSQL.
 *
 * One collection per model (a model's vectors are never compared with another's), named from a
 * hash of the model key: Milvus names allow [A-Za-z0-9_] only, model names hold `/`, `-`, `|`.
 *
 * The HttpClient is imported from its own module, not the package's index: the index loads the
 * gRPC client too (protobuf definitions, grpc-js), three times slower to start, unused here.
 */

export interface VectorHit {
  productId: string;
  /** Cosine similarity, -1 to 1. */
  score: number;
}

/** Milvus's codes (pkg/util/merr) this client acts on. */
const COLLECTION_NOT_FOUND = 100;
const COLLECTION_NOT_LOADED = 101;

export const MAX_TOPK = 16_384;

/** Ids per delete request: the filter `product_id in [...]` grows with each. */
const DELETE_BATCH = 1_000;

/** MILVUS_COLLECTION_PREFIX's rule (Milvus's collection names: [A-Za-z0-9_], not starting with a digit). */
export class MilvusVectors {
  private readonly http: HttpClient;
  private readonly prefix: string;
  /** The address's origin, for errors: what a URL may carry besides (a path, credentials) stays out. */
  private readonly origin: string;
  private readonly batchSize: number;
  private readonly maxRequestBytes: number;
  /** Collections known to exist with the right dim and to be loaded, by name. */
  private readonly ready = new Map<string, Promise<string>>();

  constructor(options: MilvusVectorsOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('MilvusVectors options must be an object');
    const address = check('MilvusVectors address', options.address, httpUrl).replace(/\/+$/, '');
    const token = check(
      'MilvusVectors token',
      options.token,
      { ...nonEmpty, expected: 'a non-empty string (an API key or user:password)' },
      (m) =>
        // The token's text never goes into an error.
        new TypeError(m.replace(/, got .*$/, '')),
    );
    this.origin = new URL(address).origin;
    const database = check('MilvusVectors database', options.database ?? DEFAULTS.database, nonEmpty);
    this.prefix = check('MilvusVectors collectionPrefix', options.collectionPrefix ?? DEFAULTS.collectionPrefix, collectionPrefixRule);
    this.batchSize = check('MilvusVectors batchSize', options.batchSize ?? DEFAULTS.batchSize, integer(1, 100_000));
    this.maxRequestBytes = check('MilvusVectors maxRequestBytes', options.maxRequestBytes ?? DEFAULTS.maxRequestBytes, positiveInt);
    const timeout = check('MilvusVectors timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs, timeoutMs);
    // `endpoint`, not `baseURL`: the SDK then appends the API version (`/v2`) itself.
    this.http = new HttpClient({ endpoint: address, token, database, timeout });
  }

  /** The collection holding `model`'s vectors: the prefix and the SHA-256 of the model key. */
  collectionName(model: VectorModel): string {
    return this.prefix + createHash('sha256').update(modelKey(model)).digest('hex');
  }

  /**
   * Creates the model's collection when missing (indexed for COSINE, loaded), or checks that the
   * one there has this schema and dim; DIMENSION_MISMATCH when its vectors are of another dim.
   * Idempotent, and done once per model by this instance (the others call it themselves).
   */
  ensureCollection(model: VectorModel): Promise<string> {
    checkModel(model);
    const name = this.collectionName(model);
    let ready = this.ready.get(name);
    if (!ready) {
      ready = this.prepare(model, name);
      this.ready.set(name, ready);
      // A failure is not remembered: the next call tries again.
      ready.catch(() => this.ready.delete(name));
    }
    return ready;
  }

  private async prepare(model: VectorModel, name: string): Promise<string> {
    const has = (await this.call('has collection', () =>
      this.http.hasCollection({ collectionName: name, dbName: this.http.database }),
    )) as { has?: boolean };
    if (!has?.has) {
      await this.call('create collection', () =>
        this.http.createCollection(collectionRequest(model, name) as Parameters<HttpClient['createCollection']>[0]),
      );
    }
    const described = await this.call('describe collection', () => this.http.describeCollection({ collectionName: name }));
    checkSchema(described as DescribedCollection, model, name);
    const state = (await this.call('get load state', () =>
      this.http.getCollectionLoadState({ collectionName: name, dbName: this.http.database }),
    )) as { loadState?: string };
    if (state?.loadState !== 'LoadStateLoaded' && state?.loadState !== 'LoadStateLoading')
      await this.call('load collection', () => this.http.loadCollection({ collectionName: name }));
    return name;
  }

  /**
   * Stores each product's vector, tags and attributes for `model`, replacing what the product had
   * (upsert by product id: the same entries twice leave the same state). Of one product given
   * twice, the last wins. Sent in batches of batchSize entities, cut sooner at maxRequestBytes.
   */
  async upsert(model: VectorModel, entries: readonly VectorEntry[]): Promise<void> {
    if (!Array.isArray(entries)) throw new TypeError(`entries must be a list, got ${typeof entries}`);
    const rows = new Map<string, { row: Record<string, unknown>; bytes: number }>();
    entries.forEach((entry, i) => {
      const row = entityOf(entry, model, `entries[${i}]`);
      const bytes = Buffer.byteLength(JSON.stringify(row)) + 1;
      if (bytes > this.maxRequestBytes)
        throw new RangeError(
          `entries[${i}] (product ${JSON.stringify(entry.productId)}) is ${bytes} bytes as JSON, over maxRequestBytes ${this.maxRequestBytes}`,
        );
      rows.delete(entry.productId); // the last one given wins, in its own place in the order
      rows.set(entry.productId, { row, bytes });
    });
    if (rows.size === 0) return;
    const collectionName = await this.ensureCollection(model);
    let batch: Record<string, unknown>[] = [];
    let bytes = 0;
    const send = async () => {
      const data = batch;
      batch = [];
      bytes = 0;
      await this.call('upsert', () => this.http.upsert({ collectionName, data }));
    };
    for (const { row, bytes: size } of rows.values()) {
      if (batch.length > 0 && (batch.length >= this.batchSize || bytes + size > this.maxRequestBytes)) await send();
      batch.push(row);
      bytes += size;
    }
    await send();
  }

  /** Throws what upsert would refuse this entry for (a bad value, one of Milvus's limits), sending nothing. */
  checkEntry(model: VectorModel, entry: VectorEntry): void {
    checkModel(model);
    const bytes = Buffer.byteLength(JSON.stringify(entityOf(entry, model, 'entry'))) + 1;
    if (bytes > this.maxRequestBytes)
      throw new RangeError(
        `entry (product ${JSON.stringify(entry.productId)}) is ${bytes} bytes as JSON, over maxRequestBytes ${this.maxRequestBytes}`,
      );
  }

  /** Removes these products' entities of `model`; ids not there are no error, nor is a missing collection. */
  async delete(model: VectorModel, productIds: readonly string[]): Promise<void> {
    checkModel(model);
    if (!Array.isArray(productIds)) throw new TypeError(`productIds must be a list of strings, got ${typeof productIds}`);
    const ids = [...new Set(productIds)];
    ids.forEach((id, i) => stringLiteral(id, `productIds[${i}]`));
    const collectionName = this.collectionName(model);
    for (let i = 0; i < ids.length; i += DELETE_BATCH) {
      const filter = idsExpression(ids.slice(i, i + DELETE_BATCH), 'productIds');
      try {
        await this.call('delete', () => this.http.delete({ collectionName, filter }));
      } catch (error) {
        if (error instanceof MilvusError && error.milvusCode === COLLECTION_NOT_FOUND) return;
        throw error;
      }
    }
  }

  /**
   * The `k` products of `model` nearest to `vector` by cosine similarity, best first (equal
   * scores by product id), among those `filter` keeps. A model without a collection yet has no
   * vectors: no hits, as the SQL stores answer, rather than an error.
   *
   * Ties at the k-th place: Milvus cuts its k results among equal scores in no set order, so
   * which of several products tied there is returned may vary; the order of what is returned does not.
   */
  async search(
    model: VectorModel,
    vector: Float32Array,
    k: number,
    filter?: MilvusProductFilter,
    options: { missingCollection?: 'empty' | 'error' } = {},
  ): Promise<VectorHit[]> {
    checkModel(model);
    checkVector(vector, model, 'vector');
    check('k', k, integer(1, MAX_TOPK));
    const { expression, matchesNothing } = filterExpression(filter);
    if (matchesNothing) return [];
    const collectionName = this.collectionName(model);
    const request = () =>
      this.http.search({
        collectionName,
        data: [Array.from(vector)],
        annsField: FIELDS.vector,
        limit: k,
        ...(expression === undefined ? {} : { filter: expression }),
        outputFields: [FIELDS.id],
        searchParams: { metricType: 'COSINE' },
        // What was upserted a moment ago is found: Milvus's default (Bounded) may miss it.
        consistencyLevel: 'Strong',
      });
    let rows: unknown;
    try {
      rows = await this.call('search', request);
    } catch (error) {
      if (!(error instanceof MilvusError)) throw error;
      // A caller that knows the collection should be there (a search index kept current) asks for
      // the error: the collection dropped behind its back must not read as a catalogue without vectors.
      if (error.milvusCode === COLLECTION_NOT_FOUND && options.missingCollection !== 'error') return [];
      if (error.milvusCode !== COLLECTION_NOT_LOADED) throw error;
      // Released by someone (or a restart of Milvus): load it and ask once more.
      await this.call('load collection', () => this.http.loadCollection({ collectionName }));
      rows = await this.call('search', request);
    }
    if (!Array.isArray(rows)) throw new MilvusError('search', undefined, `unexpected answer: data is not a list of hits`);
    const hits = rows.map((row: Record<string, unknown>) => {
      const productId = row[FIELDS.id];
      const score = Number(row.distance);
      if (typeof productId !== 'string' || !Number.isFinite(score))
        throw new MilvusError(
          'search',
          undefined,
          `unexpected answer: a hit without ${FIELDS.id} or distance: ${JSON.stringify(row).slice(0, 200)}`,
        );
      return { productId, score };
    });
    // For COSINE, Milvus's `distance` is the similarity (higher is nearer); its order of equal
    // scores is arbitrary, so ties are ordered here.
    return hits.sort((a, b) => b.score - a.score || (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
  }

  /** How many entities `model`'s collection holds (0 when it has none yet). */
  async count(model: VectorModel): Promise<number> {
    checkModel(model);
    try {
      const rows = (await this.call('count', () =>
        this.http.query({ collectionName: this.collectionName(model), filter: '', outputFields: ['count(*)'], consistencyLevel: 'Strong' }),
      )) as Record<string, unknown>[];
      return Number(rows[0]?.['count(*)'] ?? 0);
    } catch (error) {
      if (error instanceof MilvusError && error.milvusCode === COLLECTION_NOT_FOUND) return 0;
      throw error;
    }
  }

  /** Forgets that `model`'s collection was ready: the next ensureCollection asks Milvus again (after it was dropped behind this client's back). */
  forgetCollection(model: VectorModel): void {
    this.ready.delete(this.collectionName(model));
  }

  /** Whether `model`'s collection exists (asked of Milvus each time: another process may have made or dropped it). */
  async hasCollection(model: VectorModel): Promise<boolean> {
    checkModel(model);
    const has = (await this.call('has collection', () =>
      this.http.hasCollection({ collectionName: this.collectionName(model), dbName: this.http.database }),
    )) as { has?: boolean };
    return has?.has === true;
  }

  /**
   * How many entities of `model` have a product id in `range` (after `range.after`, up to and
   * including `range.upTo`; either end open when unset), 0 when there is no collection. Ranges
   * compare ids as Milvus does (by bytes); callers only split and join them, never compare ids themselves.
   */
  async countRange(model: VectorModel, range: IdRange = {}): Promise<number> {
    checkModel(model);
    try {
      const rows = (await this.call('count', () =>
        this.http.query({
          collectionName: this.collectionName(model),
          filter: rangeExpression(range),
          outputFields: ['count(*)'],
          consistencyLevel: 'Strong',
        }),
      )) as Record<string, unknown>[];
      return Number(rows[0]?.['count(*)'] ?? 0);
    } catch (error) {
      if (error instanceof MilvusError && error.milvusCode === COLLECTION_NOT_FOUND) return 0;
      throw error;
    }
  }

  /**
   * At most `limit` product ids of `model` in `range`, in no set order (Milvus does not order a
   * query's results): a range holding at most `limit` entities comes back whole. [] without a collection.
   */
  async idsInRange(model: VectorModel, range: IdRange, limit: number): Promise<string[]> {
    checkModel(model);
    check('limit', limit, integer(1, MAX_TOPK));
    let rows: unknown;
    try {
      rows = await this.call('query', () =>
        this.http.query({
          collectionName: this.collectionName(model),
          filter: rangeExpression(range),
          outputFields: [FIELDS.id],
          limit,
          consistencyLevel: 'Strong',
        }),
      );
    } catch (error) {
      if (error instanceof MilvusError && error.milvusCode === COLLECTION_NOT_FOUND) return [];
      throw error;
    }
    if (!Array.isArray(rows)) throw new MilvusError('query', undefined, 'unexpected answer: data is not a list of rows');
    return rows.map((row: Record<string, unknown>) => {
      const id = row[FIELDS.id];
      if (typeof id !== 'string') throw new MilvusError('query', undefined, `unexpected answer: a row without ${FIELDS.id}`);
      return id;
    });
  }

  /** Drops `model`'s collection (a model no longer served); none there is no error. */
  async dropCollection(model: VectorModel): Promise<void> {
    checkModel(model);
    const collectionName = this.collectionName(model);
    this.ready.delete(collectionName);
    await this.call('drop collection', () => this.http.dropCollection({ collectionName }));
  }

  /**
   * Runs one SDK call and returns its `data`. Milvus answers most errors with HTTP 200 and a
   * non-zero `code`; authentication errors with HTTP 401 (the SDK then throws an HttpError whose
   * message ends with the body, the same envelope); a cluster it cannot reach with a fetch error.
   * Each becomes a MilvusError naming the operation.
   */
  private async call(operation: string, run: () => Promise<unknown>): Promise<unknown> {
    let answer: Envelope;
    try {
      answer = (await run()) as Envelope;
    } catch (error) {
      if (error instanceof HttpError) {
        const envelope = envelopeOf(error);
        throw new MilvusError(operation, envelope?.code, envelope?.message ?? `HTTP ${error.status} ${error.statusText}`, error.status, {
          cause: error,
        });
      }
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'AbortError' || e.name === 'TimeoutError'
          ? 'no answer before the timeout'
          : `cannot reach Milvus at ${this.origin}: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
      throw new StoreError('STORE_UNAVAILABLE', new MilvusError(operation, undefined, why).message, { cause: error });
    }
    if (typeof answer !== 'object' || answer === null || typeof answer.code !== 'number')
      throw new MilvusError(operation, undefined, `unexpected answer: ${JSON.stringify(answer).slice(0, 200)}`);
    if (answer.code !== 0) throw new MilvusError(operation, answer.code, answer.message ?? '(no message)');
    return answer.data;
  }
}
