import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { decodeAndCrop, type EmbedRequest, type EmbedResult, type ModelDescription } from '../../../functions/clip';
import type { InferenceBackend } from '../../../gateway/backends';
import { defaultConfig } from '../../../gateway/config';
import { createTestGateway, histogram, type TestGateway } from '../../helpers/gateway';
import { cosine, drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';

const reference = loadReference();

interface LabelScore {
  label: string;
  score: number;
  similarity: number;
}
interface ClassifyData {
  classify: ({ labels: LabelScore[] } | null)[];
}

const CLASSIFY = `query Classify($images: [ImageInput!]!, $labels: [String!]!, $templates: [String!], $topK: Int) {
  classify(images: $images, labels: $labels, templates: $templates, topK: $topK) { labels { label score similarity } }
}`;
const EMBED = `query Embed($inputs: [MediaInput!]!) { embed(inputs: $inputs) { vector dim model } }`;

/** A loopback server for images, standing in for a CDN. */
async function imageServer(images: Map<string, Buffer>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const body = images.get(req.url ?? '');
    if (req.url === '/redirect-to-loopback') {
      res.writeHead(302, { location: `http://[::1]:${(server.address() as AddressInfo).port}/0.png` }).end();
    } else if (body) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('the resolvers (through Apollo, without HTTP)', () => {
  let gw: TestGateway;
  let cdn: { server: Server; origin: string };
  const served = new Map<string, Buffer>();

  beforeAll(async () => {
    cdn = await imageServer(served);
    gw = await createTestGateway({
      // The tiny CLIP runs an image in about a millisecond, so batches rarely overlap by
      // themselves; a 20 ms window makes coalescing across requests visible and countable.
      maxDelayMs: 20,
      fetch: { timeoutMs: 5_000, maxRedirects: 3, allowNetworks: ['127.0.0.1/32'] },
      imageLimits: { ...defaultConfig().imageLimits, maxBytes: 1 << 20 },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await new Promise((resolve) => cdn.server.close(resolve));
  });

  it('describes the model', async () => {
    const { data } = await gw.graphql<{ model: Record<string, unknown> }>(
      '{ model { name dim imageSize contextLength backend dtype device } }',
    );
    expect(data?.model).toEqual({
      name: 'tiny-clip',
      dim: 64,
      imageSize: 64,
      contextLength: 32,
      backend: 'local',
      dtype: 'fp32',
      device: 'cpu',
    });
  });

  it('classifies generated images by colour and shape, sent as base64 (≥ 95%)', async () => {
    const random = seededRandom(4242);
    const labels = reference.classes.flatMap((label) => [label, label]);
    const images = await Promise.all(labels.map((label) => drawShape(reference, label, random)));
    const { data, errors } = await gw.graphql<ClassifyData>(CLASSIFY, {
      images: images.map((png, i) => ({ base64: i % 2 ? png.toString('base64') : `data:image/png;base64,${png.toString('base64')}` })),
      labels: reference.classes,
    });
    expect(errors).toBeUndefined();
    const correct = data!.classify.filter((c, i) => c!.labels[0].label === labels[i]).length;
    expect(correct / labels.length).toBeGreaterThanOrEqual(0.95);
    for (const c of data!.classify) {
      expect(c!.labels).toHaveLength(reference.classes.length);
      expect(c!.labels.map((l) => l.score)).toEqual([...c!.labels.map((l) => l.score)].sort((x, y) => y - x));
      expect(c!.labels.reduce((s, l) => s + l.score, 0)).toBeCloseTo(1, 6);
    }
  });

  it('classifies images fetched from a URL (loopback allowlisted)', async () => {
    const random = seededRandom(777);
    const labels = reference.classes.slice(0, 16);
    for (const [i, label] of labels.entries()) served.set(`/${i}.png`, await drawShape(reference, label, random));
    const { data, errors } = await gw.graphql<ClassifyData>(CLASSIFY, {
      images: labels.map((_, i) => ({ url: `${cdn.origin}/${i}.png` })),
      labels: reference.classes,
      topK: 3,
    });
    expect(errors).toBeUndefined();
    const correct = data!.classify.filter((c, i) => c!.labels[0].label === labels[i]).length;
    expect(correct / labels.length).toBeGreaterThanOrEqual(0.9);
    for (const c of data!.classify) expect(c!.labels).toHaveLength(3);
  });

  it('averages normalised prompt embeddings over templates (prompt ensembling)', async () => {
    const image = { base64: reference.images[0].bytes.toString('base64') };
    const labels = ['red circle', 'blue star', 'pink square'];
    const templates = ['a photo of a {}.', 'a drawing of a {}.', 'itap of a {}'];
    const [ensemble, embeddings] = await Promise.all([
      gw.graphql<ClassifyData>(CLASSIFY, { images: [image], labels, templates }),
      gw.graphql<{ embed: { vector: number[] }[] }>(EMBED, {
        inputs: [{ imageBase64: image.base64 }, ...labels.flatMap((l) => templates.map((t) => ({ text: t.replace('{}', l) })))],
      }),
    ]);
    const [imageVector, ...prompts] = embeddings.data!.embed.map((e) => Float32Array.from(e.vector));
    const { logitScale } = (await gw.graphql<{ model: { logitScale: number } }>('{ model { logitScale } }')).data!.model;
    const expected = labels.map((label, l) => {
      const mean = new Float32Array(imageVector.length);
      for (let t = 0; t < templates.length; t++) prompts[l * templates.length + t].forEach((v, k) => (mean[k] += v));
      const norm = Math.hypot(...mean);
      const similarity = imageVector.reduce((s, v, k) => s + (v * mean[k]) / norm, 0);
      return { label, similarity };
    });
    const max = Math.max(...expected.map((e) => e.similarity * logitScale));
    const total = expected.reduce((s, e) => s + Math.exp(e.similarity * logitScale - max), 0);
    const got = ensemble.data!.classify[0]!.labels;
    for (const e of expected) {
      const g = got.find((x) => x.label === e.label)!;
      expect(g.similarity).toBeCloseTo(e.similarity, 5);
      expect(g.score).toBeCloseTo(Math.exp(e.similarity * logitScale - max) / total, 5);
    }
    const single = await gw.graphql<ClassifyData>(CLASSIFY, { images: [image], labels });
    const defaultTemplate = single.data!.classify[0]!.labels.find((x) => x.label === 'red circle')!;
    expect(defaultTemplate.similarity).toBeCloseTo(cosine(imageVector, prompts[0]), 5);
    expect(defaultTemplate.similarity).not.toBeCloseTo(got.find((x) => x.label === 'red circle')!.similarity, 5);
  });

  it('computes similarity as the dot products of the embed vectors, and embed dims match the model', async () => {
    const a = [{ text: 'a photo of a red circle.' }, { imageBase64: reference.images[1].bytes.toString('base64') }];
    const b = [
      { text: 'a photo of a blue star.' },
      { imageBase64: reference.images[0].bytes.toString('base64') },
      { text: 'a red circle' },
    ];
    const [sim, emb] = await Promise.all([
      gw.graphql<{ similarity: number[][] }>('query($a:[MediaInput!]!,$b:[MediaInput!]!){ similarity(a:$a, b:$b) }', { a, b }),
      gw.graphql<{ embed: { vector: number[]; dim: number; model: string }[] }>(EMBED, { inputs: [...a, ...b] }),
    ]);
    const vectors = emb.data!.embed.map((e) => e.vector);
    for (const e of emb.data!.embed) expect(e).toMatchObject({ dim: 64, model: 'tiny-clip' });
    for (const v of vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(sim.data!.similarity).toHaveLength(2);
    sim.data!.similarity.forEach((row, i) => {
      expect(row).toHaveLength(3);
      row.forEach((value, j) =>
        expect(value).toBeCloseTo(
          vectors[i].reduce((s, v, k) => s + v * vectors[2 + j][k], 0),
          5,
        ),
      );
    });
  });

  it('fails a bad image alone, with an error at its path', async () => {
    const good = reference.images[0].bytes.toString('base64');
    const { data, errors } = await gw.graphql<ClassifyData>(CLASSIFY, {
      images: [
        { base64: good },
        { base64: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64') },
        { base64: good.slice(0, 200) },
        { url: `${cdn.origin}/missing.png` },
        { base64: good, url: 'http://x' },
      ],
      labels: ['red circle', 'blue star'],
    });
    expect(data!.classify[0]!.labels[0].label).toBe('red circle');
    expect(data!.classify.slice(1)).toEqual([null, null, null, null]);
    expect(errors!.map((e) => [e.path, e.extensions!.code])).toEqual([
      [['classify', 1], 'UNSUPPORTED_IMAGE_FORMAT'],
      [['classify', 2], 'IMAGE_DECODE_FAILED'],
      [['classify', 3], 'IMAGE_FETCH_FAILED'],
      [['classify', 4], 'BAD_USER_INPUT'],
    ]);
    expect(errors![0].message).toBe('images[1]: The image is SVG; only JPEG, PNG and WebP are accepted.');
    expect(errors![2].message).toMatch(/^images\[3\]: .*404/);
    expect(errors![3].message).toBe('images[4]: Set exactly one of url, base64, file; url and base64 are set.');
    for (const e of errors!) expect(JSON.stringify(e)).not.toMatch(/stacktrace|\/work\/|node_modules|at .*\.ts/);
  });

  it('fails a bad embed input alone; similarity names each failed input', async () => {
    const embed = await gw.graphql<{ embed: unknown[] }>(EMBED, { inputs: [{ text: 'a blue star' }, {}, { imageBase64: '!!!' }] });
    expect(embed.data!.embed[0]).not.toBeNull();
    expect(embed.data!.embed.slice(1)).toEqual([null, null]);
    expect(embed.errors!.map((e) => e.message)).toEqual([
      'inputs[1]: Set exactly one of text, imageUrl, imageBase64, imageFile; none is set.',
      'inputs[2]: The base64 data contains characters outside the base64 alphabet or has a wrong length.',
    ]);
    const sim = await gw.graphql<{ similarity: null }>('query($a:[MediaInput!]!,$b:[MediaInput!]!){ similarity(a:$a, b:$b) }', {
      a: [{ text: 'ok' }, { imageBase64: 'AAAA' }],
      b: [{ imageUrl: 'ftp://example.com/x.png' }],
    });
    expect(sim.data).toEqual({ similarity: null });
    expect(sim.errors).toHaveLength(1);
    expect(sim.errors![0].message).toMatch(/^2 inputs could not be embedded: a\[1\]: .* b\[0\]: .*/);
    expect(sim.errors![0].extensions!.failedInputs).toHaveLength(2);
  });

  it('coalesces 64 concurrent single-image requests into far fewer model runs, each answer right', async () => {
    const random = seededRandom(64064);
    const labels = Array.from({ length: 64 }, (_, i) => reference.classes[i % reference.classes.length]);
    const images = await Promise.all(labels.map((label) => drawShape(reference, label, random)));
    const before = await histogram(gw.gateway, 'batchSize', { kind: 'image' });
    const responses = await Promise.all(
      images.map((png) =>
        gw.graphql<ClassifyData>(CLASSIFY, { images: [{ base64: png.toString('base64') }], labels: reference.classes, topK: 1 }),
      ),
    );
    const after = await histogram(gw.gateway, 'batchSize', { kind: 'image' });
    const runs = after.count - before.count;
    process.stdout.write(
      `64 concurrent single-image requests: ${runs} image batches (mean ${((after.sum - before.sum) / runs).toFixed(1)} images each)\n`,
    );
    expect(after.sum - before.sum).toBe(64);
    expect(runs).toBeLessThanOrEqual(24);
    for (const r of responses) expect(r.errors).toBeUndefined();
    const correct = responses.filter((r, i) => r.data!.classify[0]!.labels[0].label === labels[i]).length;
    expect(correct / 64).toBeGreaterThanOrEqual(0.95);
  });

  it('computes identical inputs of one operation once', async () => {
    const png = (await drawShape(reference, 'green star', seededRandom(99))).toString('base64');
    const text = `a photo of a green star, ${Date.now()}`;
    const beforeText = await histogram(gw.gateway, 'batchSize', { kind: 'text' });
    const beforeImage = await histogram(gw.gateway, 'batchSize', { kind: 'image' });
    const { data } = await gw.graphql<{ embed: { vector: number[] }[] }>(EMBED, {
      inputs: [{ text }, { imageBase64: png }, { text }, { imageBase64: png }, { imageBase64: `data:image/png;base64,${png}` }],
    });
    expect(data!.embed.every((e) => e !== null)).toBe(true);
    expect((await histogram(gw.gateway, 'batchSize', { kind: 'text' })).sum - beforeText.sum).toBe(1);
    // The data: URI is another string but the same bytes: the content-addressed cache catches it.
    expect((await histogram(gw.gateway, 'batchSize', { kind: 'image' })).sum - beforeImage.sum).toBe(1);
    expect(data!.embed[4]!.vector).toEqual(data!.embed[1]!.vector);
  });

  it('rejects argument misuse with BAD_USER_INPUT and no internals', async () => {
    const image = [{ base64: reference.images[0].bytes.toString('base64') }];
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ images: image, labels: [] }, /^labels is empty/],
      [{ images: image, labels: ['a'], templates: ['no placeholder'] }, /^templates\[0\] has no \{\} to put the label in/],
      [{ images: image, labels: ['a'], topK: 0 }, /^topK must be at least 1: 0\.$/],
      [{ images: image, labels: ['a', ' '] }, /^labels\[1\] is empty\.$/],
      [
        { images: image, labels: ['red circle', 'blue star', 'green square', ' red circle'] },
        /^labels\[3\] repeats labels\[0\] \("red circle"\); give each label once, since repeated labels split the probability between them\.$/,
      ],
    ];
    for (const [variables, message] of cases) {
      const { data, errors } = await gw.graphql(CLASSIFY, variables);
      expect(data).toBeNull();
      expect(errors![0].message).toMatch(message);
      expect(errors![0].extensions).toEqual({ code: 'BAD_USER_INPUT' });
    }
    const syntax = await gw.graphql('{ embed(inputs: [{ text: 1 }]) { dim } }');
    expect(syntax.errors![0].extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses 10,000 inputs with a clear error before any work', async () => {
    const many = await gw.graphql(EMBED, { inputs: Array.from({ length: 10_000 }, () => ({ text: 'x' })) });
    expect(many.data).toBeNull();
    expect(many.errors![0]).toMatchObject({
      message: 'inputs has 10000 items; the limit is 256 per request (MAX_INPUTS_PER_REQUEST).',
      extensions: { code: 'INPUT_TOO_LARGE' },
    });
  });

  it("refuses more labels or templates than a classify takes, naming each limit's variable", async () => {
    const image = [{ base64: reference.images[0].bytes.toString('base64') }];
    const labels = await gw.graphql(CLASSIFY, { images: image, labels: Array.from({ length: 1001 }, (_, i) => `label ${i}`) });
    expect(labels.data).toBeNull();
    expect(labels.errors![0]).toMatchObject({
      message: 'labels has 1001 items; the limit is 1000 per request (MAX_LABELS).',
      extensions: { code: 'INPUT_TOO_LARGE' },
    });
    const templates = await gw.graphql(CLASSIFY, { images: image, labels: ['cat'], templates: Array.from({ length: 33 }, () => 'a {}') });
    expect(templates.errors![0]).toMatchObject({
      message: 'templates has 33 items; the limit is 32 per request (MAX_TEMPLATES).',
      extensions: { code: 'INPUT_TOO_LARGE' },
    });
  });
});

describe('image URLs with the allowlist off (SSRF)', () => {
  let gw: TestGateway;
  let loopbackOnly: TestGateway;
  let cdn: { server: Server; origin: string };

  beforeAll(async () => {
    cdn = await imageServer(new Map([['/0.png', reference.images[1].bytes]]));
    gw = await createTestGateway();
    // Admits exactly one loopback address, so a redirect from it to another one must be refused.
    loopbackOnly = await createTestGateway({ fetch: { timeoutMs: 5_000, maxRedirects: 3, allowNetworks: ['127.0.0.1/32'] } });
  });
  afterAll(async () => {
    await Promise.all([gw.stop(), loopbackOnly.stop()]);
    await new Promise((resolve) => cdn.server.close(resolve));
  });

  it.each([
    ['loopback', () => `${cdn.origin}/0.png`, /127\.0\.0\.1, a loopback address/],
    ['IPv6 loopback', () => `http://[::1]:${new URL(cdn.origin).port}/0.png`, /loopback/],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/', /link-local/i],
    ['a decimal loopback', () => `http://2130706433:${new URL(cdn.origin).port}/0.png`, /127\.0\.0\.1/],
    ['a hostname resolving to loopback', () => `http://localhost:${new URL(cdn.origin).port}/0.png`, /localhost resolves to .*loopback/],
  ])('refuses %s', async (_, url, reason) => {
    const { data, errors } = await gw.graphql<ClassifyData>(CLASSIFY, { images: [{ url: url() }], labels: ['red circle'] });
    expect(data!.classify).toEqual([null]);
    expect(errors![0].extensions!.code).toBe('IMAGE_FETCH_FAILED');
    expect(errors![0].message).toMatch(/^images\[0\]: /);
    expect(errors![0].message).toMatch(reason);
  });

  it('refuses a redirect to loopback', async () => {
    const direct = await loopbackOnly.graphql<ClassifyData>(CLASSIFY, { images: [{ url: `${cdn.origin}/0.png` }], labels: ['blue star'] });
    expect(direct.errors).toBeUndefined();
    const redirected = await loopbackOnly.graphql<ClassifyData>(CLASSIFY, {
      images: [{ url: `${cdn.origin}/redirect-to-loopback` }],
      labels: ['blue star'],
    });
    expect(redirected.data!.classify).toEqual([null]);
    expect(redirected.errors![0].message).toMatch(/redirect target.*loopback/i);
  });
});

/**
 * A backend standing in for one that breaks in ways the real ones only do under faults: it
 * describes the tiny CLIP's shapes, fails every text batch as a whole, and fails some images alone.
 */
class BrokenBackend implements InferenceBackend {
  readonly kind = 'lambda' as const;
  readonly concurrency = 1;
  readonly requests: EmbedRequest[] = [];
  constructor(private readonly description: ModelDescription) {}
  async start() {
    return this.description;
  }
  async embed(request: EmbedRequest): Promise<EmbedResult[]> {
    this.requests.push(request);
    if (request.kind === 'text') throw new Error('connection reset by the function');
    return request.items.map((_, i): EmbedResult =>
      i % 2 === 0 ? { ok: true, vector: new Float32Array(64).fill(0.125) } : { ok: false, code: 'INFERENCE_FAILED', message: 'No output.' },
    );
  }
  async ready() {
    return true;
  }
  async close() {}
}

describe('the resolvers over a failing backend (injected)', () => {
  let gw: TestGateway;
  let backend: BrokenBackend;

  beforeAll(async () => {
    const probe = await createTestGateway();
    backend = new BrokenBackend(probe.gateway.model);
    await probe.stop();
    // One batch for the three images below, which decode at different moments: each batch leaves
    // when full (two texts, three images), never on a timer, so a busy machine cannot split it.
    gw = await createTestGateway({ dispatchWhenIdle: false, maxDelayMs: 60_000, maxBatchSize: 2, imageMaxBatchSize: 3 }, { backend });
  });
  afterAll(() => gw.stop());

  it('turns a failed batch into BACKEND_UNAVAILABLE for each of its inputs, with the cause in the log only', async () => {
    const { data, errors } = await gw.graphql<{ embed: unknown[] }>(EMBED, { inputs: [{ text: 'a' }, { text: 'b' }] });
    expect(data!.embed).toEqual([null, null]);
    expect(errors!.map((e) => [e.path, e.extensions!.code, e.message])).toEqual([
      [['embed', 0], 'BACKEND_UNAVAILABLE', 'inputs[0]: The inference backend could not run this input; try again later.'],
      [['embed', 1], 'BACKEND_UNAVAILABLE', 'inputs[1]: The inference backend could not run this input; try again later.'],
    ]);
    expect(JSON.stringify(errors)).not.toContain('connection reset');
    expect(gw.logs.some((line) => line.includes('text batch failed in the lambda backend') && line.includes('connection reset'))).toBe(
      true,
    );
  });

  it("keeps a failed image's code and message, and its neighbours' vectors", async () => {
    const sources = reference.images.slice(0, 3);
    const { data, errors } = await gw.graphql<{ embed: ({ dim: number } | null)[] }>(EMBED, {
      inputs: sources.map((i) => ({ imageBase64: i.bytes.toString('base64') })),
    });
    const batch = backend.requests.at(-1)!;
    expect(batch.kind).toBe('crops');
    // Crops join the batch as they are decoded, in any order: find which input the failed slot holds.
    const crops = await Promise.all(sources.map(async (i) => (await decodeAndCrop(i.bytes, gw.gateway.model.preprocess)).data));
    const failed = crops.findIndex((crop) => Buffer.from(crop).equals(Buffer.from(batch.items[1] as Uint8Array)));
    expect(data!.embed.map((e) => e?.dim ?? null)).toEqual([0, 1, 2].map((i) => (i === failed ? null : 64)));
    expect(errors).toEqual([
      expect.objectContaining({
        message: `inputs[${failed}]: No output.`,
        path: ['embed', failed],
        extensions: { code: 'INFERENCE_FAILED' },
      }),
    ]);
  });
});
