import { getIntrospectionQuery } from 'graphql';

import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda } from '../../../functions/lambda-local/server';
import { LambdaTransport, RemoteBackend } from '../../../gateway/backends';
import { newApiKey } from '../../../gateway/common/auth';
import type { GatewayConfig } from '../../../gateway/config';
import { BATCH_REFUSED, EXPLORER_OFF } from '../../../gateway/host';
import { DEFAULT_QUERY_LIMITS } from '../../../gateway/limits';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';

type Body = { data?: unknown; errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[] };
interface Answer {
  status: number;
  headers: Headers;
  body: Body;
  ms: number;
}

async function post(origin: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Body, ms: Date.now() - started };
}

const codes = (answer: Answer) => (answer.body.errors ?? []).map((e) => e.extensions?.code);
const EMBED = `query($inputs: [MediaInput!]!) { embed(inputs: $inputs) { dim } }`;
const texts = (...values: string[]) => ({ query: EMBED, variables: { inputs: values.map((text) => ({ text })) } });

/** Inference batches the gateway has run, of either kind. */
async function batchesRun(gateway: RunningGateway): Promise<number> {
  const { values } = await gateway.gateway.metrics.inference.get();
  return values.filter((v) => v.metricName === 'clip_gateway_inference_seconds_count').reduce((sum, v) => sum + v.value, 0);
}

describe('query limits, over HTTP, before anything runs', () => {
  let gateway: RunningGateway;
  let images: string[];
  beforeAll(async () => {
    gateway = await startGateway({ queryLimits: { ...DEFAULT_QUERY_LIMITS, maxCost: 100 } });
    const random = seededRandom(7);
    images = await Promise.all(
      Array.from({ length: 11 }, async () => (await drawShape(loadReference(), 'red circle', random)).toString('base64')),
    );
  });
  afterAll(() => gateway.stop());

  it('answers the introspection query Sandbox and GraphiQL send, within every limit (introspection costs nothing)', async () => {
    const answer = await post(gateway.origin, { query: getIntrospectionQuery() });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
  });

  it('refuses too deep, too many aliases, too many directives and too many tokens with QUERY_TOO_COMPLEX', async () => {
    const ofTypes = (n: number): string => (n === 0 ? 'name' : `ofType { ${ofTypes(n - 1)} }`);
    const deep = await post(gateway.origin, { query: `{ __type(name: "Query") { fields { type { ${ofTypes(8)} } } } }` });
    expect(deep.status).toBe(400);
    expect(codes(deep)).toContain('QUERY_TOO_COMPLEX');
    expect(deep.body.errors![0].message).toMatch(/query depth limit of 10 exceeded, found 12 \(QUERY_MAX_DEPTH\)/);

    const aliases = Array.from({ length: 16 }, (_, i) => `m${i}: model { name }`).join(' ');
    const aliased = await post(gateway.origin, { query: `{ ${aliases} }` });
    expect(aliased.status).toBe(400);
    expect(aliased.body.errors![0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
    expect(aliased.body.errors![0].message).toMatch(/aliases.*15.*\(QUERY_MAX_ALIASES\)/i);

    const directives = Array.from({ length: 21 }, () => `... on Query @include(if: true) { __typename }`).join(' ');
    const directed = await post(gateway.origin, { query: `{ ${directives} }` });
    expect(directed.status).toBe(400);
    expect(directed.body.errors![0].message).toMatch(/directives.*20.*\(QUERY_MAX_DIRECTIVES\)/i);

    const tokens = await post(gateway.origin, { query: `{ model { ${'name '.repeat(4100)} } }` });
    expect(tokens.status).toBe(400);
    expect(tokens.body.errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/more than 4000 tokens \(QUERY_MAX_TOKENS\)/),
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      }),
    ]);
  });

  it('refuses an operation over the cost limit, counting its list by length, without running inference', async () => {
    const before = await batchesRun(gateway);
    const inputs = images.map((imageBase64) => ({ imageBase64 }));
    const refused = await post(gateway.origin, { query: EMBED, variables: { inputs } });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors![0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
    expect(refused.body.errors![0].message).toMatch(/its cost is 112, over the limit of 100.*\(QUERY_MAX_COST\)/);
    expect(await batchesRun(gateway)).toBe(before);
    // Nine images (cost 92) fit, and run.
    const admitted = await post(gateway.origin, { query: EMBED, variables: { inputs: inputs.slice(0, 9) } });
    expect(admitted.body.errors).toBeUndefined();
    expect(await batchesRun(gateway)).toBeGreaterThan(before);
  });

  it('refuses a page over CATALOGUE_MAX_PAGE for what it is, naming the bound and its variable, before the cost', async () => {
    const before = await batchesRun(gateway);
    // Its cost (over 300,000) is over the limit of 100 too; what the client must change is first.
    const products = await post(gateway.origin, { query: '{ products(first: 100000) { edges { node { id } } } }' });
    expect(products.status).toBe(400);
    expect(products.body.errors).toEqual([
      {
        message:
          'products asks for first: 100000, over the most one page holds, 500 (CATALOGUE_MAX_PAGE): ask for at most 500 and follow pageInfo.endCursor with after for the rest.',
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
    // In a variable, on a list without a cursor, and nested under a page within the bound.
    const search = await post(gateway.origin, {
      query: 'query($n: Int!) { productSearch(query: { text: "a red circle" }, first: $n) { score } }',
      variables: { n: 501 },
    });
    expect(search.status).toBe(400);
    expect(search.body.errors![0].message).toBe(
      'productSearch asks for first: 501, over the most one page holds, 500 (CATALOGUE_MAX_PAGE): ask for at most 500.',
    );
    const nested = await post(gateway.origin, { query: '{ products(first: 2) { edges { node { similar(first: 1000) { id } } } } }' });
    expect(nested.body.errors![0].message).toMatch(/^similar asks for first: 1000, .* \(CATALOGUE_MAX_PAGE\)/);
    expect(await batchesRun(gateway)).toBe(before);
    // A page within the bound is judged by its cost as before.
    const page = await post(gateway.origin, { query: '{ products(first: 5) { edges { node { id } } } }' });
    expect(page.status).toBe(200);
    expect(page.body.errors).toBeUndefined();
  });

  it('refuses batched operations (a JSON array) in one sentence', async () => {
    const batched = await post(gateway.origin, [{ query: '{ model { name } }' }, { query: '{ model { dim } }' }]);
    expect(batched.status).toBe(400);
    expect(batched.body).toEqual({ errors: [{ message: BATCH_REFUSED, extensions: { code: 'BAD_REQUEST' } }] });
  });
});

describe('introspection switched off', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ introspection: false, sandbox: false });
  });
  afterAll(() => gateway.stop());

  it('refuses introspection and says why GraphiQL is not served, and still answers queries', async () => {
    const refused = await post(gateway.origin, { query: getIntrospectionQuery() });
    expect(refused.status).toBe(400);
    expect(refused.body.errors![0].message).toMatch(/introspection is not allowed/i);
    const explorer = await fetch(`${gateway.origin}/graphiql/`);
    expect(explorer.status).toBe(404);
    expect(await explorer.json()).toEqual({ errors: [{ message: EXPLORER_OFF, extensions: { code: 'NOT_FOUND' } }] });
    const answer = await post(gateway.origin, { query: '{ model { name } }' });
    expect(answer.body.errors).toBeUndefined();
  });
});

describe('rate limits per client', () => {
  const reader = newApiKey('read');
  const other = newApiKey('read');
  let gateway: RunningGateway;
  let exempt: RunningGateway;
  beforeAll(async () => {
    const rateLimits: GatewayConfig['rateLimits'] = {
      inputsPerSecond: 1,
      inputsBurst: 3,
      writesPerSecond: 1,
      writesBurst: 1,
      bulkWritesPerSecond: 1,
      bulkWritesBurst: 1,
      loopback: true,
    };
    const entry = (made: { entry: string }) => {
      const [sha256, scope] = made.entry.split(':');
      return { sha256, scope: scope as 'read' };
    };
    gateway = await startGateway({ rateLimits, apiKeys: [entry(reader), entry(other)] });
    exempt = await startGateway({ rateLimits: { ...rateLimits, loopback: false } });
  });
  afterAll(() => Promise.all([gateway.stop(), exempt.stop()]));

  it('refuses a key over its inputs with 429, RATE_LIMITED and Retry-After, while another key goes on', async () => {
    const as = (made: { key: string }) => ({ authorization: `Bearer ${made.key}` });
    expect(codes(await post(gateway.origin, texts('a', 'b', 'c'), as(reader)))).toEqual([]);
    const refused = await post(gateway.origin, texts('d', 'e'), as(reader));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.body.errors).toEqual([
      {
        message: expect.stringMatching(/used its share of inference inputs \(1 a second, bursts of 3; this request has 2\)/),
        extensions: { code: 'RATE_LIMITED' },
      },
    ]);
    expect(codes(await post(gateway.origin, texts('d', 'e'), as(other)))).toEqual([]);
    // Queries that embed nothing take nothing from the bucket.
    expect(codes(await post(gateway.origin, { query: '{ model { name } }' }, as(reader)))).toEqual([]);
  });

  it('leaves clients on this machine alone by default', async () => {
    for (let i = 0; i < 5; i++) expect(codes(await post(exempt.origin, texts(`x${i}`, `y${i}`, `z${i}`)))).toEqual([]);
  });
});

/**
 * Admission and deadlines with CLIP behind the real AWS SDK and a local Lambda endpoint, made slow
 * with its delay fault so that work is in flight and queues for as long as the test needs.
 */
describe('admission control and deadlines', () => {
  let lambda: LocalLambda;
  let gateway: RunningGateway;
  let narrow: RunningGateway;
  let red: string;
  let blue: string;
  let backend: () => RemoteBackend;

  beforeAll(async () => {
    lambda = new LocalLambda(handler);
    const endpoint = await lambda.listen();
    backend = () =>
      // One call at a time, so that whatever arrives while it runs has to queue.
      new RemoteBackend(
        new LambdaTransport({
          functionName: 'clip',
          client: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
          log: () => {},
        }),
        { maxInFlight: 1, readyCacheMs: 0 },
      );
    gateway = await startGateway(
      // Two images (about 0.13 s at the prior cost) already wait longer than 100 ms.
      { admission: { maxWaitMs: 100, maxImageBytes: 1 << 24 }, imageCacheSize: 1, textCacheSize: 1 },
      { backend: backend() },
    );
    narrow = await startGateway({ maxRequestsInFlight: 1, textCacheSize: 1 }, { backend: backend() });
    const random = seededRandom(11);
    red = (await drawShape(loadReference(), 'red circle', random)).toString('base64');
    blue = (await drawShape(loadReference(), 'blue star', random)).toString('base64');
  });
  afterAll(async () => {
    await Promise.all([gateway.stop(), narrow.stop()]);
    await lambda.close();
    await (await warm()).release();
  });

  const ready = async () => {
    const response = await fetch(`${gateway.origin}/readyz`);
    return { status: response.status, body: (await response.json()) as { status: string; admitted: object } };
  };

  it('refuses work that cannot be done in time at once with 503, OVERLOADED and Retry-After, says so in /readyz, and admits again when served', async () => {
    lambda.inject({ kind: 'delay', ms: 1500 });
    const first = post(gateway.origin, { query: EMBED, variables: { inputs: [{ imageBase64: red }, { imageBase64: blue }] } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const one = { query: EMBED, variables: { inputs: [{ imageBase64: red }] } };
    // Within its deadline less the margin (a tenth, and one full batch ahead) the work ahead does not fit...
    const late = await post(gateway.origin, one, { 'x-request-timeout-ms': '1000' });
    expect(late.status).toBe(503);
    expect(late.body.errors).toEqual([
      {
        message: expect.stringMatching(
          /^The gateway is overloaded: the work admitted ahead of this request needs about 0\.1 s of the model and this request about 0\.1 s, more than the (9\d\d|1000) ms left before its deadline allow\./,
        ),
        extensions: { code: 'OVERLOADED' },
      },
    ]);
    // ...and with the gateway's own deadline it would, but not within ADMISSION_MAX_WAIT_MS.
    const refused = await post(gateway.origin, one);
    expect(refused.status).toBe(503);
    expect(refused.ms).toBeLessThan(1000);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.errors).toEqual([
      { message: expect.stringMatching(/longer than its most, 100 ms \(ADMISSION_MAX_WAIT_MS\)/), extensions: { code: 'OVERLOADED' } },
    ]);
    expect(await ready()).toEqual({
      status: 503,
      body: expect.objectContaining({ status: 'overloaded', admitted: { images: 2, texts: 0, prompts: 0 } }),
    });
    // Work without inference is not held up by the queue.
    expect(codes(await post(gateway.origin, { query: '{ model { name } }' }))).toEqual([]);
    expect(codes(await first)).toEqual([]);
    expect(await ready()).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'ready', admitted: { images: 0, texts: 0, prompts: 0 } }),
    });
    expect(codes(await post(gateway.origin, one))).toEqual([]);
    const shed = (await gateway.gateway.metrics.shed.get()).values.find((v) => v.labels.reason === 'overloaded');
    expect(shed?.value).toBe(2);
  });

  it("gives the function only the request's time, and answers DEADLINE_EXCEEDED when it runs out", async () => {
    lambda.inject({ kind: 'delay', ms: 3000 });
    const answer = await post(gateway.origin, texts('waits for a slow function'), { 'x-request-timeout-ms': '400' });
    expect(answer.ms).toBeLessThan(2000);
    expect(answer.body.errors).toEqual([
      expect.objectContaining({
        path: ['embed', 0],
        extensions: { code: 'DEADLINE_EXCEEDED' },
        message: expect.stringMatching(/^inputs\[0\]: /),
      }),
    ]);
    // The deadline is the request's, not the function failing: the circuit stays closed.
    expect((gateway.gateway.backend as RemoteBackend).breaker.state).toBe('closed');
    lambda.clearFaults();
  });

  it('drops queued inputs whose requests have all passed their deadline before they cost inference', async () => {
    // A gateway that has timed nothing yet admits by the prior (a few ms a text), so the function
    // turning slow is what makes the admitted request late: the case the queue itself must handle.
    const fresh = await startGateway({ textCacheSize: 1 }, { backend: backend() });
    try {
      lambda.inject({ kind: 'delay', ms: 3000 });
      const busy = post(fresh.origin, texts('keeps the function busy'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const invocationsBefore = lambda.stats.invocations;
      const late = await post(fresh.origin, texts('never reaches the model'), { 'x-request-timeout-ms': '1500' });
      expect(late.ms).toBeLessThan(2500);
      expect(codes(late)).toEqual(['DEADLINE_EXCEEDED']);
      expect(codes(await busy)).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(lambda.stats.invocations).toBe(invocationsBefore);
      const dropped = (await fresh.gateway.metrics.inputsDropped.get()).values.find((v) => v.labels.reason === 'deadline');
      expect(dropped?.value).toBe(1);
    } finally {
      lambda.clearFaults();
      await fresh.stop();
    }
  });

  it('refuses requests over MAX_REQUESTS_IN_FLIGHT before reading them, with 503 and Retry-After', async () => {
    lambda.inject({ kind: 'delay', ms: 1000 });
    const first = post(narrow.origin, texts('holds the only place'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await post(narrow.origin, { query: '{ model { name } }' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.errors).toEqual([
      { message: expect.stringMatching(/handling 1 requests, its most \(MAX_REQUESTS_IN_FLIGHT\)/), extensions: { code: 'OVERLOADED' } },
    ]);
    expect((await fetch(`${narrow.origin}/readyz`)).status).toBe(503);
    expect(codes(await first)).toEqual([]);
    expect(codes(await post(narrow.origin, { query: '{ model { name } }' }))).toEqual([]);
  });

  it('counts a client that hangs up as CLIENT_CLOSED_REQUEST, not as an internal error, and logs nothing', async () => {
    lambda.inject({ kind: 'delay', ms: 800 });
    const hangUp = new AbortController();
    const gone = fetch(`${narrow.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(texts('nobody reads this answer')),
      signal: hangUp.signal,
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    hangUp.abort();
    await gone;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const errors = (await narrow.gateway.metrics.errors.get()).values;
    expect(errors.find((v) => v.labels.code === 'CLIENT_CLOSED_REQUEST')?.value).toBe(1);
    expect(errors.find((v) => v.labels.code === 'INTERNAL_SERVER_ERROR')).toBeUndefined();
    expect(narrow.logs.filter((line) => /error while resolving/.test(line))).toEqual([]);
  });

  it('refuses a bad x-request-timeout-ms, naming the header', async () => {
    for (const value of ['soon', '0', '-5', '1.5']) {
      const answer = await post(gateway.origin, texts('x'), { 'x-request-timeout-ms': value });
      expect(answer.status).toBe(400);
      expect(answer.body.errors![0]).toMatchObject({
        message: expect.stringMatching(
          /^The x-request-timeout-ms header is .*; it must be a whole number of milliseconds from 1 to 30000\.$/,
        ),
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
  });
});
