import { configFromEnv, defaultConfig } from '../../gateway/config';

describe('configFromEnv', () => {
  it('gives the defaults for an empty environment', () => {
    expect(configFromEnv({})).toEqual(defaultConfig());
  });

  it('reads every variable', () => {
    const config = configFromEnv({
      CLIP_MODEL_DIR: '/models/clip',
      CLIP_DTYPE: 'q8',
      CLIP_DEVICE: 'cuda',
      LOCAL_WORKERS: '3',
      BATCH_MAX_SIZE: '64',
      BATCH_MAX_DELAY_MS: '2.5',
      IMAGE_MAX_BYTES: '1000000',
      IMAGE_FETCH_ALLOW_NETWORKS: '127.0.0.0/8, ::1/128',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      SANDBOX: 'false',
    });
    expect(config).toMatchObject({
      modelDir: '/models/clip',
      dtype: 'q8',
      device: 'cuda',
      localWorkers: 3,
      maxBatchSize: 64,
      maxDelayMs: 2.5,
      imageLimits: { maxBytes: 1_000_000 },
      fetch: { maxBytes: 1_000_000, allowNetworks: ['127.0.0.0/8', '::1/128'] },
      corsOrigins: ['https://a.example', 'https://b.example'],
      sandbox: false,
    });
  });

  it.each([
    [{ LOCAL_WORKERS: '1.5' }, 'localWorkers must be a non-negative integer: 1.5'],
    [{ BATCH_MAX_SIZE: 'many' }, 'BATCH_MAX_SIZE must be a positive integer: "many"'],
    [{ BATCH_MAX_DELAY_MS: '-1' }, 'BATCH_MAX_DELAY_MS must be a non-negative number: "-1"'],
    [{ CLIP_DTYPE: 'fp64' }, 'dtype must be one of fp32, fp16, q8'],
    [{ SANDBOX: 'maybe' }, 'SANDBOX must be true or false: "maybe"'],
    [{ IMAGE_FETCH_ALLOW_NETWORKS: '127.0.0.1' }, 'allowNetworks must be CIDR ranges'],
  ])('names the bad variable in %j', (env, message) => {
    expect(() => configFromEnv(env)).toThrow(message);
  });
});
