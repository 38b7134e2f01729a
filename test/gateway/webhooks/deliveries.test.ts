import { shapeProducts } from '../../helpers/catalogue';
import { createTestGateway, type TestGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';
import { startWebhookReceiver, type Answer, type ReceivedDelivery, type WebhookReceiver } from '../../helpers/webhook-receiver';

/**
 * Webhooks of real tag changes (a taxonomy, products upserted and embedded by the tiny CLIP, manual
 * tags) delivered by a gateway's worker to a real receiver on loopback, which verifies every
 * signature as a receiver of Shopify's webhooks does. Small retry waits; assertions on counts and order.
 */

const CREATE = `mutation ($url: String!, $secret: String) {
  webhookEndpointCreate(url: $url, secret: $secret) { endpoint { id } secret userErrors { field message code } }
}`;
const ENDPOINTS = '{ webhookEndpoints { id enabled pending deadLetters attempts lastError deliveredThrough } }';
const FEED = '{ tagChanges(first: 100) { edges { cursor node { productId facet labels previousLabels source model changedAt } } } }';
const UPSERT = 'mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }';
const SET_TAGS =
  'mutation ($id: ID!, $labels: [String!]!) { productTagsSet(productId: $id, facet: "kind", labels: $labels) { userErrors { message } } }';

interface Endpoint {
  id: string;
  enabled: boolean;
  pending: number;
  deadLetters: number;
  attempts: number;
  lastError: string | null;
  deliveredThrough: string;
}

describe('webhook deliveries of tag changes', () => {
  let t: TestGateway;
  let receiver: WebhookReceiver | undefined;
  let secret = '';
  let products: Awaited<ReturnType<typeof shapeProducts>>;
  const classes = loadReference().classes;

  beforeAll(async () => {
    products = (await shapeProducts(27)).slice(0, 3);
  });

  beforeEach(async () => {
    t = await createTestGateway({
      webhooks: {
        timeoutMs: 5_000,
        maxAttempts: 3,
        retryBaseMs: 5,
        retryFactor: 2,
        retryMaxMs: 20,
        pollMs: 20,
        leaseMs: 10_000,
        concurrency: 2,
      },
    });
    await data(
      t.graphql('mutation ($f: [FacetInput!]!) { taxonomySet(facets: $f) { userErrors { message } } }', {
        f: [{ name: 'kind', labels: classes }],
      }),
    );
  });

  afterEach(async () => {
    await t.stop();
    await receiver?.close();
    receiver = undefined;
  });

  async function data<T>(answer: Promise<{ data?: T | null; errors?: unknown }>): Promise<T> {
    const { data: value, errors } = await answer;
    if (errors) throw new Error(JSON.stringify(errors));
    return value!;
  }

  /** A receiver, and an endpoint registered for it with a secret the gateway makes. */
  async function register(answer?: (delivery: ReceivedDelivery) => Answer | Promise<Answer>): Promise<string> {
    receiver = await startWebhookReceiver(() => secret, answer);
    const made = await data(
      t.graphql<{ webhookEndpointCreate: { endpoint: { id: string }; secret: string; userErrors: unknown[] } }>(CREATE, {
        url: receiver.url,
      }),
    );
    expect(made.webhookEndpointCreate.userErrors).toEqual([]);
    secret = made.webhookEndpointCreate.secret;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return made.webhookEndpointCreate.endpoint.id;
  }

  const upsert = (list: typeof products) => data(t.graphql(UPSERT, { p: list }));
  const setTags = (id: string, labels: string[]) => data(t.graphql(SET_TAGS, { id, labels }));
  const endpoints = async () => (await data(t.graphql<{ webhookEndpoints: Endpoint[] }>(ENDPOINTS))).webhookEndpoints;

  /** Reads the endpoints until `done` holds of them (a bound for a broken test, not a timing check). */
  async function until(done: (list: Endpoint[]) => boolean): Promise<Endpoint[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await endpoints();
      if (done(list)) return list;
      if (Date.now() > deadline) throw new Error(`endpoints never got there: ${JSON.stringify(list)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('posts each tag change once, signed and in order, as the feed lists it, and nothing for an upsert that changes no tag', async () => {
    await register();
    await upsert(products.slice(0, 2));
    const other = classes.find((label) => label !== products[0].title)!;
    await setTags(products[0].id, [other]);
    const first = await receiver!.waitFor(3);
    const feed = (await data(t.graphql<{ tagChanges: { edges: { node: Record<string, unknown> }[] } }>(FEED))).tagChanges.edges;
    expect(feed).toHaveLength(3);
    expect(first.map((d) => d.verified)).toEqual([true, true, true]);
    expect(first.map(({ event }) => ({ ...event, source: event.source.toUpperCase() }))).toEqual(
      feed.map(({ node }, i) => ({ id: first[i].event.id, topic: 'product_tags/changed', seq: first[i].event.seq, ...node })),
    );
    expect(first.map((d) => d.event.productId)).toEqual([products[0].id, products[1].id, products[0].id]);
    expect(first[2].event).toMatchObject({ previousLabels: [products[0].title], labels: [other], source: 'manual' });
    const seqs = first.map((d) => d.event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(first.map((d) => d.event.id)).size).toBe(3);
    for (const { headers, event } of first) {
      expect(headers['x-clip-gateway-event-id']).toBe(event.id);
      expect(headers['x-clip-gateway-topic']).toBe('product_tags/changed');
      expect(headers['x-clip-gateway-delivery-attempt']).toBe('1');
      expect(headers['content-type']).toBe('application/json');
    }

    // The same products again: their tags do not change, so the next event is the next change's.
    await upsert(products.slice(0, 2));
    const another = classes.find((label) => label !== products[0].title && label !== products[1].title)!;
    await setTags(products[1].id, [another]);
    const [, , , fourth] = await receiver!.waitFor(4);
    expect(fourth.event).toMatchObject({ productId: products[1].id, labels: [another], source: 'manual' });
    expect(fourth.verified).toBe(true);
    const [endpoint] = await until((list) => list[0].pending === 0);
    expect(endpoint).toMatchObject({ enabled: true, attempts: 0, lastError: null, deadLetters: 0 });
  });

  it('posts a change again after a failure, under the same event id, counting the attempts', async () => {
    let answered = 0;
    await register(() => (++answered <= 2 ? 500 : 200));
    await upsert(products.slice(0, 1));
    const got = await receiver!.waitFor(3);
    expect(got.map((d) => d.headers['x-clip-gateway-delivery-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(got.map((d) => d.event.id))).toEqual(new Set([got[0].event.id]));
    expect(new Set(got.map((d) => d.body)).size).toBe(1);
    expect(got.every((d) => d.verified)).toBe(true);
    const [endpoint] = await until((list) => list[0].pending === 0);
    expect(endpoint).toMatchObject({ attempts: 0, lastError: null, deadLetters: 0 });
  });

  it('dead-letters a change after the last attempt, goes on with the next, shows it in the API and metrics, and redelivers it', async () => {
    let refuse = true;
    const id = await register((d) => (refuse && d.event.productId === products[0].id ? 500 : 200));
    await upsert(products.slice(0, 1));
    await upsert(products.slice(1, 2));
    const got = await receiver!.waitFor(4);
    expect(got.map((d) => [d.event.productId, d.headers['x-clip-gateway-delivery-attempt']])).toEqual([
      [products[0].id, '1'],
      [products[0].id, '2'],
      [products[0].id, '3'],
      [products[1].id, '1'],
    ]);
    await until((list) => list[0].pending === 0);
    const letters = await data(
      t.graphql<{ webhookDeadLetters: { edges: { node: Record<string, unknown> & { id: string } }[] } }>(
        '{ webhookDeadLetters(first: 10) { edges { cursor node { id endpointId eventId attempts lastError queued change { productId labels } } } } }',
      ),
    );
    expect(letters.webhookDeadLetters.edges.map((e) => e.node)).toEqual([
      {
        id: expect.any(String),
        endpointId: id,
        eventId: got[0].event.id,
        attempts: 3,
        lastError: 'attempt 3: answered HTTP 500',
        queued: false,
        change: { productId: products[0].id, labels: [products[0].title] },
      },
    ]);
    expect(await endpoints()).toMatchObject([{ deadLetters: 1, pending: 0 }]);
    const metrics = await t.gateway.metrics.registry.metrics();
    expect(metrics).toContain('clip_gateway_webhook_deliveries_total{outcome="failed"} 2');
    expect(metrics).toContain('clip_gateway_webhook_deliveries_total{outcome="dead"} 1');
    expect(metrics).toContain('clip_gateway_webhook_deliveries_total{outcome="delivered"} 1');
    expect(metrics).toContain(`clip_gateway_webhook_dead_letters{endpoint="${id}"} 1`);
    expect(metrics).toContain(`clip_gateway_webhook_lag{endpoint="${id}"} 0`);

    refuse = false;
    const letterId = letters.webhookDeadLetters.edges[0].node.id;
    const redelivered = await data(
      t.graphql<{ webhookRedeliver: { redeliveredIds: string[]; userErrors: { field: string[]; code: string }[] } }>(
        'mutation ($ids: [ID!]!) { webhookRedeliver(ids: $ids) { redeliveredIds userErrors { field code } } }',
        { ids: [letterId, '999999'] },
      ),
    );
    expect(redelivered.webhookRedeliver).toEqual({ redeliveredIds: [letterId], userErrors: [{ field: ['ids', '1'], code: 'NOT_FOUND' }] });
    const again = (await receiver!.waitFor(5))[4];
    expect(again.event.id).toBe(got[0].event.id);
    expect(again.headers['x-clip-gateway-delivery-attempt']).toBe('1');
    expect(again.body).toBe(got[0].body);
    await until((list) => list[0].deadLetters === 0 && list[0].pending === 0);
    expect(
      (await data(t.graphql<{ webhookDeadLetters: { edges: unknown[] } }>('{ webhookDeadLetters { edges { cursor } } }')))
        .webhookDeadLetters.edges,
    ).toEqual([]);
  });

  it('disables an endpoint whose receiver answers 410 Gone', async () => {
    await register(() => 410);
    await upsert(products.slice(0, 1));
    await receiver!.waitFor(1);
    const [endpoint] = await until((list) => !list[0].enabled);
    expect(endpoint).toMatchObject({ enabled: false, pending: 1, lastError: 'attempt 1: answered HTTP 410' });
    expect(await t.gateway.metrics.registry.metrics()).toContain('clip_gateway_webhook_deliveries_total{outcome="disabled"} 1');
  });

  it('does not follow a redirect: the signed body goes only where the endpoint was registered', async () => {
    const elsewhere = await startWebhookReceiver(() => secret);
    try {
      await register(() => ({ status: 307, headers: { location: elsewhere.url } }));
      await upsert(products.slice(0, 1));
      const got = await receiver!.waitFor(3);
      expect(got.map((d) => d.headers['x-clip-gateway-delivery-attempt'])).toEqual(['1', '2', '3']);
      const [endpoint] = await until((list) => list[0].deadLetters === 1);
      expect(endpoint.lastError).toMatch(/^attempt 3: answered HTTP 307 \(a redirect, which is not followed/);
      expect(elsewhere.received).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });
});
