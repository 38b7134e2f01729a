import {
  ApiKeys,
  AUTH_MESSAGES,
  bearerToken,
  credentialsOf,
  hashKey,
  isLoopbackAddress,
  newApiKey,
  parseApiKeys,
  type ApiKey,
  type Credentials,
} from '../../gateway/common/auth';
import { configFromEnv } from '../../gateway/config';
import { createTestGateway, startGateway, type RunningGateway } from '../helpers/gateway';

const READ_KEY = 'read-key-0123456789abcdefghijklmnopqrstuvwxyz';
const WRITE_KEY = 'write-key-0123456789abcdefghijklmnopqrstuvwxyz';
const KEYS: ApiKey[] = [
  { sha256: hashKey(READ_KEY), scope: 'read' },
  { sha256: hashKey(WRITE_KEY), scope: 'write' },
];
const QUERY = '{ model { name } }';
const MUTATION = 'mutation { productsDelete(ids: ["nothing"]) { deletedIds userErrors { code } } }';

describe('API_KEYS', () => {
  const entry = (key: string, scope: string) => `${hashKey(key)}:${scope}`;

  it('reads <sha256 hex>:<scope> entries, comma-separated, in any case of hex', () => {
    const raw = ` ${entry(READ_KEY, 'read')} ,${hashKey(WRITE_KEY).toUpperCase()}:write,`;
    expect(configFromEnv({ API_KEYS: raw }).apiKeys).toEqual(KEYS);
    expect(configFromEnv({}).apiKeys).toEqual([]);
    expect(configFromEnv({ API_KEYS: '  ' }).apiKeys).toEqual([]);
  });

  it('names API_KEYS and the bad entry, quoting only its start', () => {
    const secret = newApiKey('read').key;
    const refusal = (raw: string) => {
      try {
        configFromEnv({ API_KEYS: raw });
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    // A key pasted where its hash belongs.
    const pasted = refusal(`${entry(READ_KEY, 'read')},${secret}:write`);
    expect(pasted).toMatch(/^API_KEYS entry 2 \(".{4}…"\) does not start with 64 hex digits: API_KEYS holds the SHA-256 of each key/);
    expect(pasted).not.toContain(secret);
    expect(pasted).not.toContain(secret.slice(0, 8));
    expect(pasted).not.toContain(hashKey(READ_KEY));

    const noScope = refusal(hashKey(READ_KEY));
    expect(noScope).toMatch(/^API_KEYS entry 1 \(".{4}…"\) has no scope/);
    expect(noScope).not.toContain(hashKey(READ_KEY));
    expect(refusal(entry(READ_KEY, 'owner'))).toMatch(/^API_KEYS entry 1 has the scope "owner": the scope is read, write or admin/);
    expect(refusal(`${entry(READ_KEY, 'read')},${entry(READ_KEY, 'write')}`)).toMatch(/^API_KEYS entry 2 repeats the key of entry 1/);
    expect(refusal(' , ,')).toMatch(/^API_KEYS lists no keys; it must be a comma-separated list/);
  });

  it('parses to the same keys as the gateway compares', () => {
    expect(parseApiKeys(entry(WRITE_KEY, 'write'))).toEqual({ keys: [KEYS[1]] });
    const made = newApiKey('write');
    expect(made.key).toMatch(/^clip_[A-Za-z0-9_-]{43}$/);
    expect(made.entry).toBe(`${hashKey(made.key)}:write`);
    expect(new ApiKeys((parseApiKeys(made.entry) as { keys: ApiKey[] }).keys).scopeOf(made.key)).toBe('write');
  });
});

describe('ApiKeys', () => {
  const keys = new ApiKeys(KEYS);

  it("gives a presented key's scope, comparing its hash with every configured one in constant time", () => {
    // The module object auth.ts calls through (an `import * as` namespace cannot be spied on).
    const compare = jest.spyOn(jest.requireActual<typeof import('node:crypto')>('node:crypto'), 'timingSafeEqual');
    try {
      expect(keys.scopeOf(READ_KEY)).toBe('read');
      expect(keys.scopeOf(WRITE_KEY)).toBe('write');
      // Near misses: one character off, a prefix, the hash itself sent as the key.
      expect(keys.scopeOf(`${READ_KEY.slice(0, -1)}Z`)).toBeUndefined();
      expect(keys.scopeOf(READ_KEY.slice(0, 10))).toBeUndefined();
      expect(keys.scopeOf(hashKey(READ_KEY))).toBeUndefined();
      expect(keys.scopeOf('')).toBeUndefined();
      // Each lookup compared 32-byte digests with both keys: no early stop on a match.
      expect(compare).toHaveBeenCalledTimes(6 * KEYS.length);
      for (const [a, b] of compare.mock.calls) expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    } finally {
      compare.mockRestore();
    }
  });

  it('needs a key for every operation once keys are configured: read for queries, write for mutations', () => {
    const decide = (operation: 'query' | 'mutation', credentials: Credentials) => keys.authorize(operation, credentials);
    for (const loopback of [true, false]) {
      expect(decide('query', { loopback })).toEqual({ ok: false, code: 'UNAUTHENTICATED', status: 401, message: AUTH_MESSAGES.missing });
      expect(decide('mutation', { loopback, bearer: 'guess' })).toEqual({
        ok: false,
        code: 'UNAUTHENTICATED',
        status: 401,
        message: AUTH_MESSAGES.unknown,
      });
      expect(decide('query', { loopback, bearer: READ_KEY })).toEqual({ ok: true });
      expect(decide('query', { loopback, bearer: WRITE_KEY })).toEqual({ ok: true });
      expect(decide('mutation', { loopback, bearer: READ_KEY })).toEqual({
        ok: false,
        code: 'FORBIDDEN',
        status: 403,
        message: AUTH_MESSAGES.readOnly,
      });
      expect(decide('mutation', { loopback, bearer: WRITE_KEY })).toEqual({ ok: true });
    }
    expect(keys.authorize('subscription', { loopback: true, bearer: READ_KEY })).toEqual({ ok: true });
  });

  it('without keys: queries from anywhere, mutations only from loopback clients', () => {
    const none = new ApiKeys([]);
    expect(none.configured).toBe(false);
    expect(none.authorize('query', { loopback: false })).toEqual({ ok: true });
    expect(none.authorize('query', { loopback: false, bearer: 'anything' })).toEqual({ ok: true });
    expect(none.authorize('mutation', { loopback: true })).toEqual({ ok: true });
    expect(none.authorize('mutation', { loopback: false, bearer: WRITE_KEY })).toEqual({
      ok: false,
      code: 'FORBIDDEN',
      status: 403,
      message: AUTH_MESSAGES.remoteWithoutKeys,
    });
  });

  it('takes admin operations (webhook endpoints) from admin keys only, which may also do all that write keys may', () => {
    const ADMIN_KEY = 'admin-key-0123456789abcdefghijklmnopqrstuvwxyz';
    expect(parseApiKeys(`${hashKey(ADMIN_KEY)}:admin`)).toEqual({ keys: [{ sha256: hashKey(ADMIN_KEY), scope: 'admin' }] });
    const withAdmin = new ApiKeys([...KEYS, { sha256: hashKey(ADMIN_KEY), scope: 'admin' }]);
    const refused = (code: string, status: number, message: string) => ({ ok: false, code, status, message });
    expect(withAdmin.authorize('mutation', { loopback: false, bearer: ADMIN_KEY })).toEqual({ ok: true });
    expect(withAdmin.authorize('query', { loopback: false, bearer: ADMIN_KEY })).toEqual({ ok: true });
    expect(withAdmin.authorizeAdmin({ loopback: false, bearer: ADMIN_KEY })).toEqual({ ok: true });
    for (const bearer of [READ_KEY, WRITE_KEY]) {
      expect(withAdmin.authorizeAdmin({ loopback: true, bearer })).toEqual(refused('FORBIDDEN', 403, AUTH_MESSAGES.notAdmin));
    }
    expect(withAdmin.authorizeAdmin({ loopback: true })).toEqual(refused('UNAUTHENTICATED', 401, AUTH_MESSAGES.missing));
    expect(withAdmin.authorizeAdmin({ loopback: true, bearer: 'guess' })).toEqual(refused('UNAUTHENTICATED', 401, AUTH_MESSAGES.unknown));
    // Without keys, as mutations: this machine only.
    const none = new ApiKeys([]);
    expect(none.authorizeAdmin({ loopback: true })).toEqual({ ok: true });
    expect(none.authorizeAdmin({ loopback: false })).toEqual(refused('FORBIDDEN', 403, AUTH_MESSAGES.remoteAdminWithoutKeys));
  });

  it('refuses configured keys that are not hashes, without quoting them', () => {
    expect(() => new ApiKeys([{ sha256: READ_KEY, scope: 'read' }])).toThrow(/^apiKeys must be a comma-separated list/);
    expect(() => new ApiKeys([{ sha256: READ_KEY, scope: 'read' }])).not.toThrow(new RegExp(READ_KEY));
  });
});

describe('what the host reads', () => {
  it('takes loopback from the socket address: 127.0.0.0/8, ::1 and 127.x mapped into IPv6', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.9'])
      expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ['10.0.0.1', '192.168.1.1', '::ffff:10.0.0.1', '::', '0.0.0.0', '128.0.0.1', '1127.0.0.1', undefined, '']) {
      expect(isLoopbackAddress(address)).toBe(false);
    }
  });

  it('takes the key from Authorization: Bearer, and nothing else', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it("takes a request's credentials: the key from the header or the one given, loopback from the socket, the address forwarded by trusted proxies", () => {
    const socket = { remoteAddress: '127.0.0.1' };
    expect(credentialsOf({ headers: { authorization: 'Bearer abc' }, socket })).toEqual({
      bearer: 'abc',
      loopback: true,
      address: '127.0.0.1',
    });
    // A WebSocket's init message carries the key instead of the upgrade request's header.
    expect(credentialsOf({ headers: { authorization: 'Bearer abc' }, socket }, 'Bearer def').bearer).toBe('def');
    // Behind a proxy: the forwarded address is who the client is, never whether it is local.
    expect(credentialsOf({ headers: {}, socket, ip: '203.0.113.7' })).toEqual({
      bearer: undefined,
      loopback: true,
      address: '203.0.113.7',
    });
    expect(credentialsOf({ headers: {}, socket: { remoteAddress: '10.0.0.2' }, ip: '127.0.0.1' }).loopback).toBe(false);
  });
});

describe('API keys in a gateway', () => {
  it('says once at start that it has none, and refuses mutations from clients elsewhere', async () => {
    const gw = await createTestGateway();
    try {
      expect(gw.logs.filter((line) => line.includes('API_KEYS'))).toEqual([
        'API_KEYS is not set: queries are open to every client, mutations only to clients on this machine (loopback).',
      ]);
      const run = (query: string, credentials: Credentials) =>
        gw.gateway.apollo.executeOperation({ query }, { contextValue: gw.gateway.context(undefined, credentials) });
      const refused = await run(MUTATION, { loopback: false });
      expect(refused.http.status).toBe(403);
      expect(refused.body).toMatchObject({
        kind: 'single',
        singleResult: { errors: [{ message: AUTH_MESSAGES.remoteWithoutKeys, extensions: { code: 'FORBIDDEN' } }] },
      });
      expect((refused.body as { singleResult: { data?: unknown } }).singleResult.data).toBeUndefined();
      const query = await run(QUERY, { loopback: false });
      expect(query.body).toMatchObject({ singleResult: { data: { model: { name: expect.any(String) } } } });
      expect((query.body as { singleResult: { errors?: unknown } }).singleResult.errors).toBeUndefined();
    } finally {
      await gw.stop();
    }
  });

  describe('over HTTP, with keys configured', () => {
    let gw: RunningGateway;
    beforeAll(async () => {
      gw = await startGateway({ apiKeys: KEYS });
    });
    afterAll(() => gw.stop());

    const post = async (query: string, key?: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${gw.origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}), ...headers },
        body: JSON.stringify({ query }),
      });
      return {
        status: response.status,
        challenge: response.headers.get('www-authenticate'),
        body: (await response.json()) as { data?: Record<string, unknown>; errors?: { message: string; extensions: object }[] },
      };
    };
    const refusal = (code: string, message: string) => ({ errors: [{ message, extensions: { code } }] });

    it('does not log that keys are missing', () => {
      expect(gw.logs.some((line) => line.includes('API_KEYS'))).toBe(false);
    });

    it('answers 401 UNAUTHENTICATED to an operation without a key or with an unknown one, even from loopback', async () => {
      const none = await post(QUERY);
      expect(none).toMatchObject({ status: 401, challenge: 'Bearer realm="clip-gateway"' });
      expect(none.body).toEqual(refusal('UNAUTHENTICATED', AUTH_MESSAGES.missing));
      const basic = await post(QUERY, undefined, { authorization: 'Basic dXNlcjpwYXNz' });
      expect(basic.body).toEqual(refusal('UNAUTHENTICATED', AUTH_MESSAGES.missing));
      const wrong = await post(MUTATION, `${WRITE_KEY}x`);
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual(refusal('UNAUTHENTICATED', AUTH_MESSAGES.unknown));
    });

    it('runs queries with a read key and refuses its mutations with 403 FORBIDDEN', async () => {
      const query = await post(QUERY, READ_KEY);
      expect(query.status).toBe(200);
      expect(query.body).toEqual({ data: { model: { name: expect.any(String) } } });
      const mutation = await post(MUTATION, READ_KEY);
      expect(mutation.status).toBe(403);
      expect(mutation.challenge).toBeNull();
      expect(mutation.body).toEqual(refusal('FORBIDDEN', AUTH_MESSAGES.readOnly));
    });

    it('runs mutations and queries with a write key', async () => {
      const mutation = await post(MUTATION, WRITE_KEY);
      expect(mutation.status).toBe(200);
      expect(mutation.body).toEqual({ data: { productsDelete: { deletedIds: [], userErrors: [] } } });
      expect((await post(QUERY, WRITE_KEY)).body).toEqual({ data: { model: { name: expect.any(String) } } });
    });

    it('counts refusals by code and leaves /healthz, /readyz and /metrics open', async () => {
      for (const path of ['/healthz', '/readyz']) expect((await fetch(`${gw.origin}${path}`)).status).toBe(200);
      const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
      expect(metrics).toMatch(/clip_gateway_graphql_errors_total\{code="UNAUTHENTICATED"\} [1-9]/);
      expect(metrics).toMatch(/clip_gateway_graphql_errors_total\{code="FORBIDDEN"\} [1-9]/);
      expect((await fetch(`${gw.origin}/graphiql`)).status).toBe(200);
    });
  });

  describe('over HTTP, without keys', () => {
    it('runs mutations from loopback clients (the tests are one)', async () => {
      const gw = await startGateway();
      try {
        expect(await gw.graphql(MUTATION)).toEqual({ status: 200, data: { productsDelete: { deletedIds: [], userErrors: [] } } });
      } finally {
        await gw.stop();
      }
    });
  });
});
