import type { AddressInfo } from 'node:net';

import type { EmbedRequest } from '../../../functions/clip';
import { ClipModel } from '../../../functions/clip/model';
import { createFunctionServer, FunctionLifecycle } from '../../../functions/handlers/http';
import {
  decodeDescribeAnswer,
  decodeDescribeAnswerV2,
  decodeResults,
  decodeResultsV2,
  encodeRequest,
  encodeRequestV2,
  WIRE_V2_CONTENT_TYPE,
} from '../../../functions/protocol';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';
import { deviceFailure, gate, scriptedModel } from './scripted-model';

const reference = loadReference();

/** A function server on loopback; closed by `stop`. */
async function serve(server: ReturnType<typeof createFunctionServer>) {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    postJson: (body: string) => fetch(`${origin}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    postBinary: (body: Uint8Array) =>
      fetch(`${origin}/invocations`, { method: 'POST', headers: { 'content-type': WIRE_V2_CONTENT_TYPE }, body }),
    get: (path: string) => fetch(`${origin}${path}`),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

const bytesOf = async (response: Response) => new Uint8Array(await response.arrayBuffer());

describe('the HTTP adapter', () => {
  let model: ClipModel;
  let fn: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
    fn = await serve(createFunctionServer(model, { maxBodyBytes: 100_000, log: () => {} }));
  });
  afterAll(async () => {
    await fn.stop();
    await model.release();
  });

  it('serves protocol version 1 at POST /invocations, and says it speaks 1 and 2', async () => {
    const response = await fn.postJson(JSON.stringify(encodeRequest({ kind: 'text', items: [reference.texts[0].text] })));
    expect(response.status).toBe(200);
    const [item] = decodeResults(await response.json(), 1, 64);
    expect(item.ok && cosine(item.vector, reference.texts[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    const describe = decodeDescribeAnswer(await (await fn.postJson(JSON.stringify(encodeRequest({ kind: 'describe' })))).json());
    expect(describe).toMatchObject({ description: { info: { name: 'tiny-clip', dim: 64 } }, protocols: [1, 2] });
  });

  it('serves protocol version 2 by its content type, with the vectors version 1 gives', async () => {
    const requests: EmbedRequest[] = [
      { kind: 'text', items: reference.texts.slice(0, 4).map((t) => t.text) },
      { kind: 'crops', items: reference.images.slice(0, 3).map((i) => i.crop) },
      { kind: 'images', items: [reference.images[0].bytes, Buffer.from('not an image')] },
    ];
    for (const request of requests) {
      const count = request.items.length;
      const binary = await fn.postBinary(encodeRequestV2(request));
      expect([binary.status, binary.headers.get('content-type')]).toEqual([200, WIRE_V2_CONTENT_TYPE]);
      const v2 = decodeResultsV2(await bytesOf(binary), count, 64);
      const v1 = decodeResults(await (await fn.postJson(JSON.stringify(encodeRequest(request)))).json(), count, 64);
      expect(v2.map((r) => r.ok)).toEqual(v1.map((r) => r.ok));
      v2.forEach((r, i) => {
        const same = v1[i];
        if (r.ok && same.ok) expect(cosine(r.vector, same.vector)).toBeGreaterThanOrEqual(0.9999);
        else expect(r).toEqual(same);
      });
    }
    const texts = decodeResultsV2(await bytesOf(await fn.postBinary(encodeRequestV2(requests[0]))), 4, 64);
    texts.forEach((r, i) => expect(r.ok && cosine(r.vector, reference.texts[i].embedding)).toBeGreaterThanOrEqual(0.9999));
    const crops = decodeResultsV2(await bytesOf(await fn.postBinary(encodeRequestV2(requests[1]))), 3, 64);
    crops.forEach((r, i) => expect(r.ok && cosine(r.vector, reference.images[i].embedding)).toBeGreaterThanOrEqual(0.9999));
    const images = decodeResultsV2(await bytesOf(await fn.postBinary(encodeRequestV2(requests[2]))), 2, 64);
    expect(images[1]).toMatchObject({ ok: false, code: 'UNSUPPORTED_IMAGE_FORMAT' });
    expect(decodeDescribeAnswerV2(await bytesOf(await fn.postBinary(encodeRequestV2({ kind: 'describe' }))))).toMatchObject({
      description: { info: { name: 'tiny-clip' } },
      protocols: [1, 2],
    });
  });

  it('refuses a malformed frame as a whole, in version 2, naming the reason', async () => {
    const response = await fn.postBinary(Buffer.from(JSON.stringify(encodeRequest({ kind: 'text', items: ['a'] }))));
    expect([response.status, response.headers.get('content-type')]).toEqual([200, WIRE_V2_CONTENT_TYPE]);
    const answer = await bytesOf(response);
    expect(() => decodeResultsV2(answer, 1, 64)).toThrow(
      'the function refused the request: BAD_USER_INPUT: Malformed request: the request does not start with the version 2 magic "CLP2": it looks like JSON',
    );
  });

  it('answers 400 for a body that is neither, 413 over the body limit, 404 and 405 elsewhere', async () => {
    expect((await fn.postJson('{')).status).toBe(400);
    expect((await fn.postJson(JSON.stringify({ v: 1, kind: 'text', texts: ['x'.repeat(200_000)] }))).status).toBe(413);
    expect((await fn.postBinary(encodeRequestV2({ kind: 'text', items: ['x'.repeat(200_000)] }))).status).toBe(413);
    expect((await fn.get('/nope')).status).toBe(404);
    const wrongMethod = await fn.get('/invocations');
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'POST']);
    expect(await (await fn.get('/healthz')).json()).toEqual({ status: 'ok', state: 'ready', model: 'tiny-clip', inFlight: 0 });
  });
});

describe('the HTTP adapter through its lifecycle', () => {
  let model: ClipModel;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
  });
  afterAll(() => model.release());

  const text = JSON.stringify(encodeRequest({ kind: 'text', items: [reference.texts[0].text] }));

  it('answers health probes while loading, and invocations once ready', async () => {
    const lifecycle = new FunctionLifecycle();
    const fn = await serve(createFunctionServer(lifecycle, { log: () => {} }));
    try {
      expect((await fn.get('/ping')).status).toBe(204);
      expect(await (await fn.get('/readyz')).json()).toEqual({ status: 'loading', message: 'The model is loading.' });
      const early = await fn.postJson(text);
      expect([early.status, early.headers.get('retry-after')]).toEqual([503, '5']);
      expect(await (await fn.get('/healthz')).json()).toEqual({ status: 'ok', state: 'loading', inFlight: 0 });

      expect(lifecycle.ready(model)).toBe(true);
      expect((await fn.get('/ping')).status).toBe(200);
      expect(await (await fn.get('/readyz')).json()).toEqual({ status: 'ready', model: 'tiny-clip' });
      expect((await fn.postJson(text)).status).toBe(200);

      lifecycle.drain('SIGTERM');
      expect(await Promise.all(['/ping', '/readyz'].map(async (path) => (await fn.get(path)).status))).toEqual([503, 503]);
      const late = await fn.postJson(text);
      expect([late.status, late.headers.get('retry-after')]).toEqual([503, null]);
      expect(await late.json()).toEqual({ message: 'The function is shutting down (SIGTERM); retry elsewhere.' });
    } finally {
      await fn.stop();
    }
  });

  it('on a device failure answers 500 naming it, turns /ping to 503, and lets the other invocations finish', async () => {
    const held = gate();
    const arrived = gate();
    // Call 1 is held in flight; call 2 meets a failed GPU.
    const failing = scriptedModel(model, async (call) => {
      if (call === 1) {
        arrived.open();
        await held.opened;
      }
      if (call === 2) throw deviceFailure();
    });
    const lifecycle = FunctionLifecycle.serving(failing);
    const heard: string[] = [];
    lifecycle.onBroken((reason) => heard.push(reason));
    const logged: string[] = [];
    const fn = await serve(createFunctionServer(lifecycle, { log: (line) => logged.push(line) }));
    try {
      const crops = { kind: 'crops' as const, items: [reference.images[0].crop] };
      const first = fn.postBinary(encodeRequestV2(crops));
      await arrived.opened;
      const second = await fn.postJson(JSON.stringify(encodeRequest(crops)));
      expect(second.status).toBe(500);
      expect(((await second.json()) as { message: string }).message).toMatch(
        /^The function's GPU failed \(CUDA failure 700: an illegal memory access was encountered ; .*\); this worker is leaving: retry elsewhere\.$/,
      );
      expect(lifecycle.state).toBe('broken');
      const ping = await fn.get('/ping');
      expect(ping.status).toBe(503);
      expect(((await ping.json()) as { message: string }).message).toMatch(/^the device failed: CUDA failure 700/);
      expect((await fn.postJson(text)).status).toBe(503);
      expect(lifecycle.inFlight).toBe(1);

      held.open();
      const answer = await first;
      expect(answer.status).toBe(200);
      const [item] = decodeResultsV2(await bytesOf(answer), 1, 64);
      expect(item.ok && cosine(item.vector, reference.images[0].embedding)).toBeGreaterThanOrEqual(0.9999);
      expect(heard).toEqual([expect.stringMatching(/^the device failed: CUDA failure 700/)]);
      expect(logged).toEqual([expect.stringMatching(/^invocation failed, the device failed: CUDA failure 700.*; this worker is leaving$/)]);
      await lifecycle.idle();
    } finally {
      held.open();
      await fn.stop();
    }
  });
});
