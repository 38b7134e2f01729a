import { Client } from 'pg';

import { configFromEnv, defaultConfig, listenFromEnv } from '../../gateway/config';

describe('configFromEnv', () => {
  it('ignores embedded colour profiles unless IMAGE_ICC_PROFILES=convert', () => {
    expect(configFromEnv({}).imageLimits.iccProfiles).toBe('ignore');
    expect(configFromEnv({ IMAGE_ICC_PROFILES: 'convert' }).imageLimits.iccProfiles).toBe('convert');
    expect(() => configFromEnv({ IMAGE_ICC_PROFILES: 'srgb' })).toThrow(/^IMAGE_ICC_PROFILES must be .*ignore.*convert.*got "srgb"/);
  });

  it('dispatches idle batches at once unless BATCH_DISPATCH_WHEN_IDLE=false', () => {
    expect(configFromEnv({}).dispatchWhenIdle).toBe(true);
    expect(configFromEnv({ BATCH_DISPATCH_WHEN_IDLE: 'false' }).dispatchWhenIdle).toBe(false);
    expect(() => configFromEnv({ BATCH_DISPATCH_WHEN_IDLE: 'soon' })).toThrow(/^BATCH_DISPATCH_WHEN_IDLE must be/);
  });

  it('resizes with libvips unless IMAGE_RESAMPLING=pillow', () => {
    expect(configFromEnv({}).imageLimits.resampling).toBe('libvips');
    expect(configFromEnv({ IMAGE_RESAMPLING: 'pillow' }).imageLimits.resampling).toBe('pillow');
    expect(() => configFromEnv({ IMAGE_RESAMPLING: 'pil' })).toThrow(/^IMAGE_RESAMPLING must be .*libvips.*pillow.*got "pil"/);
  });

  it("reads the catalogue's limits, an upsert's size following MAX_INPUTS_PER_REQUEST unless set on its own", () => {
    expect(configFromEnv({}).catalogue).toEqual({
      maxProducts: 256,
      maxImagesPerProduct: 10,
      maxFacets: 32,
      maxLabels: 1000,
      maxTemplates: 32,
      maxFirst: 500,
      maxTreeNodes: 20_000,
      maxImportBytes: 268_435_456,
    });
    expect(configFromEnv({ MAX_INPUTS_PER_REQUEST: '64' }).catalogue.maxProducts).toBe(64);
    const set = configFromEnv({
      MAX_INPUTS_PER_REQUEST: '64',
      CATALOGUE_MAX_PRODUCTS: '1000',
      CATALOGUE_MAX_IMAGES_PER_PRODUCT: '3',
      CATALOGUE_MAX_FACETS: '4',
      CATALOGUE_MAX_LABELS: '50',
      CATALOGUE_MAX_TEMPLATES: '2',
      CATALOGUE_MAX_PAGE: '100',
      CATALOGUE_MAX_TREE_NODES: '500',
      CATALOGUE_MAX_IMPORT_BYTES: '1048576',
    }).catalogue;
    expect(set).toEqual({
      maxProducts: 1000,
      maxImagesPerProduct: 3,
      maxFacets: 4,
      maxLabels: 50,
      maxTemplates: 2,
      maxFirst: 100,
      maxTreeNodes: 500,
      maxImportBytes: 1_048_576,
    });
    expect(() => configFromEnv({ CATALOGUE_MAX_IMAGES_PER_PRODUCT: '0' })).toThrow(/^CATALOGUE_MAX_IMAGES_PER_PRODUCT must be .*got "0"/);
  });

  it('keeps the catalogue in DATA_DIR, or in PostgreSQL with DATABASE_URL', () => {
    expect(configFromEnv({}).store).toEqual({ kind: 'sqlite', path: 'data/catalogue.sqlite' });
    expect(configFromEnv({ DATA_DIR: '/var/lib/clip' }).store).toEqual({ kind: 'sqlite', path: '/var/lib/clip/catalogue.sqlite' });
    expect(configFromEnv({ DATABASE_URL: 'postgres://u:p@db:5432/clip' }).store).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@db:5432/clip',
    });
    expect(() => configFromEnv({ DATABASE_URL: 'mysql://db/clip' })).toThrow(
      /^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL, got "mysql:\/\/db\/clip"/,
    );
    expect(() => configFromEnv({ DATA_DIR: '/d', DATABASE_URL: 'postgres://db/clip' })).toThrow(/DATA_DIR and DATABASE_URL/);
  });

  it('puts DATABASE_PASSWORD into DATABASE_URL, percent-encoded so that pg reads back exactly the password', () => {
    const password = 'p@ss/w:rd%41 +?#&é';
    const store = configFromEnv({
      DATABASE_URL: 'postgres://clip@db.example:5432/catalogue?sslmode=no-verify',
      DATABASE_PASSWORD: password,
    }).store;
    expect(store).toEqual({
      kind: 'postgres',
      url: 'postgres://clip:p%40ss%2Fw%3Ard%2541%20%2B%3F%23%26%C3%A9@db.example:5432/catalogue?sslmode=no-verify',
    });
    // What the store hands to pg: every part of the URL survives, the password decoded as given.
    const client = new Client({ connectionString: (store as { url: string }).url });
    expect([client.user, client.password, client.host, client.port, client.database]).toEqual([
      'clip',
      password,
      'db.example',
      5432,
      'catalogue',
    ]);
  });

  it('replaces a password already in DATABASE_URL, and keeps spaces that belong to DATABASE_PASSWORD', () => {
    const { store } = configFromEnv({ DATABASE_URL: 'postgresql://u:old@db/clip', DATABASE_PASSWORD: ' two words ' });
    expect(store).toEqual({ kind: 'postgres', url: 'postgresql://u:%20two%20words%20@db/clip' });
    expect(new Client({ connectionString: (store as { url: string }).url }).password).toBe(' two words ');
  });

  it('refuses DATABASE_PASSWORD without DATABASE_URL, or with a URL that names no host, without quoting it', () => {
    expect(() => configFromEnv({ DATABASE_PASSWORD: 's3cret' })).toThrow(
      new TypeError(
        'DATABASE_PASSWORD is set without DATABASE_URL: it is the password for the PostgreSQL database DATABASE_URL names, so set both',
      ),
    );
    expect(() => configFromEnv({ DATA_DIR: '/d', DATABASE_PASSWORD: 's3cret' })).toThrow(/DATABASE_PASSWORD is set without DATABASE_URL/);
    expect(() => configFromEnv({ DATABASE_URL: 'postgres:///clip?host=/var/run/postgresql', DATABASE_PASSWORD: 's3cret' })).toThrow(
      /DATABASE_PASSWORD cannot go into DATABASE_URL, which names no host/,
    );
    for (const env of [{ DATABASE_PASSWORD: 's3cret' }, { DATABASE_URL: 'postgres:///clip', DATABASE_PASSWORD: 's3cret' }]) {
      expect(() => configFromEnv(env)).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cret') }));
    }
  });

  it('treats a blank DATABASE_PASSWORD as unset', () => {
    expect(configFromEnv({ DATABASE_URL: 'postgres://u@db/clip', DATABASE_PASSWORD: '  ' }).store).toEqual({
      kind: 'postgres',
      url: 'postgres://u@db/clip',
    });
    expect(configFromEnv({ DATABASE_PASSWORD: '' }).store).toEqual({ kind: 'sqlite', path: 'data/catalogue.sqlite' });
  });

  it('keeps the vectors in Milvus with VECTOR_INDEX=milvus, MILVUS_ADDRESS and MILVUS_TOKEN, beside either store', () => {
    expect(configFromEnv({}).store).not.toHaveProperty('milvus');
    expect(configFromEnv({ VECTOR_INDEX: 'embedded' }).store).toEqual({ kind: 'sqlite', path: 'data/catalogue.sqlite' });
    const zilliz = {
      VECTOR_INDEX: 'milvus',
      MILVUS_ADDRESS: 'https://in03-abc.serverless.gcp-us-west1.cloud.zilliz.com',
      MILVUS_TOKEN: 'k3y',
    };
    expect(configFromEnv(zilliz).store).toEqual({
      kind: 'sqlite',
      path: 'data/catalogue.sqlite',
      milvus: { address: 'https://in03-abc.serverless.gcp-us-west1.cloud.zilliz.com', token: 'k3y', rebuild: false },
    });
    expect(
      configFromEnv({
        DATABASE_URL: 'postgres://u@db/clip',
        VECTOR_INDEX: 'milvus',
        MILVUS_ADDRESS: 'http://localhost:19530',
        MILVUS_TOKEN: 'root:Milvus',
        MILVUS_DATABASE: 'shop',
        MILVUS_COLLECTION_PREFIX: 'staging_',
        VECTOR_INDEX_REBUILD: '1',
      }).store,
    ).toEqual({
      kind: 'postgres',
      url: 'postgres://u@db/clip',
      milvus: { address: 'http://localhost:19530', token: 'root:Milvus', database: 'shop', collectionPrefix: 'staging_', rebuild: true },
    });
  });

  it('refuses a Milvus configuration that is incomplete, or set without VECTOR_INDEX=milvus, naming the variable and never quoting the token', () => {
    expect(() => configFromEnv({ VECTOR_INDEX: 'faiss' })).toThrow(
      new TypeError('VECTOR_INDEX must be one of embedded, milvus, got "faiss"'),
    );
    expect(() => configFromEnv({ VECTOR_INDEX: 'milvus' })).toThrow(
      new TypeError(
        "VECTOR_INDEX=milvus needs MILVUS_ADDRESS: the cluster's http(s) URL (Zilliz Cloud: its public endpoint; Milvus: http://host:19530)",
      ),
    );
    expect(() => configFromEnv({ VECTOR_INDEX: 'milvus', MILVUS_ADDRESS: 'http://localhost:19530' })).toThrow(
      new TypeError('VECTOR_INDEX=milvus needs MILVUS_TOKEN: a Zilliz Cloud API key, or user:password for Milvus'),
    );
    expect(() => configFromEnv({ VECTOR_INDEX: 'milvus', MILVUS_ADDRESS: 'localhost:19530', MILVUS_TOKEN: 't' })).toThrow(
      new TypeError('MILVUS_ADDRESS must be an http(s) URL, got "localhost:19530"'),
    );
    expect(() => configFromEnv({ MILVUS_ADDRESS: 'http://localhost:19530' })).toThrow(
      new TypeError(
        'MILVUS_ADDRESS is set but VECTOR_INDEX is embedded: set VECTOR_INDEX=milvus to keep the vectors in Milvus, or unset it',
      ),
    );
    expect(() => configFromEnv({ MILVUS_TOKEN: 's3cret', VECTOR_INDEX_REBUILD: 'yes' })).toThrow(
      new TypeError(
        'MILVUS_TOKEN, VECTOR_INDEX_REBUILD are set but VECTOR_INDEX is embedded: set VECTOR_INDEX=milvus to keep the vectors in Milvus, or unset them',
      ),
    );
    expect(() =>
      configFromEnv({ VECTOR_INDEX: 'milvus', MILVUS_ADDRESS: 'http://m:19530', MILVUS_TOKEN: 's3cret', MILVUS_COLLECTION_PREFIX: '9x' }),
    ).toThrow(
      /^MILVUS_COLLECTION_PREFIX must be letters, digits and underscores, starting with a letter or an underscore, at most 160 characters, got "9x"$/,
    );
    for (const env of [{ MILVUS_TOKEN: 's3cret' }, { VECTOR_INDEX: 'milvus', MILVUS_TOKEN: 's3cret' }]) {
      expect(() => configFromEnv(env)).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cret') }));
    }
  });

  it('treats a blank SPILL_AFTER_MS or GPU_WAKE_INTERVAL_MS as unset without a spillover, as it treats every variable', () => {
    for (const name of ['SPILL_AFTER_MS', 'GPU_WAKE_INTERVAL_MS']) {
      expect(configFromEnv({ [name]: '' }).backend).toMatchObject({ kind: 'local' });
      expect(configFromEnv({ [name]: '  ' }).backend).toMatchObject({ kind: 'local' });
    }
  });

  it('reads the protection settings: deadlines, admission, query and rate limits, introspection and proxies', () => {
    expect(configFromEnv({})).toMatchObject({
      requestTimeoutMs: 30_000,
      admission: { maxWaitMs: undefined, maxImageBytes: 256 * 1024 * 1024 },
      maxRequestsInFlight: 256,
      queryLimits: { maxDepth: 10, maxAliases: 15, maxDirectives: 20, maxTokens: 4000, maxCost: 50_000 },
      rateLimits: { inputsPerSecond: 20, inputsBurst: 512, writesPerSecond: 10, writesBurst: 256, loopback: false },
      introspection: true,
      sandbox: true,
      trustProxyHops: 0,
    });
    const config = configFromEnv({
      REQUEST_TIMEOUT_MS: '5000',
      ADMISSION_MAX_WAIT_MS: '2500',
      ADMISSION_MAX_IMAGE_BYTES: '1000000',
      QUERY_MAX_DEPTH: '6',
      QUERY_MAX_ALIASES: '3',
      QUERY_MAX_DIRECTIVES: '4',
      QUERY_MAX_TOKENS: '500',
      QUERY_MAX_COST: '900',
      RATE_LIMIT_INPUTS_PER_SECOND: '0.5',
      RATE_LIMIT_INPUTS_BURST: '10',
      RATE_LIMIT_WRITES_PER_SECOND: '0',
      RATE_LIMIT_WRITES_BURST: '2',
      RATE_LIMIT_LOOPBACK: 'true',
      INTROSPECTION: 'false',
      TRUST_PROXY_HOPS: '1',
    });
    expect(config).toMatchObject({
      requestTimeoutMs: 5000,
      admission: { maxWaitMs: 2500, maxImageBytes: 1_000_000 },
      queryLimits: { maxDepth: 6, maxAliases: 3, maxDirectives: 4, maxTokens: 500, maxCost: 900 },
      rateLimits: { inputsPerSecond: 0.5, inputsBurst: 10, writesPerSecond: 0, writesBurst: 2, loopback: true },
      introspection: false,
      // Sandbox cannot work without introspection, so it follows unless set on its own.
      sandbox: false,
      trustProxyHops: 1,
    });
    expect(configFromEnv({ INTROSPECTION: 'false', SANDBOX: 'true' }).sandbox).toBe(true);
    expect(() => configFromEnv({ ADMISSION_MAX_WAIT_MS: '0' })).toThrow(/^ADMISSION_MAX_WAIT_MS must be/);
    // The counts admission went by before it went by time are refused, not silently ignored.
    for (const name of ['ADMISSION_MAX_IMAGES', 'ADMISSION_MAX_TEXTS']) {
      expect(() => configFromEnv({ [name]: '32' })).toThrow(
        new RegExp(`^${name} is no longer read: admission goes by time .* ADMISSION_MAX_WAIT_MS bounds the wait`),
      );
    }
    expect(() => configFromEnv({ RATE_LIMIT_INPUTS_PER_SECOND: 'fast' })).toThrow(/^RATE_LIMIT_INPUTS_PER_SECOND must be/);
    expect(() => configFromEnv({ REQUEST_TIMEOUT_MS: '-1' })).toThrow(/^REQUEST_TIMEOUT_MS must be/);
  });

  it('reads how operations sent by hash are treated: automatic persisted queries unless told, a safelist only with its list', () => {
    expect(configFromEnv({}).persistedQueries).toEqual({ mode: 'apq', manifest: undefined });
    expect(configFromEnv({ PERSISTED_QUERIES: 'off' }).persistedQueries).toEqual({ mode: 'off', manifest: undefined });
    expect(configFromEnv({ PERSISTED_QUERIES: 'safelist', PERSISTED_QUERIES_MANIFEST: 'ops.json' }).persistedQueries).toEqual({
      mode: 'safelist',
      manifest: 'ops.json',
    });
    expect(() => configFromEnv({ PERSISTED_QUERIES: 'strict' })).toThrow(
      /^PERSISTED_QUERIES must be one of apq, safelist, off, got "strict"/,
    );
    expect(() => configFromEnv({ PERSISTED_QUERIES: 'safelist' })).toThrow(
      'PERSISTED_QUERIES=safelist needs PERSISTED_QUERIES_MANIFEST: the persisted query list whose operations alone run',
    );
    expect(() => configFromEnv({ PERSISTED_QUERIES_MANIFEST: 'ops.json' })).toThrow(
      'PERSISTED_QUERIES_MANIFEST is set but PERSISTED_QUERIES is apq: the list is used with PERSISTED_QUERIES=safelist',
    );
  });

  it('gives the defaults for an empty environment', () => {
    expect(configFromEnv({})).toEqual(defaultConfig());
  });

  it('reads every variable', () => {
    const config = configFromEnv({
      CLIP_MODEL_DIR: '/models/clip',
      CLIP_DTYPE: 'q8',
      CLIP_DEVICE: 'cuda',
      CLIP_SPINNING: 'on',
      LOCAL_WORKERS: '3',
      BATCH_MAX_SIZE: '64',
      IMAGE_BATCH_MAX_SIZE: '8',
      BATCH_MAX_DELAY_MS: '2.5',
      TEXT_CACHE_SIZE: '7',
      IMAGE_CACHE_SIZE: '8',
      MAX_INPUTS_PER_REQUEST: '9',
      MAX_LABELS: '10',
      MAX_TEMPLATES: '11',
      BODY_LIMIT_BYTES: '12345',
      IMAGE_MAX_BYTES: '1000000',
      IMAGE_MAX_PIXELS: '2000000',
      IMAGE_FETCH_TIMEOUT_MS: '1500',
      IMAGE_FETCH_MAX_REDIRECTS: '0',
      IMAGE_FETCH_ALLOW_NETWORKS: '127.0.0.0/8, ::1/128',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      SANDBOX: 'false',
    });
    expect(config).toMatchObject({
      backend: { kind: 'local', modelDir: '/models/clip', workers: 3, model: { dtype: 'q8', device: 'cuda', spinning: true } },
      maxBatchSize: 64,
      imageMaxBatchSize: 8,
      maxDelayMs: 2.5,
      textCacheSize: 7,
      imageCacheSize: 8,
      maxInputsPerRequest: 9,
      maxLabels: 10,
      maxTemplates: 11,
      bodyLimitBytes: 12345,
      imageLimits: { maxBytes: 1_000_000, maxPixels: 2_000_000 },
      fetch: { timeoutMs: 1500, maxRedirects: 0, allowNetworks: ['127.0.0.0/8', '::1/128'] },
      corsOrigins: ['https://a.example', 'https://b.example'],
      sandbox: false,
    });
  });

  it('reads CLIP_MODEL as a hub model of the local backend, resolved only when the gateway starts', () => {
    const { backend } = configFromEnv({
      CLIP_MODEL: 'Xenova/clip-vit-base-patch32',
      CLIP_MODEL_REVISION: 'v2',
      HF_HUB_CACHE: '/cache',
      CLIP_DTYPE: 'q8',
    });
    expect(backend).toMatchObject({
      kind: 'local',
      modelDir: undefined,
      hub: { repo: 'Xenova/clip-vit-base-patch32', revision: 'v2', cacheDir: '/cache', offline: false },
      model: { dtype: 'q8' },
    });
    expect(() => configFromEnv({ CLIP_MODEL: 'owner/a', CLIP_MODEL_DIR: '/models/b' })).toThrow(
      /^CLIP_MODEL_DIR \("\/models\/b"\) and CLIP_MODEL \("owner\/a"\) are both set/,
    );
    expect(() => configFromEnv({ CLIP_MODEL: 'owner/a', HF_TOKEN: 'secret' })).toThrow(
      /^HF_TOKEN does not start with hf_ \(its value is not shown\)/,
    );
  });

  it('gives a remote backend no model to download: the function reads CLIP_MODEL itself', () => {
    const { backend } = configFromEnv({ INFERENCE_BACKEND: 'http', CLIP_FUNCTION_URL: 'http://fn:8080', CLIP_MODEL: 'owner/a' });
    expect(backend.kind).toBe('http');
    expect(backend).not.toHaveProperty('hub');
  });

  it('reads a remote backend with its call settings', () => {
    expect(
      configFromEnv({
        INFERENCE_BACKEND: 'lambda',
        LAMBDA_FUNCTION_NAME: 'clip',
        REMOTE_TIMEOUT_MS: '5000',
        REMOTE_MAX_ATTEMPTS: '2',
        REMOTE_MAX_IN_FLIGHT: '4',
        REMOTE_MAX_REQUEST_BYTES: '1000000',
        CIRCUIT_FAILURE_THRESHOLD: '3',
        CIRCUIT_COOLDOWN_MS: '0',
        REMOTE_READY_CACHE_MS: '1000',
        REMOTE_READY_TIMEOUT_MS: '500',
      }).backend,
    ).toMatchObject({
      kind: 'lambda',
      functionName: 'clip',
      remote: {
        timeoutMs: 5000,
        maxAttempts: 2,
        maxInFlight: 4,
        maxRequestBytes: 1_000_000,
        circuit: { failureThreshold: 3, cooldownMs: 0 },
      },
    });
    expect(configFromEnv({ INFERENCE_BACKEND: 'http', CLIP_FUNCTION_URL: 'http://gpu:8080' }).backend).toMatchObject({
      kind: 'http',
      url: 'http://gpu:8080',
    });
  });

  it('reads headers for an HTTP function behind a platform that wants its own auth, and never quotes their values', () => {
    const env = { INFERENCE_BACKEND: 'http', CLIP_FUNCTION_URL: 'https://abc.api.runpod.ai' };
    expect(configFromEnv({ ...env, CLIP_FUNCTION_HEADERS: '{"Authorization":"Bearer rpa_secret"}' }).backend).toMatchObject({
      kind: 'http',
      headers: { Authorization: 'Bearer rpa_secret' },
    });
    for (const [headers, message] of [
      ['Bearer rpa_secret', 'CLIP_FUNCTION_HEADERS is not JSON (its value is not shown)'],
      ['["rpa_secret"]', 'CLIP_FUNCTION_HEADERS is not a JSON object (its value is not shown)'],
      ['{"Content-Type":"text/plain"}', 'CLIP_FUNCTION_HEADERS sets Content-Type, which the gateway sets itself'],
      ['{"Bad Name":"rpa_secret"}', 'CLIP_FUNCTION_HEADERS has "Bad Name", which is not a header name'],
      [
        '{"Authorization":"Bearer rpa_secret\\r\\nX-Injected: 1"}',
        'CLIP_FUNCTION_HEADERS gives Authorization a value that is not a one-line string',
      ],
    ]) {
      expect(() => configFromEnv({ ...env, CLIP_FUNCTION_HEADERS: headers })).toThrow(message);
      expect(() => configFromEnv({ ...env, CLIP_FUNCTION_HEADERS: headers })).not.toThrow(/rpa_secret/);
    }
  });

  it('reads a SageMaker primary with a spillover as two tiers', () => {
    expect(
      configFromEnv({
        INFERENCE_BACKEND: 'sagemaker',
        SAGEMAKER_ENDPOINT: 'clip-gpu',
        SAGEMAKER_INFERENCE_COMPONENT: 'clip-gpu-component',
        SPILLOVER_BACKEND: 'lambda',
        LAMBDA_FUNCTION_NAME: 'clip-cpu',
        REMOTE_TIMEOUT_MS: '5000',
        SPILL_AFTER_MS: '250',
        GPU_WAKE_INTERVAL_MS: '60000',
      }).backend,
    ).toMatchObject({
      kind: 'tiered',
      primary: { kind: 'sagemaker', endpointName: 'clip-gpu', inferenceComponent: 'clip-gpu-component', remote: { timeoutMs: 5000 } },
      spillover: { kind: 'lambda', functionName: 'clip-cpu', remote: { timeoutMs: 5000 } },
      tiering: { spillAfterMs: 250, wakeIntervalMs: 60_000 },
    });
    const local = configFromEnv({
      INFERENCE_BACKEND: 'http',
      CLIP_FUNCTION_URL: 'http://gpu:8080',
      SPILLOVER_BACKEND: 'local',
      CLIP_MODEL_DIR: '/models/clip',
      LOCAL_WORKERS: '1',
    }).backend;
    expect(local).toMatchObject({
      kind: 'tiered',
      primary: { kind: 'http', url: 'http://gpu:8080' },
      spillover: { kind: 'local', modelDir: '/models/clip', workers: 1 },
      tiering: { spillAfterMs: 1000, wakeIntervalMs: 20_000 },
    });
    expect(configFromEnv({ INFERENCE_BACKEND: 'sagemaker', SAGEMAKER_ENDPOINT: 'clip' }).backend).toEqual({
      kind: 'sagemaker',
      endpointName: 'clip',
      remote: expect.any(Object),
    });
  });

  it.each([
    [{ LOCAL_WORKERS: '1.5' }, 'LOCAL_WORKERS must be a non-negative integer, got "1.5"'],
    [{ LOCAL_WORKERS: 'x' }, 'LOCAL_WORKERS must be a non-negative integer, got "x"'],
    [{ BATCH_MAX_SIZE: 'many' }, 'BATCH_MAX_SIZE must be a positive integer, got "many"'],
    [{ BATCH_MAX_DELAY_MS: '-1' }, 'BATCH_MAX_DELAY_MS must be a non-negative number, got "-1"'],
    [{ CLIP_DTYPE: 'fp64' }, 'CLIP_DTYPE must be one of fp32, fp16, q8, int8, uint8, q4, bnb4, q4f16, got "fp64"'],
    [{ CLIP_DEVICE: 'tpu' }, 'CLIP_DEVICE must be one of cpu, cuda, got "tpu"'],
    [{ SANDBOX: 'maybe' }, 'SANDBOX must be true or false, got "maybe"'],
    [{ IMAGE_FETCH_ALLOW_NETWORKS: '127.0.0.1' }, 'IMAGE_FETCH_ALLOW_NETWORKS must be CIDR ranges such as "127.0.0.0/8", got "127.0.0.1"'],
    [{ INFERENCE_BACKEND: 'gpu' }, 'INFERENCE_BACKEND must be one of local, lambda, http, sagemaker, got "gpu"'],
    [{ INFERENCE_BACKEND: 'sagemaker' }, 'SAGEMAKER_ENDPOINT must be set when INFERENCE_BACKEND is sagemaker'],
    [
      { INFERENCE_BACKEND: 'sagemaker', SAGEMAKER_ENDPOINT: 'clip', SPILLOVER_BACKEND: 'sagemaker' },
      'SPILLOVER_BACKEND must be one of local, lambda, http, got "sagemaker"',
    ],
    [
      { INFERENCE_BACKEND: 'sagemaker', SAGEMAKER_ENDPOINT: 'clip', SPILLOVER_BACKEND: 'lambda' },
      'LAMBDA_FUNCTION_NAME must be set when SPILLOVER_BACKEND is lambda',
    ],
    [
      { INFERENCE_BACKEND: 'http', CLIP_FUNCTION_URL: 'http://gpu:8080', SPILLOVER_BACKEND: 'http' },
      'SPILLOVER_FUNCTION_URL must be set when SPILLOVER_BACKEND is http',
    ],
    [
      { SPILLOVER_BACKEND: 'lambda', LAMBDA_FUNCTION_NAME: 'clip' },
      'SPILLOVER_BACKEND is lambda but INFERENCE_BACKEND is local: a spillover stands in for a remote GPU primary, so INFERENCE_BACKEND must be sagemaker or http',
    ],
    [
      { INFERENCE_BACKEND: 'sagemaker', SAGEMAKER_ENDPOINT: 'clip', SPILL_AFTER_MS: '500' },
      'SPILL_AFTER_MS is set ("500") but SPILLOVER_BACKEND is not: it only applies to a primary with a spillover',
    ],
    [
      { INFERENCE_BACKEND: 'sagemaker', SAGEMAKER_ENDPOINT: 'clip', SPILLOVER_BACKEND: 'local', GPU_WAKE_INTERVAL_MS: '0' },
      'GPU_WAKE_INTERVAL_MS must be an integer from 1',
    ],
    [
      { INFERENCE_BACKEND: 'sagemaker', SAGEMAKER_ENDPOINT: 'clip', SPILLOVER_BACKEND: 'local', SPILL_AFTER_MS: 'soon' },
      'SPILL_AFTER_MS must be a non-negative integer, got "soon"',
    ],
    [{ INFERENCE_BACKEND: 'lambda' }, 'LAMBDA_FUNCTION_NAME must be set when INFERENCE_BACKEND is lambda'],
    [{ INFERENCE_BACKEND: 'http', CLIP_FUNCTION_URL: 'ftp://x' }, 'CLIP_FUNCTION_URL must be an http(s) URL, got "ftp://x"'],
    [{ INFERENCE_BACKEND: 'lambda', LAMBDA_FUNCTION_NAME: 'clip', REMOTE_TIMEOUT_MS: '0' }, 'REMOTE_TIMEOUT_MS must be an integer from 1'],
  ])('names the bad variable in %j', (env, message) => {
    expect(() => configFromEnv(env)).toThrow(message);
  });
});

describe('listenFromEnv', () => {
  it('reads PORT and HOST, and names a bad PORT', () => {
    expect(listenFromEnv({})).toEqual({ port: 4000, host: undefined });
    expect(listenFromEnv({ PORT: '0', HOST: '127.0.0.1' })).toEqual({ port: 0, host: '127.0.0.1' });
    expect(() => listenFromEnv({ PORT: '70000' })).toThrow('PORT must be an integer from 0 to 65535, got "70000"');
  });
});
