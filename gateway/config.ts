import { join } from 'node:path';

import { DEFAULT_IMAGE_LIMITS, ICC_PROFILE_HANDLING, RESAMPLING, type ImageLimits } from '../functions/clip';
import {
  bool,
  EnvReader,
  integer,
  listOf,
  nonEmpty,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveInt,
  timeoutMs,
  type Env,
  type VariableMeanings,
} from '../functions/options';
import { backendFromEnv, type BackendOptions } from './backends';
import { BACKEND_VARIABLES } from './backends/from-env';
import { DEFAULT_JOB_RUNNER_OPTIONS, jobRunnerFromEnv, type JobRunnerOptions } from './catalogue/jobs';
import { DEFAULT_CATALOGUE_LIMITS, type CatalogueLimits } from './catalogue/service';
import { apiKeyList, type ApiKey } from './common/auth';
import { DEFAULT_BATCHER_OPTIONS } from './embedding/batcher';
import {
  DEFAULT_ADMISSION_LIMITS,
  DEFAULT_PERSISTED_QUERIES,
  DEFAULT_QUERY_LIMITS,
  DEFAULT_RATE_LIMITS,
  persistedQueriesFromEnv,
  type AdmissionLimits,
  type PersistedQueriesConfig,
  type QueryLimits,
  type RateLimits,
} from './limits';
import { ALLOW_NETWORKS, DEFAULT_FETCH_IMAGE_OPTIONS, type FetchImageOptions } from './intake';
import type { RequestLimits } from './schema';
import { CATALOGUE_FILE, DEFAULT_DATA_DIR, STORE_VARIABLES, storeFromEnv, type StoreConfig } from './store/from-env';
import { DEFAULT_WEBHOOK_OPTIONS, WEBHOOK_VARIABLES, webhooksFromEnv, type WebhookOptions } from './webhooks';

/** See GatewayConfig.imageMaxBatchSize. */
export const DEFAULT_IMAGE_MAX_BATCH_SIZE = 16;

export interface GatewayConfig extends RequestLimits {
  /** Where inference runs, with that backend's own settings (see configFromEnv for the variables). Default: local. */
  backend: BackendOptions;
  /** Most texts in one backend batch, and images unless imageMaxBatchSize says otherwise (env BATCH_MAX_SIZE). Default 32. */
  maxBatchSize: number;
  /**
   * Most images in one backend batch (env IMAGE_BATCH_MAX_SIZE). Default 16: on CPU workers, with
   * decoding sharing the cores, batches of 32 ran at 0.7 of the throughput of 16 (BENCHMARKS.md, section 3).
   */
  imageMaxBatchSize: number;
  /** Longest an input waits for others to join its batch, in ms (env BATCH_MAX_DELAY_MS). Default 5. */
  maxDelayMs: number;
  /** With no batch running, send inputs at once instead of waiting maxDelayMs (env BATCH_DISPATCH_WHEN_IDLE). Default true. */
  dispatchWhenIdle: boolean;
  /** Text embeddings cached (env TEXT_CACHE_SIZE). Default 10000. */
  textCacheSize: number;
  /** Image embeddings cached, by content hash (env IMAGE_CACHE_SIZE). Default 2000. */
  imageCacheSize: number;
  /** Largest HTTP request body, in bytes (env BODY_LIMIT_BYTES). Default 32 MiB: one 20 MiB image in base64 fits. */
  bodyLimitBytes: number;
  /**
   * Limits on each image (env IMAGE_MAX_BYTES, IMAGE_MAX_PIXELS), what embedded colour profiles
   * do (env IMAGE_ICC_PROFILES: ignore or convert) and who resizes (env IMAGE_RESAMPLING: libvips or
   * pillow). Default 20 MiB, 40 megapixels, ignore, libvips.
   */
  imageLimits: ImageLimits;
  /** URL fetching (env IMAGE_FETCH_TIMEOUT_MS, IMAGE_FETCH_MAX_REDIRECTS, IMAGE_FETCH_ALLOW_NETWORKS). */
  fetch: Omit<FetchImageOptions, 'maxBytes'>;
  /** Origins allowed by CORS (env CORS_ORIGINS, comma-separated; `*` for any). Default `*`. */
  corsOrigins: string[] | '*';
  /** Serve Apollo Sandbox when a browser opens /graphql (env SANDBOX). Default: INTROSPECTION's value. */
  sandbox: boolean;
  /**
   * Answer schema introspection, which Apollo Sandbox and GraphiQL need (env INTROSPECTION).
   * Default true, for development; production endpoints that only serve their own frontends turn it off.
   */
  introspection: boolean;
  /**
   * Also serve the schema as an Apollo Federation 2 subgraph at /subgraph (env FEDERATION), for a
   * router composing it with the shop's own subgraphs; /graphql keeps the standalone schema. Default false.
   */
  federation: boolean;
  /**
   * A request's deadline, in ms (env REQUEST_TIMEOUT_MS); a client may ask for less with the
   * x-request-timeout-ms header. Inputs whose requests have all passed it leave the queue before
   * inference, and what is not done by then answers DEADLINE_EXCEEDED. Default 30000.
   */
  requestTimeoutMs: number;
  /**
   * Admission by time (env ADMISSION_MAX_WAIT_MS, ADMISSION_MAX_IMAGE_BYTES): a request whose
   * inference cannot be done within its deadline behind the work admitted ahead of it (or within
   * the wait, when set) is refused at once with OVERLOADED (HTTP 503, Retry-After); encoded images
   * held are bounded in bytes. Default: no wait bound, 256 MiB.
   */
  admission: AdmissionLimits;
  /**
   * Most requests to /graphql being handled at once (env MAX_REQUESTS_IN_FLIGHT); more are refused
   * with OVERLOADED (503, Retry-After) before their body is read. A backstop for when the HTTP and
   * GraphQL work itself is what saturates the cores (a fast model, cached answers), where
   * admission's count of inputs comes too late. Default 256.
   */
  maxRequestsInFlight: number;
  /**
   * Limits on an operation's shape (env QUERY_MAX_DEPTH, QUERY_MAX_ALIASES, QUERY_MAX_DIRECTIVES,
   * QUERY_MAX_TOKENS, QUERY_MAX_COST), refused with QUERY_TOO_COMPLEX before it runs. Default 10, 15, 20, 4000, 50000.
   */
  queryLimits: QueryLimits;
  /**
   * Operations sent by their hash (env PERSISTED_QUERIES, PERSISTED_QUERIES_MANIFEST): Apollo's automatic
   * persisted queries (`apq`, the default), only a persisted query list's operations (`safelist`), or none (`off`).
   */
  persistedQueries: PersistedQueriesConfig;
  /** Subscriptions one client (its API key, else its address) may have open at once, over WebSocket and event streams (env SUBSCRIPTIONS_MAX_PER_CLIENT). Default 10. */
  maxSubscriptionsPerClient: number;
  /**
   * Per-client token buckets for inference inputs and writes (env RATE_LIMIT_INPUTS_PER_SECOND,
   * RATE_LIMIT_INPUTS_BURST, RATE_LIMIT_WRITES_PER_SECOND, RATE_LIMIT_WRITES_BURST, RATE_LIMIT_LOOPBACK),
   * refused with RATE_LIMITED (HTTP 429, Retry-After). Default 20 inputs/s in bursts of 512, 10 writes/s in
   * bursts of 256, loopback clients exempt.
   */
  rateLimits: RateLimits;
  /**
   * Proxies in front of the gateway whose X-Forwarded-For is trusted, for the client address that
   * rate limits go by (env TRUST_PROXY_HOPS). Default 0: the socket's address. Behind one load
   * balancer, 1; otherwise every client shares the balancer's address and its limits.
   */
  trustProxyHops: number;
  /**
   * The product catalogue's database (env DATA_DIR or DATABASE_URL). Default SQLite in ./data/catalogue.sqlite.
   * DATABASE_PASSWORD, when set, becomes the password in DATABASE_URL (for a password injected from a secret store).
   */
  store: StoreConfig;
  /**
   * The catalogue's limits (env CATALOGUE_MAX_PRODUCTS, CATALOGUE_MAX_IMAGES_PER_PRODUCT,
   * CATALOGUE_MAX_FACETS, CATALOGUE_MAX_LABELS, CATALOGUE_MAX_TEMPLATES, CATALOGUE_MAX_PAGE,
   * CATALOGUE_MAX_IMPORT_BYTES). Default 256 products a call (MAX_INPUTS_PER_REQUEST's default), 10
   * images a product, 32 facets of at most 1000 labels and 32 templates, pages of at most 500,
   * import files of 256 MiB.
   */
  catalogue: CatalogueLimits;
  /** The tagging job runner (env JOB_CHUNK_SIZE, JOB_TAG_CHUNK_SIZE, JOB_LEASE_MS, JOB_POLL_MS, JOB_PAUSE_MS). */
  jobs: JobRunnerOptions;
  /** Delivering tag changes to webhook endpoints (env WEBHOOK_*, see gateway/webhooks/options.ts). */
  webhooks: WebhookOptions;
  /**
   * API keys, by SHA-256 and scope (env API_KEYS: `<sha256 hex>:<read|write>`, comma-separated).
   * Default none: queries from anywhere, mutations from loopback clients only.
   */
  apiKeys: ApiKey[];
}

/**
 * ONNX Runtime's threads spinning between operators in the local backend (env CLIP_SPINNING).
 * Off: the gateway's own work (decoding images, HTTP) shares the cores with inference, and spinning
 * threads would take its time.
 */
const LOCAL_SPINNING = false;

export function defaultConfig(): GatewayConfig {
  const { allowNetworks, maxRedirects, timeoutMs } = DEFAULT_FETCH_IMAGE_OPTIONS;
  return {
    backend: {
      kind: 'local',
      // dtype and device unset: ClipModel's own defaults (fp32, cpu).
      model: { spinning: LOCAL_SPINNING },
    },
    maxBatchSize: DEFAULT_BATCHER_OPTIONS.maxBatchSize,
    imageMaxBatchSize: DEFAULT_IMAGE_MAX_BATCH_SIZE,
    maxDelayMs: DEFAULT_BATCHER_OPTIONS.maxDelayMs,
    dispatchWhenIdle: DEFAULT_BATCHER_OPTIONS.dispatchWhenIdle,
    textCacheSize: 10_000,
    imageCacheSize: 2_000,
    maxInputsPerRequest: 256,
    maxLabels: 1_000,
    maxTemplates: 32,
    bodyLimitBytes: 32 * 1024 * 1024,
    imageLimits: { ...DEFAULT_IMAGE_LIMITS },
    fetch: { allowNetworks: [...allowNetworks], maxRedirects, timeoutMs },
    corsOrigins: '*',
    sandbox: true,
    introspection: true,
    federation: false,
    requestTimeoutMs: 30_000,
    admission: { ...DEFAULT_ADMISSION_LIMITS },
    maxRequestsInFlight: 256,
    queryLimits: { ...DEFAULT_QUERY_LIMITS },
    persistedQueries: { ...DEFAULT_PERSISTED_QUERIES },
    maxSubscriptionsPerClient: 10,
    rateLimits: { ...DEFAULT_RATE_LIMITS },
    trustProxyHops: 0,
    store: { kind: 'sqlite', path: join(DEFAULT_DATA_DIR, CATALOGUE_FILE) },
    catalogue: { ...DEFAULT_CATALOGUE_LIMITS },
    jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS },
    webhooks: { ...DEFAULT_WEBHOOK_OPTIONS },
    apiKeys: [],
  };
}

const ORIGINS = listOf(nonEmpty, 'a comma-separated list of origins, or *');

/**
 * Every variable the gateway reads, with its meaning: docs/configuration.md is made from this by
 * `npm run docs:config`, with the defaults configFromEnv and listenFromEnv read each one with.
 */
export const CONFIGURATION_VARIABLES: VariableMeanings = {
  Listening: {
    PORT: 'the port the gateway listens on',
    HOST: { meaning: 'the interface it listens on', unset: 'all interfaces' },
  },
  ...BACKEND_VARIABLES,
  'Batching and caches': {
    BATCH_MAX_SIZE: 'most texts per model run',
    IMAGE_BATCH_MAX_SIZE: 'most images per model run (on CPU workers 32 ran slower than 16: `BENCHMARKS.md`)',
    BATCH_MAX_DELAY_MS: 'longest an input waits for others before its batch leaves, while a batch is running',
    BATCH_DISPATCH_WHEN_IDLE: "with no batch running, inputs leave at the end of the event loop's turn, not after the delay",
    TEXT_CACHE_SIZE: 'text embeddings kept (LRU entries): label prompts cost nothing after their first use',
    IMAGE_CACHE_SIZE: "image embeddings kept (LRU entries), by the SHA-256 of the image's bytes",
  },
  'Requests and images': {
    MAX_INPUTS_PER_REQUEST: 'inputs in one list argument',
    MAX_LABELS: 'labels of one `classify`',
    MAX_TEMPLATES: 'templates of one `classify`',
    BODY_LIMIT_BYTES: 'largest request body (a 20 MiB image in base64 fits)',
    IMAGE_MAX_BYTES: 'largest image, checked before decoding; an uploaded file is checked while it streams',
    IMAGE_MAX_PIXELS: 'most pixels of an image, read from its header before decoding',
    IMAGE_ICC_PROFILES: 'colour profiles: `ignore` them as PIL does, or `convert` to sRGB ([more](preprocessing.md#colour-profiles))',
    IMAGE_RESAMPLING: 'who resizes: `libvips` (fast, near PIL) or `pillow` (PIL bit for bit, slower; [more](preprocessing.md#resizing))',
    IMAGE_FETCH_TIMEOUT_MS: "deadline of one image URL's fetch",
    IMAGE_FETCH_MAX_REDIRECTS: 'redirects followed for one image URL, each checked again',
    IMAGE_FETCH_ALLOW_NETWORKS: 'CIDR ranges image URLs may reach despite the [SSRF rules](protection.md#image-urls), e.g. `127.0.0.0/8`',
  },
  'The API': {
    CORS_ORIGINS: 'comma-separated origins browsers may call from, `*` for any ([in production](protection.md#cors-and-csrf))',
    INTROSPECTION: 'answer schema introspection; `false` (for production) also turns Apollo Sandbox and `/graphiql` off',
    SANDBOX: 'Apollo Sandbox at `/graphql` for browsers; unset, it follows `INTROSPECTION`',
    FEDERATION: 'also serve the API as an Apollo Federation 2 subgraph at `/subgraph` (see [federation](federation.md))',
  },
  Protection: {
    REQUEST_TIMEOUT_MS: "a request's deadline; a client may ask for less with `x-request-timeout-ms`",
    MAX_REQUESTS_IN_FLIGHT: 'requests handled at once; more are refused with `OVERLOADED` (503) before their body is read',
    ADMISSION_MAX_WAIT_MS: {
      meaning:
        'longest an admitted request may wait for the inference admitted ahead of it; requests are otherwise admitted while their inference can be done within their deadline ([admission](protection.md#admission-control))',
      unset: 'its deadline alone',
    },
    ADMISSION_MAX_IMAGE_BYTES: 'bytes of encoded images held for embedding at once; an image over it fails alone with `OVERLOADED`',
    QUERY_MAX_DEPTH: "an operation's depth; over it, `QUERY_TOO_COMPLEX` (400) before it runs",
    QUERY_MAX_ALIASES: "an operation's aliases, the same way",
    QUERY_MAX_DIRECTIVES: "an operation's directives, the same way",
    QUERY_MAX_TOKENS: "an operation's tokens, counted while parsing",
    QUERY_MAX_COST: "an operation's cost: 1 a field (times `first` under a page), 1 a text or label prompt, 10 an image",
    PERSISTED_QUERIES:
      "[operations by hash](protection.md#persisted-queries): `apq` (automatic), `safelist` (only the list's operations run), `off`",
    PERSISTED_QUERIES_MANIFEST: "with `safelist`: the persisted query list, a JSON file in Apollo's manifest format",
    SUBSCRIPTIONS_MAX_PER_CLIENT:
      'subscriptions one client (its API key, else its address) may have open at once, over WebSocket and event streams; more are refused with `OVERLOADED`',
    RATE_LIMIT_INPUTS_PER_SECOND: 'per client (its API key, else its address): inference inputs a second; 0 turns the limit off',
    RATE_LIMIT_INPUTS_BURST: "per client: the inputs bucket's size",
    RATE_LIMIT_WRITES_PER_SECOND: 'per client: products written a second (upserted or deleted; 1 for any other mutation); 0 turns it off',
    RATE_LIMIT_WRITES_BURST: "per client: the writes bucket's size",
    RATE_LIMIT_BULK_WRITES_PER_SECOND:
      'per admin key: products its mutations write a second (imports in bulk, their inference bounded by admission, not by the inputs rate); 0 turns it off',
    RATE_LIMIT_BULK_WRITES_BURST: "per admin key: the bulk writes bucket's size",
    RATE_LIMIT_LOOPBACK: 'rate-limit clients on this machine too',
    TRUST_PROXY_HOPS: 'proxies in front whose `X-Forwarded-For` gives the address rate limits go by (1 behind a load balancer)',
    API_KEYS: '[keys](protection.md#api-keys), as comma-separated `<sha256 hex>:<read|write>`; none: mutations from loopback only',
  },
  'The catalogue': {
    ...STORE_VARIABLES,
    CATALOGUE_MAX_PRODUCTS: 'products of one upsert or delete, and ids of one filter; unset, it follows `MAX_INPUTS_PER_REQUEST`',
    CATALOGUE_MAX_IMAGES_PER_PRODUCT: 'images of one product',
    CATALOGUE_MAX_FACETS: 'facets of the taxonomy',
    CATALOGUE_MAX_LABELS: 'labels of one facet',
    CATALOGUE_MAX_TEMPLATES: 'templates of one facet',
    CATALOGUE_MAX_TREE_NODES: "categories of one TREE facet's taxonomy (Shopify's whole taxonomy has 10,595)",
    CATALOGUE_MAX_PAGE: 'largest `first` of a catalogue list or search',
    CATALOGUE_MAX_IMPORT_BYTES: "largest file `productsImport` reads (an admin key's multipart requests may carry files this large)",
    JOB_CHUNK_SIZE: 'jobs that embed images (re-embedding, a model change): products per chunk',
    JOB_TAG_CHUNK_SIZE: 'jobs that only tag from stored vectors (a taxonomy change, a re-tagging): products per chunk',
    JOB_LEASE_MS: "how long a gateway's claim on a chunk holds before another gateway may take the chunk over",
    JOB_POLL_MS: 'how often an idle gateway looks for job work',
    JOB_PAUSE_MS: 'pause between chunks, leaving the database to requests',
  },
  ...WEBHOOK_VARIABLES,
};

const BY_TIME =
  'admission goes by time (the inference admitted ahead of a request, at the measured cost per input, against its deadline). Unset it; ADMISSION_MAX_WAIT_MS bounds the wait if needed';
/** Variables no longer read, refused with what replaced them rather than silently ignored. */
const RETIRED_VARIABLES: Record<string, string> = {
  ADMISSION_MAX_IMAGES: BY_TIME,
  ADMISSION_MAX_TEXTS: BY_TIME,
  SUBSCRIPTIONS_MAX_PER_CONNECTION: 'subscriptions are bounded per client over every connection: set SUBSCRIPTIONS_MAX_PER_CLIENT',
};

/**
 * The configuration from environment variables (see CONFIGURATION_VARIABLES). Every value is checked as it is
 * read, and an error names the variable and quotes what it was set to.
 */
export function configFromEnv(env: Env = process.env): GatewayConfig {
  for (const [name, instead] of Object.entries(RETIRED_VARIABLES)) {
    if (env[name] !== undefined) throw new TypeError(`${name} is no longer read: ${instead}.`);
  }
  const read = new EnvReader(env);
  const base = defaultConfig();
  const backend = backendFromEnv(env, read, { spinning: LOCAL_SPINNING });
  const imageLimits = { ...base.imageLimits };
  imageLimits.maxBytes = read.get('IMAGE_MAX_BYTES', positiveInt, imageLimits.maxBytes);
  imageLimits.maxPixels = read.get('IMAGE_MAX_PIXELS', positiveInt, imageLimits.maxPixels);
  imageLimits.iccProfiles = read.get('IMAGE_ICC_PROFILES', oneOf(ICC_PROFILE_HANDLING), imageLimits.iccProfiles);
  imageLimits.resampling = read.get('IMAGE_RESAMPLING', oneOf(RESAMPLING), imageLimits.resampling);
  const origins = read.get('CORS_ORIGINS', ORIGINS, ['*']);
  const maxInputsPerRequest = read.get('MAX_INPUTS_PER_REQUEST', positiveInt, base.maxInputsPerRequest);
  const introspection = read.get('INTROSPECTION', bool, base.introspection);
  const { admission, queryLimits, rateLimits } = base;
  return {
    backend,
    maxBatchSize: read.get('BATCH_MAX_SIZE', positiveInt, base.maxBatchSize),
    imageMaxBatchSize: read.get('IMAGE_BATCH_MAX_SIZE', positiveInt, base.imageMaxBatchSize),
    maxDelayMs: read.get('BATCH_MAX_DELAY_MS', nonNegativeNumber, base.maxDelayMs),
    dispatchWhenIdle: read.get('BATCH_DISPATCH_WHEN_IDLE', bool, base.dispatchWhenIdle),
    textCacheSize: read.get('TEXT_CACHE_SIZE', positiveInt, base.textCacheSize),
    imageCacheSize: read.get('IMAGE_CACHE_SIZE', positiveInt, base.imageCacheSize),
    maxInputsPerRequest,
    maxLabels: read.get('MAX_LABELS', positiveInt, base.maxLabels),
    maxTemplates: read.get('MAX_TEMPLATES', positiveInt, base.maxTemplates),
    bodyLimitBytes: read.get('BODY_LIMIT_BYTES', positiveInt, base.bodyLimitBytes),
    imageLimits,
    fetch: {
      timeoutMs: read.get('IMAGE_FETCH_TIMEOUT_MS', timeoutMs, base.fetch.timeoutMs),
      maxRedirects: read.get('IMAGE_FETCH_MAX_REDIRECTS', nonNegativeInt, base.fetch.maxRedirects),
      allowNetworks: read.get('IMAGE_FETCH_ALLOW_NETWORKS', ALLOW_NETWORKS, [...base.fetch.allowNetworks]),
    },
    corsOrigins: origins.length === 0 || origins.includes('*') ? '*' : origins,
    // Sandbox cannot work without introspection: it follows INTROSPECTION unless set on its own.
    sandbox: read.get('SANDBOX', bool, introspection),
    introspection,
    federation: read.get('FEDERATION', bool, base.federation),
    requestTimeoutMs: read.get('REQUEST_TIMEOUT_MS', timeoutMs, base.requestTimeoutMs),
    admission: {
      maxWaitMs: read.optional('ADMISSION_MAX_WAIT_MS', positiveInt),
      maxImageBytes: read.get('ADMISSION_MAX_IMAGE_BYTES', positiveInt, admission.maxImageBytes),
    },
    maxRequestsInFlight: read.get('MAX_REQUESTS_IN_FLIGHT', positiveInt, base.maxRequestsInFlight),
    queryLimits: {
      maxDepth: read.get('QUERY_MAX_DEPTH', positiveInt, queryLimits.maxDepth),
      maxAliases: read.get('QUERY_MAX_ALIASES', positiveInt, queryLimits.maxAliases),
      maxDirectives: read.get('QUERY_MAX_DIRECTIVES', positiveInt, queryLimits.maxDirectives),
      maxTokens: read.get('QUERY_MAX_TOKENS', positiveInt, queryLimits.maxTokens),
      maxCost: read.get('QUERY_MAX_COST', positiveInt, queryLimits.maxCost),
    },
    persistedQueries: persistedQueriesFromEnv(read),
    maxSubscriptionsPerClient: read.get('SUBSCRIPTIONS_MAX_PER_CLIENT', positiveInt, base.maxSubscriptionsPerClient),
    rateLimits: {
      inputsPerSecond: read.get('RATE_LIMIT_INPUTS_PER_SECOND', nonNegativeNumber, rateLimits.inputsPerSecond),
      inputsBurst: read.get('RATE_LIMIT_INPUTS_BURST', positiveInt, rateLimits.inputsBurst),
      writesPerSecond: read.get('RATE_LIMIT_WRITES_PER_SECOND', nonNegativeNumber, rateLimits.writesPerSecond),
      writesBurst: read.get('RATE_LIMIT_WRITES_BURST', positiveInt, rateLimits.writesBurst),
      bulkWritesPerSecond: read.get('RATE_LIMIT_BULK_WRITES_PER_SECOND', nonNegativeNumber, rateLimits.bulkWritesPerSecond),
      bulkWritesBurst: read.get('RATE_LIMIT_BULK_WRITES_BURST', positiveInt, rateLimits.bulkWritesBurst),
      loopback: read.get('RATE_LIMIT_LOOPBACK', bool, rateLimits.loopback),
    },
    trustProxyHops: read.get('TRUST_PROXY_HOPS', nonNegativeInt, base.trustProxyHops),
    store: storeFromEnv(read),
    catalogue: {
      // An upsert is a list argument like any other: MAX_INPUTS_PER_REQUEST unless set on its own.
      maxProducts: read.get('CATALOGUE_MAX_PRODUCTS', positiveInt, maxInputsPerRequest),
      maxImagesPerProduct: read.get('CATALOGUE_MAX_IMAGES_PER_PRODUCT', positiveInt, base.catalogue.maxImagesPerProduct),
      maxFacets: read.get('CATALOGUE_MAX_FACETS', positiveInt, base.catalogue.maxFacets),
      maxLabels: read.get('CATALOGUE_MAX_LABELS', positiveInt, base.catalogue.maxLabels),
      maxTemplates: read.get('CATALOGUE_MAX_TEMPLATES', positiveInt, base.catalogue.maxTemplates),
      maxTreeNodes: read.get('CATALOGUE_MAX_TREE_NODES', positiveInt, base.catalogue.maxTreeNodes),
      maxFirst: read.get('CATALOGUE_MAX_PAGE', positiveInt, base.catalogue.maxFirst),
      maxImportBytes: read.get('CATALOGUE_MAX_IMPORT_BYTES', positiveInt, base.catalogue.maxImportBytes),
    },
    jobs: jobRunnerFromEnv(read),
    webhooks: webhooksFromEnv(read),
    apiKeys: read.get('API_KEYS', apiKeyList, base.apiKeys),
  };
}

/** Where the process listens (env PORT, default 4000; HOST, default all interfaces). */
export function listenFromEnv(env: Env = process.env): { port: number; host?: string } {
  const read = new EnvReader(env);
  return { port: read.get('PORT', integer(0, 65535), 4000), host: read.optional('HOST', nonEmpty) };
}
