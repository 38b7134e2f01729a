import { createHash } from 'node:crypto';
import { HttpClient, HttpError } from '@zilliz/milvus2-sdk-node/dist/milvus/HttpClient';
import { check, httpUrl, integer, nonEmpty, positiveInt, timeoutMs, type Env, EnvReader } from '../../../functions/options';
import { modelKey, StoreError, type VectorModel } from '../port';
import { FIELDS, filterExpression, idsExpression, stringLiteral, tagKey, type MilvusProductFilter } from './filter';

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

export interface MilvusVectorsOptions {
  /** http(s) URL of the cluster (Zilliz Cloud: its public endpoint); the SDK appends `/v2`. */
  address: string;
  /** A Zilliz Cloud API key, or `user:password` for Milvus. Never logged or put in errors. */
  token: string;
  /** The Milvus database; `default` when unset. */
  database?: string;
  /** Prepended to each collection's name, to share a cluster between deployments. */
  collectionPrefix?: string;
  /** Entities per upsert request (Milvus limits a request's size). */
  batchSize?: number;
  /** Upper bound of one upsert request's JSON body, in bytes; a batch is cut sooner when reached. */
  maxRequestBytes?: number;
  /** Per request, in milliseconds. */
  timeoutMs?: number;
}

export interface VectorEntry {
  productId: string;
  vector: Float32Array;
  tags: readonly { facet: string; label: string }[];
  attributes: Readonly<Record<string, unknown>> | null;
}

export interface VectorHit {
  productId: string;
  /** Cosine similarity, -1 to 1. */
  score: number;
}

/** A failed Milvus call: the operation, and Milvus's code and message (or why it could not be reached). */
export class MilvusError extends Error {
  override readonly name = 'MilvusError';
  constructor(
    readonly operation: string,
    /** Milvus's code (merr: 100 collection not found, 1100 invalid parameter, 1800 not authenticated, ...); undefined when Milvus did not answer. */
    readonly milvusCode: number | undefined,
    readonly milvusMessage: string,
    /** The HTTP status when it was not 200. */
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(
      milvusCode === undefined
        ? `Milvus ${operation} failed: ${milvusMessage}`
        : `Milvus ${operation} failed: code ${milvusCode}: ${milvusMessage}${httpStatus !== undefined && httpStatus !== 200 ? ` (HTTP ${httpStatus})` : ''}`,
      options,
    );
  }
}

/** Milvus's codes (pkg/util/merr) this client acts on. */
const COLLECTION_NOT_FOUND = 100;
const COLLECTION_NOT_LOADED = 101;

/** Milvus's limits (defaults; Zilliz Cloud keeps them). */
const MAX_VARCHAR_BYTES = 65_535;
const MAX_ARRAY_CAPACITY = 4_096;
const MAX_JSON_BYTES = 65_536;
const MAX_DIM = 32_768;
/** Most hits (and rows) one search or query returns. */
export const MAX_TOPK = 16_384;

const DEFAULTS = {
  database: 'default',
  collectionPrefix: 'clip_products_',
  batchSize: 1_000,
  maxRequestBytes: 16 * 1024 * 1024,
  timeoutMs: 30_000,
};
/** Ids per delete request: the filter `product_id in [...]` grows with each. */
const DELETE_BATCH = 1_000;

/** MILVUS_COLLECTION_PREFIX's rule (Milvus's collection names: [A-Za-z0-9_], not starting with a digit). */
export const collectionPrefixRule = {
  expected: 'letters, digits and underscores, starting with a letter or an underscore, at most 160 characters',
  accepts: (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,159}$/.test(v),
  parse: (raw: string) => raw.trim(),
};

/** The options from MILVUS_ADDRESS, MILVUS_TOKEN, MILVUS_DATABASE, MILVUS_COLLECTION_PREFIX. */
export function milvusOptionsFromEnv(env: Env = process.env): MilvusVectorsOptions {
  const read = new EnvReader(env);
  const token = read.required('MILVUS_TOKEN', { ...nonEmpty, problem: () => 'is blank' }, 'when MILVUS_ADDRESS is set');
  return {
    address: read.required('MILVUS_ADDRESS', httpUrl, 'to keep product vectors in Milvus'),
    token,
    database: read.optional('MILVUS_DATABASE', nonEmpty),
    collectionPrefix: read.optional('MILVUS_COLLECTION_PREFIX', collectionPrefixRule),
  };
}

type Envelope = { code?: number; message?: string; data?: unknown; topks?: number[] };

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
        this.http.createCollection({
          collectionName: name,
          // The REST API takes a description though the SDK's type omits it: says which model, for people.
          ...({ description: `clip-gateway product vectors of ${modelKey(model)} (dim ${model.dim})` } as object),
          schema: {
            autoID: false,
            enabledDynamicField: false,
            fields: [
              { fieldName: FIELDS.id, dataType: 'VarChar', isPrimary: true, elementTypeParams: { max_length: MAX_VARCHAR_BYTES } },
              { fieldName: FIELDS.vector, dataType: 'FloatVector', elementTypeParams: { dim: model.dim } },
              {
                fieldName: FIELDS.tags,
                dataType: 'Array',
                elementDataType: 'VarChar',
                elementTypeParams: { max_capacity: MAX_ARRAY_CAPACITY, max_length: MAX_VARCHAR_BYTES },
              },
              { fieldName: FIELDS.attributes, dataType: 'JSON' },
            ],
          },
          indexParams: [{ fieldName: FIELDS.vector, indexName: FIELDS.vector, metricType: 'COSINE', params: { index_type: 'AUTOINDEX' } }],
        }),
      );
    }
    const described = (await this.call('describe collection', () => this.http.describeCollection({ collectionName: name }))) as {
      fields?: { name?: string; type?: string; primaryKey?: boolean; params?: { key: string; value: unknown }[] }[];
      indexes?: { fieldName?: string; metricType?: string }[];
    };
    const field = (n: string) => described.fields?.find((f) => f.name === n);
    const id = field(FIELDS.id);
    const vector = field(FIELDS.vector);
    const problems: string[] = [];
    if (id?.type !== 'VarChar' || id.primaryKey !== true) problems.push(`${FIELDS.id} is not a VarChar primary key`);
    if (vector?.type !== 'FloatVector') problems.push(`${FIELDS.vector} is not a FloatVector`);
    if (field(FIELDS.tags)?.type !== 'Array') problems.push(`${FIELDS.tags} is not an Array`);
    if (field(FIELDS.attributes)?.type !== 'JSON') problems.push(`${FIELDS.attributes} is not JSON`);
    const metric = described.indexes?.find((i) => i.fieldName === FIELDS.vector)?.metricType;
    if (metric !== undefined && metric !== 'COSINE') problems.push(`its vector index uses ${metric}, not COSINE`);
    if (problems.length > 0)
      throw new Error(`Milvus collection ${name} (model ${modelKey(model)}) has another schema: ${problems.join('; ')}`);
    const dim = Number(vector!.params?.find((p) => p.key === 'dim')?.value);
    if (dim !== model.dim)
      throw new StoreError(
        'DIMENSION_MISMATCH',
        `Milvus collection ${name} holds vectors of ${modelKey(model)} with dim ${dim}, not ${model.dim}: the same model name and dtype with another dim`,
      );
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

/** Product ids after `after` (exclusive) and up to `upTo` (inclusive); an unset end is open. */
export interface IdRange {
  after?: string;
  upTo?: string;
}

/** A range as a Milvus filter ('' for the whole collection: Milvus then wants a limit, which count(*) does not). */
function rangeExpression(range: IdRange): string {
  const conditions: string[] = [];
  if (range.after !== undefined) conditions.push(`${FIELDS.id} > ${stringLiteral(range.after, 'range.after')}`);
  if (range.upTo !== undefined) conditions.push(`${FIELDS.id} <= ${stringLiteral(range.upTo, 'range.upTo')}`);
  return conditions.join(' and ');
}

/** The envelope an HttpError's message ends with (`HTTP 401 Unauthorized: <url> - <body>`), if any. */
function envelopeOf(error: HttpError): Envelope | undefined {
  const head = `HTTP ${error.status} ${error.statusText}: ${error.url} - `;
  if (!error.message.startsWith(head)) return undefined;
  try {
    const body = JSON.parse(error.message.slice(head.length)) as Envelope;
    return typeof body === 'object' && body !== null && typeof body.code === 'number' ? body : undefined;
  } catch {
    return undefined;
  }
}

function checkModel(model: VectorModel): void {
  if (typeof model !== 'object' || model === null) throw new TypeError('model must be a VectorModel');
  check('model.name', model.name, nonEmpty);
  check('model.dtype', model.dtype, nonEmpty);
  check('model.dim', model.dim, integer(1, MAX_DIM));
}

function checkVector(vector: unknown, model: VectorModel, what: string): asserts vector is Float32Array {
  if (!(vector instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
  if (vector.length !== model.dim)
    throw new StoreError(
      'DIMENSION_MISMATCH',
      `${what} has ${vector.length} values; model ${modelKey(model)} makes vectors of ${model.dim}`,
    );
  for (let i = 0; i < vector.length; i++)
    if (!Number.isFinite(vector[i])) throw new TypeError(`${what}[${i}] is ${vector[i]}, not a finite number`);
}

/** The entity of one entry, checked against Milvus's limits with the entry named. */
function entityOf(entry: VectorEntry, model: VectorModel, what: string): Record<string, unknown> {
  if (typeof entry !== 'object' || entry === null) throw new TypeError(`${what} must be {productId, vector, tags, attributes}`);
  stringLiteral(entry.productId, `${what}.productId`);
  if (entry.productId === '') throw new TypeError(`${what}.productId must not be empty`);
  if (Buffer.byteLength(entry.productId) > MAX_VARCHAR_BYTES)
    throw new RangeError(
      `${what}.productId is ${Buffer.byteLength(entry.productId)} bytes (UTF-8); Milvus keys hold at most ${MAX_VARCHAR_BYTES}`,
    );
  const named = `${what} (product ${JSON.stringify(entry.productId)})`;
  checkVector(entry.vector, model, `${named}.vector`);
  if (!Array.isArray(entry.tags)) throw new TypeError(`${named}.tags must be a list of {facet, label}`);
  const tags = [
    ...new Set(
      entry.tags.map((t, i) => {
        if (typeof t !== 'object' || t === null) throw new TypeError(`${named}.tags[${i}] must be {facet, label}`);
        stringLiteral(t.facet, `${named}.tags[${i}].facet`);
        stringLiteral(t.label, `${named}.tags[${i}].label`);
        const key = tagKey(t.facet, t.label);
        if (Buffer.byteLength(key) > MAX_VARCHAR_BYTES)
          throw new RangeError(`${named}.tags[${i}] is over ${MAX_VARCHAR_BYTES} bytes as stored`);
        return key;
      }),
    ),
  ];
  if (tags.length > MAX_ARRAY_CAPACITY)
    throw new RangeError(`${named} has ${tags.length} tags; Milvus holds at most ${MAX_ARRAY_CAPACITY} per product`);
  const attributes = entry.attributes ?? {};
  if (typeof attributes !== 'object' || Array.isArray(attributes)) throw new TypeError(`${named}.attributes must be an object or null`);
  let json: string;
  try {
    json = JSON.stringify(attributes);
  } catch (error) {
    throw new TypeError(`${named}.attributes cannot be written as JSON: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(json) > MAX_JSON_BYTES)
    throw new RangeError(`${named}.attributes are ${Buffer.byteLength(json)} bytes as JSON; Milvus holds at most ${MAX_JSON_BYTES}`);
  return {
    [FIELDS.id]: entry.productId,
    [FIELDS.vector]: Array.from(entry.vector),
    [FIELDS.tags]: tags,
    [FIELDS.attributes]: JSON.parse(json),
  };
}
