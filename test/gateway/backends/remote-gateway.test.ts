import type { AddressInfo } from 'node:net';

import { ClipModel } from '../../../functions/clip/model';
import { createFunctionServer } from '../../../functions/handlers/http';
import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda } from '../../../functions/lambda-local/server';
import type { BackendOptions } from '../../../gateway/backends';
import { configFromEnv } from '../../../gateway/config';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { cosine, drawShape, loadReference, seededRandom, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const reference = loadReference();
const CLASSIFY = `query($images: [ImageInput!]!, $labels: [String!]!) { classify(images: $images, labels: $labels) { labels { label score similarity } } }`;
const EMBED = `query($inputs: [MediaInput!]!) { embed(inputs: $inputs) { vector } }`;

type Classify = { classify: { labels: { label: string; score: number; similarity: number }[] }[] };
type Embed = { embed: { vector: number[] }[] };

/** No cached readiness, so that /readyz follows the function at once on the real clock. */
function probeEveryTime(backend: BackendOptions): BackendOptions {
  return backend.kind === 'local' || backend.kind === 'tiered' ? backend : { ...backend, remote: { ...backend.remote, readyCacheMs: 0 } };
}

/** The whole chain on one machine: gateway -> AWS SDK -> local Lambda API -> handler -> ONNX Runtime. */
describe('the gateway with remote backends answers as with the local one', () => {
  let lambda: LocalLambda;
  let functionModel: ClipModel;
  let functionServer: ReturnType<typeof createFunctionServer>;
  let local: RunningGateway;
  let viaLambda: RunningGateway;
  let viaHttp: RunningGateway;
  const saved = { ...process.env };

  beforeAll(async () => {
    lambda = new LocalLambda(handler);
    const lambdaOrigin = await lambda.listen();
    functionModel = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
    functionServer = createFunctionServer(functionModel, { log: () => {} });
    await new Promise<void>((resolve) => functionServer.listen(0, '127.0.0.1', resolve));
    // The configuration path a deployment uses: environment variables only, endpoint included.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_LAMBDA: lambdaOrigin,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const lambdaConfig = configFromEnv({ INFERENCE_BACKEND: 'lambda', LAMBDA_FUNCTION_NAME: 'clip', REMOTE_MAX_ATTEMPTS: '1' });
    const httpConfig = configFromEnv({
      INFERENCE_BACKEND: 'http',
      CLIP_FUNCTION_URL: `http://127.0.0.1:${(functionServer.address() as AddressInfo).port}`,
    });
    [local, viaLambda, viaHttp] = await Promise.all([
      startGateway(),
      startGateway({ backend: probeEveryTime(lambdaConfig.backend) }),
      startGateway({ backend: probeEveryTime(httpConfig.backend) }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([local, viaLambda, viaHttp].map((g) => g?.stop()));
    await lambda.close();
    await new Promise((resolve) => functionServer.close(resolve));
    await functionModel.release();
    await (await warm()).release();
    process.env = saved;
  });

  it('reports where it runs', async () => {
    for (const [gw, backend] of [
      [local, 'local'],
      [viaLambda, 'lambda'],
      [viaHttp, 'http'],
    ] as const) {
      const { data } = await gw.graphql<{ model: { backend: string; dim: number } }>('{ model { backend dim } }');
      expect(data!.model).toEqual({ backend, dim: 64 });
    }
  });

  it('classify and embed give the same answers (cosine ≥ 0.9999)', async () => {
    const random = seededRandom(31337);
    const images = await Promise.all(reference.classes.slice(0, 8).map((label) => drawShape(reference, label, random)));
    const classifyVars = { images: images.map((png) => ({ base64: png.toString('base64') })), labels: reference.classes };
    const embedVars = {
      inputs: [{ text: 'a photo of a pink star.' }, ...images.slice(0, 3).map((png) => ({ imageBase64: png.toString('base64') }))],
    };
    const [expectedClassify, expectedEmbed] = await Promise.all([
      local.graphql<Classify>(CLASSIFY, classifyVars),
      local.graphql<Embed>(EMBED, embedVars),
    ]);
    for (const remote of [viaLambda, viaHttp]) {
      const [classify, embed] = await Promise.all([
        remote.graphql<Classify>(CLASSIFY, classifyVars),
        remote.graphql<Embed>(EMBED, embedVars),
      ]);
      expect(classify.errors).toBeUndefined();
      classify.data!.classify.forEach((c, i) => {
        const expected = expectedClassify.data!.classify[i];
        expect(c.labels.map((l) => l.label)).toEqual(expected.labels.map((l) => l.label));
        c.labels.forEach((l, k) => expect(l.similarity).toBeCloseTo(expected.labels[k].similarity, 4));
      });
      embed.data!.embed.forEach((e, i) => {
        expect(cosine(Float32Array.from(e.vector), Float32Array.from(expectedEmbed.data!.embed[i].vector))).toBeGreaterThanOrEqual(0.9999);
      });
    }
  });

  it('turns a failing function into per-item errors with a code and no trace', async () => {
    lambda.inject({ kind: 'error', message: 'boom in /var/task/secret.js' });
    const { data, errors } = await viaLambda.graphql<Embed>(EMBED, { inputs: [{ text: `never seen before ${Date.now()}` }] });
    expect(data!.embed).toEqual([null]);
    expect(errors).toEqual([
      {
        message: 'inputs[0]: The CLIP function failed on this batch.',
        locations: expect.any(Array),
        path: ['embed', 0],
        extensions: { code: 'INFERENCE_FAILED' },
      },
    ]);
  });

  it('answers /readyz by probing the function: 503 while it fails, 200 when it is back', async () => {
    const readyz = async (gw: RunningGateway) => {
      const response = await fetch(`${gw.origin}/readyz`);
      return [response.status, ((await response.json()) as { status: string }).status];
    };
    expect(await readyz(viaLambda)).toEqual([200, 'ready']);
    expect(await readyz(viaHttp)).toEqual([200, 'ready']);

    lambda.inject({ kind: 'status', status: 500 });
    expect(await readyz(viaLambda)).toEqual([503, 'not ready']);
    expect(await readyz(viaLambda)).toEqual([200, 'ready']);

    const port = (functionServer.address() as AddressInfo).port;
    functionServer.closeAllConnections();
    await new Promise((resolve) => functionServer.close(resolve));
    try {
      expect(await readyz(viaHttp)).toEqual([503, 'not ready']);
      expect(viaHttp.logs.join('\n')).toMatch(
        /http readiness probe of http:\/\/127\.0\.0\.1:\d+ failed: BACKEND_UNAVAILABLE: .*ECONNREFUSED/,
      );
    } finally {
      await new Promise<void>((resolve) => functionServer.listen(port, '127.0.0.1', resolve));
    }
    expect(await readyz(viaHttp)).toEqual([200, 'ready']);
    expect(viaHttp.logs.at(-1)).toMatch(/http function at http:\/\/127\.0\.0\.1:\d+ is ready again/);
  });
});
