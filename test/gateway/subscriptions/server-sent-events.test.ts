import { createClient as createEventStreamClient } from 'graphql-sse';
import { createClient as createWebSocketClient } from 'graphql-ws';
import WebSocket from 'ws';

import { DEFAULT_JOB_RUNNER_OPTIONS } from '../../../gateway/catalogue';
import { newApiKey } from '../../../gateway/common/auth';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { startGateway, type RunningGateway } from '../../helpers/gateway';

const FOLLOW = 'subscription ($id: ID!) { taggingJob(id: $id) { id status total processed failed } }';
const START = 'mutation { taggingJobStart { job { id } userErrors { message } } }';

interface Outcome {
  events: { status: string; processed: number; total: number }[];
  errors: { message: string; extensions?: { code?: string } }[];
  /** What the client failed with, when it did not complete (a refused stream). */
  failure?: unknown;
}

/** Every event of one subscription over graphql-sse (distinct connections mode, Node's fetch) until it completes or fails. */
function follow(gateway: RunningGateway, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const client = createEventStreamClient({ url: `${gateway.origin}/graphql/stream`, headers, retryAttempts: 0 });
  const outcome: Outcome = { events: [], errors: [] };
  let unsubscribe = () => {};
  const done = new Promise<Outcome>((resolve) => {
    unsubscribe = client.subscribe<{ taggingJob: Outcome['events'][number] }>(
      { query, variables },
      {
        next: (result) => {
          if (result.data?.taggingJob) outcome.events.push(result.data.taggingJob);
          outcome.errors.push(...((result.errors ?? []) as unknown as Outcome['errors']));
        },
        error: (error) => {
          outcome.failure = error;
          resolve(outcome);
        },
        complete: () => resolve(outcome),
      },
    );
  });
  return { done: done.finally(() => client.dispose()), unsubscribe };
}

describe('Subscription.taggingJob over Server-Sent Events (graphql-sse on /graphql/stream)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({
      jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, chunkSize: 8, tagChunkSize: 8, pauseMs: 300, pollMs: 50 },
      maxSubscriptionsPerClient: 1,
    });
    await seedShapeCatalogue(gateway.graphql, await shapeProducts(5));
  });
  afterAll(() => gateway.stop());

  const startJob = async () => (await gateway.graphql<{ taggingJobStart: { job: { id: string } } }>(START)).data!.taggingJobStart.job.id;

  it("streams a job's progress in order until it succeeds, then completes", async () => {
    const { events, errors, failure } = await follow(gateway, FOLLOW, { id: await startJob() }).done;
    expect(failure).toBeUndefined();
    expect(errors).toEqual([]);
    expect(events.length).toBeGreaterThan(2);
    expect(events.at(-1)).toMatchObject({ status: 'SUCCEEDED', processed: events.at(-1)!.total });
    for (let i = 1; i < events.length; i++) expect(events[i].processed).toBeGreaterThanOrEqual(events[i - 1].processed);
  });

  it('holds a client to SUBSCRIPTIONS_MAX_PER_CLIENT over both transports, gives the place back when a stream is left, and serves only subscriptions', async () => {
    const id = await startJob();
    const socket = createWebSocketClient({
      url: `${gateway.origin.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    try {
      // A subscription open over WebSocket takes the client's one place...
      const overWebSocket = new Promise<void>((resolve, reject) => {
        socket.subscribe({ query: FOLLOW, variables: { id } }, { next: () => resolve(), error: reject, complete: () => {} });
      });
      await overWebSocket;
      // ...so a stream is refused, as an event of the stream.
      const refused = await follow(gateway, FOLLOW, { id }).done;
      expect(refused.errors.map((e) => e.extensions?.code)).toEqual(['OVERLOADED']);
      expect(refused.errors[0].message).toMatch(/SUBSCRIPTIONS_MAX_PER_CLIENT/);
    } finally {
      await socket.dispose();
    }
    // A stream left by its client gives its place back.
    const left = follow(gateway, FOLLOW, { id: await startJob() });
    await new Promise((resolve) => setTimeout(resolve, 300));
    left.unsubscribe();
    await left.done;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await follow(gateway, FOLLOW, { id: await startJob() }).done).events.at(-1)?.status).toBe('SUCCEEDED');
    // Mutations go over HTTP, through rate limits and admission.
    const mutation = await follow(gateway, START, {}).done;
    expect(mutation.errors[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringMatching(/^Only subscriptions/),
    });
  });
});

describe('event streams with API_KEYS', () => {
  const reader = newApiKey('read');
  let gateway: RunningGateway;
  beforeAll(async () => {
    const [sha256, scope] = reader.entry.split(':');
    gateway = await startGateway({ apiKeys: [{ sha256, scope: scope as 'read' }] });
  });
  afterAll(() => gateway.stop());

  it('refuses a stream without a valid key before it opens (401, in GraphQL error shape), and serves one with a read key', async () => {
    for (const authorization of [undefined, 'Bearer clip_not-a-key']) {
      const response = await fetch(`${gateway.origin}/graphql/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(authorization && { authorization }) },
        body: JSON.stringify({ query: FOLLOW, variables: { id: 'any' } }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const { errors } = await follow(gateway, FOLLOW, { id: 'no-such-job' }, { authorization: `Bearer ${reader.key}` }).done;
    expect(errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
  });
});
