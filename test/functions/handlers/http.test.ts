import type { AddressInfo } from 'node:net';

import { ClipModel } from '../../../functions/clip/model';
import { createFunctionServer } from '../../../functions/handlers/http';
import { decodeResults, encodeRequest } from '../../../functions/protocol';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';

describe('the HTTP adapter', () => {
  const reference = loadReference();
  let model: ClipModel;
  let origin: string;
  let server: ReturnType<typeof createFunctionServer>;
  beforeAll(async () => {
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
    server = createFunctionServer(model, { maxBodyBytes: 100_000, log: () => {} });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await model.release();
  });

  const post = (body: string) => fetch(`${origin}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('serves the protocol at POST /invocations', async () => {
    const response = await post(JSON.stringify(encodeRequest({ kind: 'text', items: [reference.texts[0].text] })));
    expect(response.status).toBe(200);
    const [item] = decodeResults(await response.json(), 1, 64);
    expect(item.ok && cosine(item.vector, reference.texts[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    expect(await (await fetch(`${origin}/healthz`)).json()).toEqual({ status: 'ok', model: 'tiny-clip' });
  });

  it('answers 400 for non-JSON, 413 over the body limit, 404 elsewhere', async () => {
    expect((await post('{')).status).toBe(400);
    expect((await post(JSON.stringify({ v: 1, kind: 'text', texts: ['x'.repeat(200_000)] }))).status).toBe(413);
    expect((await fetch(`${origin}/nope`)).status).toBe(404);
  });
});
