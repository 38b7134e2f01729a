import { httpUrl, nonEmpty, type Env, EnvReader } from '../../../functions/options';

/** What a MilvusVectors is given: where the cluster is, how to sign in, and its defaults. */

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

export const DEFAULTS = {
  database: 'default',
  collectionPrefix: 'clip_products_',
  batchSize: 1_000,
  maxRequestBytes: 16 * 1024 * 1024,
  timeoutMs: 30_000,
};

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
