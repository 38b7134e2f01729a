import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

import { newApiKey } from '../../../gateway/common/auth';
import { DEFAULT_JOB_RUNNER_OPTIONS } from '../../../gateway/catalogue';
import { seedShapeCatalogue, shapeProducts } from '../../helpers/catalogue';
import { startGateway, type RunningGateway } from '../../helpers/gateway';

const FOLLOW = 'subscription ($id: ID!) { taggingJob(id: $id) { id status total processed failed } }';
const START = 'mutation { taggingJobStart { job { id } userErrors { message } } }';

interface JobEvent {
  id: string;
  status: string;
  total: number;
  processed: number;
  failed: number;
}

interface Outcome {
  events: JobEvent[];
  errors: { message: string; extensions?: { code?: string } }[];
  /** The close event's code, when the connection was closed instead. */
  closeCode?: number;
}

function client(gateway: RunningGateway, connectionParams?: Record<string, unknown>): Client {
  return createClient({
    url: `${gateway.origin.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
  });
}

/** Every event of one subscription until it completes or fails. */
function follow(c: Client, query: string, variables: Record<string, unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { events: [], errors: [] };
    c.subscribe<{ taggingJob: JobEvent }>(
      { query, variables },
      {
        next: (result) => {
          if (result.data?.taggingJob) outcome.events.push(result.data.taggingJob);
          outcome.errors.push(...((result.errors ?? []) as Outcome['errors']));
        },
        error: (error) => {
          if (Array.isArray(error)) outcome.errors.push(...(error as Outcome['errors']));
          else outcome.closeCode = (error as { code?: number }).code;
          resolve(outcome);
        },
        complete: () => resolve(outcome),
      },
    );
  });
}

describe('Subscription.taggingJob over WebSocket (graphql-ws on /graphql)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    // Small chunks with a pause between them: a job of 32 products takes several steps to follow.
    gateway = await startGateway({
      jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, chunkSize: 8, tagChunkSize: 8, pauseMs: 300, pollMs: 50 },
      maxSubscriptionsPerClient: 1,
    });
    await seedShapeCatalogue(gateway.graphql, await shapeProducts(5));
  });
  afterAll(() => gateway.stop());

  it("sends a job's progress in order, each change once, until it succeeds, then completes", async () => {
    const started = await gateway.graphql<{ taggingJobStart: { job: { id: string } } }>(START);
    const { id } = started.data!.taggingJobStart.job;
    const c = client(gateway);
    try {
      const { events, errors } = await follow(c, FOLLOW, { id });
      expect(errors).toEqual([]);
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events.at(-1)).toEqual({ id, status: 'SUCCEEDED', total: 32, processed: 32, failed: 0 });
      // In order: statuses only move forward, counts only grow, and no state is sent twice.
      const rank = ['QUEUED', 'RUNNING', 'SUCCEEDED'];
      for (let i = 1; i < events.length; i++) {
        expect(rank.indexOf(events[i].status)).toBeGreaterThanOrEqual(rank.indexOf(events[i - 1].status));
        expect(events[i].processed).toBeGreaterThanOrEqual(events[i - 1].processed);
        expect(events[i]).not.toEqual(events[i - 1]);
      }
    } finally {
      await c.dispose();
    }
  });

  it('stops reading a job once its subscriber completes the subscription or its connection is cut, even while the job does not move', async () => {
    // A job that stays QUEUED: no runner on this gateway takes it, so nothing is sent after the first event.
    const idle = await startGateway();
    await idle.gateway.jobs.stop();
    const { catalogue } = idle.gateway;
    let reads = 0;
    const read = catalogue.getTaggingJob.bind(catalogue);
    catalogue.getTaggingJob = (id) => {
      reads++;
      return read(id);
    };
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** Whether the job is still read a while after `leave` (the server sees a client leave a moment later). */
    const stillRead = async (leave: () => void) => {
      await sleep(600);
      expect(reads).toBeGreaterThan(1); // followed: read every 250 ms
      leave();
      await sleep(600);
      const afterLeaving = reads;
      await sleep(1_000);
      return reads > afterLeaving;
    };
    const c = client(idle);
    try {
      await seedShapeCatalogue(idle.graphql, (await shapeProducts(6)).slice(0, 2));
      const started = await idle.graphql<{ taggingJobStart: { job: { id: string } } }>(START);
      const variables = { id: started.data!.taggingJobStart.job.id };

      let unsubscribe = () => {};
      const first = await new Promise<unknown>((resolve) => {
        unsubscribe = c.subscribe({ query: FOLLOW, variables }, { next: resolve, error: resolve, complete: () => resolve(null) });
      });
      expect(first).toMatchObject({ data: { taggingJob: { status: 'QUEUED' } } });
      expect(await stillRead(unsubscribe)).toBe(false);

      // The protocol by hand, and the connection cut without a word.
      reads = 0;
      const socket = new WebSocket(`${idle.origin.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      const received: string[] = [];
      const acknowledged = new Promise<void>((resolve) =>
        socket.on('message', (message) => {
          received.push(JSON.parse(String(message)).type);
          if (received.length === 1) resolve();
        }),
      );
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await acknowledged;
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: FOLLOW, variables } }));
      expect(await stillRead(() => socket.terminate())).toBe(false);
      expect(received).toEqual(['connection_ack', 'next']);
    } finally {
      await c.dispose();
      catalogue.getTaggingJob = read;
      await idle.stop();
    }
  });

  it('answers an unknown job with NOT_FOUND', async () => {
    const c = client(gateway);
    try {
      const { events, errors } = await follow(c, FOLLOW, { id: 'no-such-job' });
      expect(events).toEqual([]);
      expect(errors.map((e) => [e.extensions?.code, e.message])).toEqual([['NOT_FOUND', 'No tagging job has the id "no-such-job".']]);
    } finally {
      await c.dispose();
    }
  });

  it('bounds the subscriptions one client holds open over all its connections (SUBSCRIPTIONS_MAX_PER_CLIENT), and refuses what is not a valid subscription', async () => {
    const started = await gateway.graphql<{ taggingJobStart: { job: { id: string } } }>(START);
    const c = client(gateway);
    const other = client(gateway);
    try {
      const first = follow(c, FOLLOW, { id: started.data!.taggingJobStart.job.id });
      // The first is open until its job ends; a second, even on another connection, is refused.
      const second = await follow(other, FOLLOW, { id: started.data!.taggingJobStart.job.id });
      expect(second.errors.map((e) => e.extensions?.code)).toEqual(['OVERLOADED']);
      expect(second.errors[0].message).toMatch(/has 1 subscriptions open, the most one client may \(SUBSCRIPTIONS_MAX_PER_CLIENT\)/);
      expect((await first).events.at(-1)?.status).toBe('SUCCEEDED');
      // Its place is given back when it ends.
      expect((await follow(other, FOLLOW, { id: started.data!.taggingJobStart.job.id })).events.at(-1)?.status).toBe('SUCCEEDED');
      const invalid = await follow(c, 'subscription { taggingJob { id } }', {});
      expect(invalid.errors[0].message).toMatch(/argument "id" of type "ID!" is required/);
      // Queries and mutations go over HTTP, through rate limits and admission.
      const mutation = await follow(c, START, {});
      expect(mutation.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(mutation.errors[0].message).toMatch(/^Only subscriptions are served here, and this operation is a mutation/);
    } finally {
      await Promise.all([c.dispose(), other.dispose()]);
    }
  });
});

describe('subscriptions with API_KEYS', () => {
  const reader = newApiKey('read');
  let gateway: RunningGateway;
  beforeAll(async () => {
    const [sha256, scope] = reader.entry.split(':');
    gateway = await startGateway({ apiKeys: [{ sha256, scope: scope as 'read' }] });
  });
  afterAll(() => gateway.stop());

  it('closes a connection without a valid key with 4403 Forbidden, and serves one with a read key', async () => {
    for (const params of [undefined, { authorization: 'Bearer clip_not-a-key' }]) {
      const c = client(gateway, params);
      try {
        expect((await follow(c, FOLLOW, { id: 'any' })).closeCode).toBe(4403);
      } finally {
        await c.dispose();
      }
    }
    const c = client(gateway, { authorization: `Bearer ${reader.key}` });
    try {
      const { errors } = await follow(c, FOLLOW, { id: 'no-such-job' });
      expect(errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    } finally {
      await c.dispose();
    }
  });
});
