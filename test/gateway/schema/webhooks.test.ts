import { AUTH_MESSAGES, hashKey } from '../../../gateway/common/auth';
import type { Credentials } from '../../../gateway/common/auth';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';

/** The webhooks' API: registering URLs and secrets (checked, named), listing, deleting, dead letters' paging, and the admin scope. */

const CREATE = `mutation ($url: String!, $secret: String) {
  webhookEndpointCreate(url: $url, secret: $secret) { endpoint { id url enabled pending deadLetters deliveredThrough lastError } secret userErrors { field message code } }
}`;
const DELETE = 'mutation ($id: ID!) { webhookEndpointDelete(id: $id) { deletedId userErrors { field message code } } }';

interface Created {
  webhookEndpointCreate: {
    endpoint: { id: string; url: string } | null;
    secret: string | null;
    userErrors: { field: string[]; message: string; code: string }[];
  };
}

describe('the webhooks API', () => {
  let t: TestGateway;
  beforeEach(async () => {
    t = await createTestGateway();
  });
  afterEach(() => t.stop());

  const create = async (url: string, secret?: string) => (await t.graphql<Created>(CREATE, { url, secret })).data!.webhookEndpointCreate;

  it('registers a URL with the secret given, shown once: never by webhookEndpoints', async () => {
    const made = await create(' https://shop.example/hooks/tags?token=abc ', 'a-secret-of-sixteen+');
    expect(made).toEqual({
      endpoint: {
        id: expect.any(String),
        url: 'https://shop.example/hooks/tags?token=abc',
        enabled: true,
        pending: 0,
        deadLetters: 0,
        deliveredThrough: Buffer.from('0').toString('base64url'),
        lastError: null,
      },
      secret: 'a-secret-of-sixteen+',
      userErrors: [],
    });
    const listed = await t.graphql('{ webhookEndpoints { id url } }');
    expect(listed.data).toEqual({ webhookEndpoints: [{ id: made.endpoint!.id, url: 'https://shop.example/hooks/tags?token=abc' }] });
    expect(JSON.stringify(listed)).not.toContain('a-secret-of-sixteen+');
  });

  it('refuses URLs and secrets it cannot use, naming them', async () => {
    const problems: [string, string | undefined, string][] = [
      ['ftp://shop.example/x', undefined, 'url: "ftp://shop.example/x" is not an http(s) URL.'],
      ['shop.example/hooks', undefined, 'url: "shop.example/hooks" is not an http(s) URL.'],
      [
        'https://user:pw@shop.example/x',
        undefined,
        'url: the URL contains a user name or password; put credentials in the path or query, or sign with the secret.',
      ],
      [
        'https://shop.example/x#part',
        undefined,
        'url: "https://shop.example/x#part" has a fragment (#...), which is never sent: leave it out.',
      ],
      ['https://shop.example/x', 'short', 'secret: must be from 16 to 256 characters, got 5; leave it out to have one made.'],
      ['https://shop.example/x', 'sixteen chars with spaces', 'secret: must be printable ASCII without spaces.'],
    ];
    for (const [url, secret, message] of problems) {
      const made = await create(url, secret);
      expect(made).toEqual({
        endpoint: null,
        secret: null,
        userErrors: [{ field: [secret === undefined ? 'url' : 'secret'], message, code: 'BAD_USER_INPUT' }],
      });
    }
    expect((await t.graphql('{ webhookEndpoints { id } }')).data).toEqual({ webhookEndpoints: [] });
  });

  it('deletes an endpoint once; a second time names the id', async () => {
    const { endpoint } = await create('http://127.0.0.1:9/hook');
    expect((await t.graphql(DELETE, { id: endpoint!.id })).data).toEqual({
      webhookEndpointDelete: { deletedId: endpoint!.id, userErrors: [] },
    });
    expect((await t.graphql(DELETE, { id: endpoint!.id })).data).toEqual({
      webhookEndpointDelete: {
        deletedId: null,
        userErrors: [{ field: ['id'], message: `id: there is no webhook endpoint "${endpoint!.id}".`, code: 'NOT_FOUND' }],
      },
    });
  });

  it('refuses a dead letters cursor it did not make, and ids that are not ids', async () => {
    const page = await t.graphql('{ webhookDeadLetters(after: "abc") { edges { cursor } } }');
    expect(page.errors?.[0]).toMatchObject({
      message: 'after: "abc" is not a dead letter\'s cursor.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const redeliver = await t.graphql('mutation { webhookRedeliver(ids: ["x1"]) { redeliveredIds userErrors { field message code } } }');
    expect(redeliver.data).toEqual({
      webhookRedeliver: {
        redeliveredIds: [],
        userErrors: [{ field: ['ids', '0'], message: 'ids[0]: "x1" is not a dead letter\'s id.', code: 'BAD_USER_INPUT' }],
      },
    });
  });
});

describe('the webhooks API and API keys', () => {
  const keys = { read: 'read-key-0123456789abcdefghij', write: 'write-key-0123456789abcdefghij', admin: 'admin-key-0123456789abcdefghij' };
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway({
      apiKeys: Object.entries(keys).map(([scope, key]) => ({ sha256: hashKey(key), scope: scope as 'read' | 'write' | 'admin' })),
    });
  });
  afterAll(() => t.stop());

  async function run(query: string, credentials: Credentials) {
    const response = await t.gateway.apollo.executeOperation(
      { query, variables: { url: 'http://127.0.0.1:9/hook' } },
      { contextValue: t.gateway.context(undefined, credentials) },
    );
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return response.body.singleResult;
  }

  it('takes webhook operations from admin keys only; write keys keep their other mutations', async () => {
    const create = 'mutation ($url: String!) { webhookEndpointCreate(url: $url) { secret userErrors { message } } }';
    for (const key of [keys.write, keys.read]) {
      const refused = await run(key === keys.read ? '{ webhookEndpoints { id } }' : create, { loopback: true, bearer: key });
      expect(refused.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([[AUTH_MESSAGES.notAdmin, 'FORBIDDEN']]);
    }
    const made = await run(create, { loopback: false, bearer: keys.admin });
    expect(made.errors).toBeUndefined();
    expect((made.data as { webhookEndpointCreate: { secret: string } }).webhookEndpointCreate.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await run('{ webhookEndpoints { url } }', { loopback: false, bearer: keys.admin })).data).toEqual({
      webhookEndpoints: [{ url: 'http://127.0.0.1:9/hook' }],
    });
    // An admin key is a write key too; a write key still writes.
    for (const key of [keys.admin, keys.write]) {
      expect(
        (await run('mutation { productsDelete(ids: ["none"]) { deletedIds } }', { loopback: false, bearer: key })).errors,
      ).toBeUndefined();
    }
  });
});

describe('the webhooks API without API keys', () => {
  it('is for clients on this machine only, as mutations are', async () => {
    const t = await createTestGateway();
    try {
      const response = await t.gateway.apollo.executeOperation(
        { query: '{ webhookEndpoints { id } }' },
        { contextValue: t.gateway.context(undefined, { loopback: false }) },
      );
      if (response.body.kind !== 'single') throw new Error('expected a single result');
      expect(response.body.singleResult.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([
        [AUTH_MESSAGES.remoteAdminWithoutKeys, 'FORBIDDEN'],
      ]);
    } finally {
      await t.stop();
    }
  });
});
