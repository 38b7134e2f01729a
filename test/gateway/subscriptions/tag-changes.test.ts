import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

import { DEFAULT_JOB_RUNNER_OPTIONS, facetRows, type TagRow } from '../../../gateway/catalogue';
import { shapeProducts } from '../../helpers/catalogue';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { loadReference } from '../../helpers/tiny-clip';

const FOLLOW = `subscription ($after: String) {
  productTagsChanged(after: $after) { productId facet labels previousLabels source model changedAt cursor }
}`;
const PAGE =
  'query ($after: String) { tagChanges(first: 500, after: $after) { edges { node { productId facet labels previousLabels source model changedAt cursor } } pageInfo { endCursor } } }';
const UPSERT = 'mutation ($p: [ProductInput!]!) { productsUpsert(products: $p) { userErrors { message } } }';
const TAXONOMY = 'mutation ($f: [FacetInput!]!) { taxonomySet(facets: $f) { userErrors { message } } }';
const SET_TAGS =
  'mutation ($id: ID!, $l: [String!]!) { productTagsSet(productId: $id, facet: "kind", labels: $l) { userErrors { message } } }';
const START = 'mutation { taggingJobStart { job { id } userErrors { message } } }';

const reference = loadReference();
const KIND = { name: 'kind', labels: reference.classes };
const COLOUR = { name: 'colour', labels: [...new Set(reference.classes.map((c) => c.split(' ')[0]))] };

interface Change {
  productId: string;
  facet: string;
  labels: string[];
  previousLabels: string[];
  source: string;
  model: string | null;
  changedAt: string;
  cursor: string;
}

function client(gateway: RunningGateway): Client {
  return createClient({ url: `${gateway.origin.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
}

/** One subscription's changes as they come, and its errors. */
class Follower {
  readonly changes: Change[] = [];
  readonly errors: { message: string; extensions?: { code?: string } }[] = [];
  ended = false;
  private waiting: (() => void)[] = [];
  readonly unsubscribe: () => void;

  constructor(c: Client, after?: string) {
    this.unsubscribe = c.subscribe<{ productTagsChanged: Change }>(
      { query: FOLLOW, variables: { after } },
      {
        next: (result) => {
          if (result.data?.productTagsChanged) this.changes.push(result.data.productTagsChanged);
          this.errors.push(...((result.errors ?? []) as Follower['errors']));
          this.wake();
        },
        error: (error) => {
          if (Array.isArray(error)) this.errors.push(...(error as Follower['errors']));
          this.ended = true;
          this.wake();
        },
        complete: () => {
          this.ended = true;
          this.wake();
        },
      },
    );
  }

  /** Resolves once `n` changes have come (or the subscription ended). */
  async count(n: number): Promise<Change[]> {
    while (this.changes.length < n && !this.ended) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.changes;
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Subscription.productTagsChanged over WebSocket', () => {
  let gateway: RunningGateway;
  let reads = 0;
  beforeAll(async () => {
    gateway = await startGateway({ jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, chunkSize: 3, tagChunkSize: 3, pollMs: 50 } });
    const { store } = gateway.gateway;
    const read = store.tagChanges.bind(store);
    store.tagChanges = (after, first) => {
      reads++;
      return read(after, first);
    };
  });
  afterAll(() => gateway.stop());

  async function send(query: string, variables: Record<string, unknown> = {}): Promise<Record<string, { userErrors: unknown[] }>> {
    const answer = await gateway.graphql<Record<string, { userErrors: unknown[] }>>(query, variables);
    expect(answer.errors).toBeUndefined();
    for (const payload of Object.values(answer.data ?? {})) expect(payload.userErrors).toEqual([]);
    return answer.data!;
  }

  async function tagsNow(ids: string[]): Promise<Map<string, TagRow[]>> {
    return gateway.gateway.catalogue.getTags(ids);
  }
  const labelsOf = (tags: Map<string, TagRow[]>, id: string, facet: string) =>
    (tags.get(id) ?? []).filter((t) => t.facet === facet).map((t) => t.label);

  it('sends exactly the changes committed after it started, in order, from upserts, manual tags, a taxonomy change and a tagging job', async () => {
    const products = (await shapeProducts(31)).slice(0, 8);
    const ids = products.map((p) => p.id);
    const model = `${gateway.gateway.catalogue.model.name}|${gateway.gateway.catalogue.model.dtype}`;
    await send(TAXONOMY, { f: [KIND] });
    await send(UPSERT, { p: products.slice(0, 4) }); // before the subscription: not sent
    const c = client(gateway);
    try {
      reads = 0;
      const follower = new Follower(c);
      // Once it has read the outbox, it has taken its starting point: "now".
      while (reads === 0) await sleep(20);

      await send(UPSERT, { p: products.slice(4) });
      const upserted = await tagsNow(ids);
      await send(UPSERT, { p: products }); // the same images again: no change
      const manual = labelsOf(upserted, 'p04', 'kind')[0] === 'pink star' ? 'blue square' : 'pink star';
      await send(SET_TAGS, { id: 'p04', l: [manual] });
      await send(SET_TAGS, { id: 'p04', l: [manual] }); // the same again: no change
      // A taxonomy change re-tags every product in the tagging job it queues: a new facet for each, the old one unchanged.
      await send(TAXONOMY, { f: [KIND, COLOUR] });
      const retagged = await tagsNow(ids);
      // A taxonomy another gateway stored, applied by a tagging job: the kind facet goes, except where tags are manual.
      await gateway.gateway.store.setTaxonomy(facetRows([COLOUR]));
      const { taggingJobStart } = (await send(START)) as unknown as { taggingJobStart: { job: { id: string } } };
      for (;;) {
        const job = await gateway.graphql<{ taggingJob: { status: string } }>('query ($id: ID!) { taggingJob(id: $id) { status } }', {
          id: taggingJobStart.job.id,
        });
        if (job.data?.taggingJob.status === 'SUCCEEDED') break;
        expect(['QUEUED', 'RUNNING']).toContain(job.data?.taggingJob.status);
        await sleep(50);
      }

      const expected = [
        ...ids.slice(4).map((id) => ({ productId: id, facet: 'kind', previousLabels: [], labels: labelsOf(upserted, id, 'kind') })),
        { productId: 'p04', facet: 'kind', previousLabels: labelsOf(upserted, 'p04', 'kind'), labels: [manual], source: 'MANUAL' },
        ...ids.map((id) => ({
          productId: id,
          facet: 'colour',
          previousLabels: [],
          labels: labelsOf(retagged, id, 'colour'),
          source: 'JOB',
        })),
        ...ids
          .filter((id) => id !== 'p04')
          .map((id) => ({ productId: id, facet: 'kind', previousLabels: labelsOf(retagged, id, 'kind'), labels: [], source: 'JOB' })),
      ].map((change) => ({ source: 'AUTO', model, ...change }));
      const changes = await follower.count(expected.length);
      // Nothing more comes: a few more reads of the outbox find nothing new.
      const readsSoFar = reads;
      while (reads < readsSoFar + 3) await sleep(50);
      expect(follower.errors).toEqual([]);
      expect(changes.map(({ changedAt: _t, cursor: _c, ...rest }) => rest)).toEqual(expected);
      // Each facet is single: every change that sets labels sets one.
      for (const change of changes) expect(change.labels.length).toBeLessThanOrEqual(1);
      expect(new Set(changes.map((change) => change.cursor)).size).toBe(changes.length);

      // The same changes, in the same order, as the feed query gives them after the subscription's start.
      const page = await gateway.graphql<{ tagChanges: { edges: { node: Change }[] } }>(PAGE, {});
      const all = page.data!.tagChanges.edges.map((e) => e.node);
      expect(all.slice(-changes.length)).toEqual(changes);
      expect(all).toHaveLength(4 + changes.length);

      // Resumed from a cursor: the changes after it, and only those.
      const resumed = new Follower(c, changes[9].cursor);
      expect(await resumed.count(changes.length - 10)).toEqual(changes.slice(10));
      const again = reads;
      while (reads < again + 3) await sleep(50);
      expect(resumed.changes).toHaveLength(changes.length - 10);
      resumed.unsubscribe();
      follower.unsubscribe();
    } finally {
      await c.dispose();
    }
  });

  it('answers a cursor it did not make with BAD_USER_INPUT', async () => {
    const c = client(gateway);
    try {
      const follower = new Follower(c, 'not-a-cursor');
      await follower.count(1);
      expect(follower.changes).toEqual([]);
      expect(follower.errors.map((e) => [e.extensions?.code, e.message])).toEqual([
        ['BAD_USER_INPUT', 'after is not a cursor this gateway made: "not-a-cursor".'],
      ]);
    } finally {
      await c.dispose();
    }
  });

  it('stops reading the outbox once its subscriber leaves or its connection is cut', async () => {
    /** Whether the outbox is still read a while after `leave` (the server sees a client leave a moment later). */
    const stillRead = async (leave: () => void) => {
      reads = 0;
      while (reads < 3) await sleep(50); // followed: read every 250 ms
      leave();
      await sleep(600);
      const afterLeaving = reads;
      await sleep(1_000);
      return reads > afterLeaving;
    };
    const c = client(gateway);
    try {
      const follower = new Follower(c);
      expect(await stillRead(follower.unsubscribe)).toBe(false);

      const socket = new WebSocket(`${gateway.origin.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      const acknowledged = new Promise<void>((resolve) => socket.once('message', () => resolve()));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await acknowledged;
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: FOLLOW, variables: {} } }));
      expect(await stillRead(() => socket.terminate())).toBe(false);
    } finally {
      await c.dispose();
    }
  });
});
