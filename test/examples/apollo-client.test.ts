// The example frontend (examples/apollo-client), run as written in a Node process against a real
// gateway with API keys and PERSISTED_QUERIES=safelist, the list made from the example's own
// sources by generate-persisted-query-manifest, as its README says to make it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { DEFAULT_JOB_RUNNER_OPTIONS } from '../../gateway/catalogue';
import { newApiKey } from '../../gateway/common/auth';
import { seedShapeCatalogue, shapeProducts } from '../helpers/catalogue';
import { startGateway, type RunningGateway } from '../helpers/gateway';
import { TINY_CLIP_DIR } from '../helpers/tiny-clip';

const run = promisify(execFile);
const EXAMPLE = join(__dirname, '..', '..', 'examples', 'apollo-client');
const image = (name: string) => join(TINY_CLIP_DIR, 'images', name);

interface Manifest {
  format: string;
  operations: { id: string; name: string; type: string; body: string }[];
}
interface LabelScore {
  label: string;
  score: number;
  similarity: number;
}
interface JobState {
  id: string;
  status: string;
  total: number;
  processed: number;
  failed: number;
}
interface Refusal {
  message: string;
  codes: (string | undefined)[];
}
/** What the driver prints (apollo-client.driver.mjs). */
interface Seen {
  classified: LabelScore[];
  states: JobState[];
  requests: { multipart: boolean; files: number; query: string | null; hash: string | null; preflight: string | null }[];
  unlisted: {
    raw: { status: number; body: { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
    query: Refusal | null;
    subscription: Refusal | null;
  };
}

const STAR = image('tall-blue-star.png');
const LABELS = ['blue star', 'red circle', 'cyan square', 'yellow triangle'];
const PRODUCTS = [
  'tall-blue-star.png',
  'displayp3-orange-square.png',
  'palette-cyan-square.png',
  'rgba-yellow-triangle.png',
  'mode-rgb16-cyan-circle.png',
  'mode-rgba-orange-star.png',
];

describe('the Apollo Client example against a safelisting gateway with API keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apollo-client-example-'));
  const writer = newApiKey('write');
  let manifest: Manifest;
  let manifestPath: string;
  let gateway: RunningGateway;
  let seen: Seen;

  beforeAll(async () => {
    // The example's config as it is, writing its list here instead of beside the sources.
    const config = JSON.parse(readFileSync(join(EXAMPLE, 'persisted-query-manifest.config.json'), 'utf8'));
    manifestPath = join(dir, 'persisted-query-manifest.json');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, output: manifestPath }));
    const cli = require.resolve('@apollo/generate-persisted-query-manifest/cli.js');
    await run(process.execPath, [cli, '--config', join(dir, 'config.json')], { cwd: EXAMPLE, timeout: 30_000 });
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));

    const [sha256, scope] = writer.entry.split(':');
    gateway = await startGateway({
      apiKeys: [{ sha256, scope: scope as 'write' }],
      persistedQueries: { mode: 'safelist', manifest: manifestPath },
      // Two products a chunk with a pause between: the job has several states to follow.
      jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, chunkSize: 2, tagChunkSize: 2, pauseMs: 200, pollMs: 50 },
    });

    const input = {
      url: `${gateway.origin}/graphql`,
      apiKey: writer.key,
      manifest: manifestPath,
      image: STAR,
      labels: LABELS,
      facets: [{ name: 'shape', labels: ['circle', 'square', 'triangle', 'star'] }],
      products: PRODUCTS.map((name, i) => ({ id: `p${i}`, title: name, image: image(name) })),
    };
    // Under jest's 60 s, so that a driver that hangs fails here with what it printed.
    const { stdout } = await run(process.execPath, [join(__dirname, 'apollo-client.driver.mjs')], {
      env: { ...process.env, CLIP_DRIVER: JSON.stringify(input) },
      timeout: 45_000,
    });
    seen = JSON.parse(stdout);
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists the example's five named operations, each by the SHA-256 of its text (the gateway loaded it)", () => {
    expect(manifest.format).toBe('apollo-persisted-query-manifest');
    expect(manifest.operations.map(({ name, type }) => `${type} ${name}`).sort()).toEqual([
      'mutation ProductsUpsert',
      'mutation TaggingJobStart',
      'mutation TaxonomySet',
      'query Classify',
      'subscription FollowTaggingJob',
    ]);
    expect(gateway.gateway.safelist?.size).toBe(5);
  });

  it('classifies a PNG sent as a File exactly as the same image sent as base64', async () => {
    // The list's own Classify, sent as written, which a safelisting gateway runs too.
    const classify = manifest.operations.find((operation) => operation.name === 'Classify')!;
    const response = await fetch(`${gateway.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${writer.key}` },
      body: JSON.stringify({
        query: classify.body,
        variables: { images: [{ base64: readFileSync(STAR).toString('base64') }], labels: LABELS },
      }),
    });
    const inline = (await response.json()) as { data: { classify: { labels: (LabelScore & { __typename: string })[] }[] } };
    expect(seen.classified).toEqual(inline.data.classify[0].labels);
    expect(seen.classified[0].label).toBe('blue star');
  });

  it('sends queries and mutations by id alone, files as multipart with the preflight header', () => {
    const ids = new Map(manifest.operations.map((operation) => [operation.id, operation.name]));
    expect(seen.requests.map((request) => ids.get(request.hash!))).toEqual([
      'Classify',
      'TaxonomySet',
      'ProductsUpsert',
      'TaggingJobStart',
    ]);
    expect(seen.requests.every((request) => request.query === null && request.preflight === 'true')).toBe(true);
    expect(seen.requests.map((request) => [request.multipart, request.files])).toEqual([
      [true, 1],
      [false, 0],
      [true, PRODUCTS.length],
      [false, 0],
    ]);
  });

  it('follows the tagging job through the subscription, its states in order, until it SUCCEEDED', () => {
    const { states } = seen;
    expect(states.length).toBeGreaterThanOrEqual(2);
    expect(states.at(-1)).toMatchObject({ status: 'SUCCEEDED', total: PRODUCTS.length, processed: PRODUCTS.length, failed: 0 });
    const rank = ['QUEUED', 'RUNNING', 'SUCCEEDED'];
    for (let i = 1; i < states.length; i++) {
      expect(states[i].id).toBe(states[0].id);
      expect(rank.indexOf(states[i].status)).toBeGreaterThanOrEqual(rank.indexOf(states[i - 1].status));
      expect(states[i].processed).toBeGreaterThanOrEqual(states[i - 1].processed);
      expect(states[i]).not.toEqual(states[i - 1]);
    }
  });

  it('has an operation outside the list refused: as text by fetch and over the WebSocket by the gateway, and never sent by the client', () => {
    const { raw, query, subscription } = seen.unlisted;
    expect(raw.status).toBe(400);
    expect(raw.body.data).toBeUndefined();
    expect(raw.body.errors?.map((error) => error.extensions?.code)).toEqual(['QUERY_NOT_IN_SAFELIST']);
    expect(subscription?.codes).toEqual(['QUERY_NOT_IN_SAFELIST']);
    expect(query?.message).toBe('Operation Unlisted not found in manifest');
  });
});

describe('the demo, run as its header says, against a gateway with automatic persisted queries (the default)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
    await seedShapeCatalogue(gateway.graphql, await shapeProducts(7));
  });
  afterAll(() => gateway?.stop());

  it('prints the labels of the file, then the progress of a tagging job over the catalogue until it ends', async () => {
    const { stdout } = await run(process.execPath, [join(EXAMPLE, 'demo.mjs'), STAR, ...LABELS], {
      // Its variables as a fresh shell has them: no key (a gateway without keys takes mutations from loopback), no list.
      env: { ...process.env, CLIP_GATEWAY_URL: `${gateway.origin}/graphql`, CLIP_API_KEY: '', PERSISTED_QUERIES_MANIFEST: '' },
      timeout: 45_000,
    });
    // The labels as JSON, then one line per state of the job.
    const end = stdout.lastIndexOf(']') + 1;
    const labels = JSON.parse(stdout.slice(0, end)) as LabelScore[];
    const progress = stdout.slice(end).trim().split('\n');
    expect(labels.map((score) => score.label).sort()).toEqual([...LABELS].sort());
    expect(labels[0].label).toBe('blue star');
    expect(progress.at(-1)).toBe('SUCCEEDED 32/32');
    const done = progress.map((line) => Number(/^(?:QUEUED|RUNNING|SUCCEEDED) (\d+)\/32$/.exec(line)?.[1]));
    expect(done.every((count, i) => count >= (done[i - 1] ?? 0))).toBe(true);
  });
});

describe("docs/api.md's From a frontend", () => {
  it("shows the example's own code: every line of its excerpts is a line of the example's sources", () => {
    const page = readFileSync(join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
    const section = page.slice(page.indexOf('## From a frontend\n'), page.indexOf('\n## ', page.indexOf('## From a frontend\n') + 1));
    const excerpts = [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
    expect(excerpts.length).toBeGreaterThanOrEqual(3);
    const sources = new Set(
      ['client.mjs', 'demo.mjs', 'operations.mjs'].flatMap((file) =>
        readFileSync(join(EXAMPLE, file), 'utf8')
          .split('\n')
          .map((line) => line.trim()),
      ),
    );
    const strange = excerpts.flatMap((excerpt) => excerpt.split('\n').filter((line) => line.trim() !== '' && !sources.has(line.trim())));
    expect(strange).toEqual([]);
  });
});
