import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ModelDescription } from '../../../functions/clip';
import type { CallError } from '../../../gateway/backends/call-failure';
import { HttpTransport } from '../../../gateway/backends/http';
import { JSON_CODEC } from '../../../gateway/backends/wire-codec';

const DESCRIPTION = { info: { name: 'test-clip', dim: 2 }, preprocess: { cropWidth: 4 } } as unknown as ModelDescription;

/** HttpTransport against functions on loopback that answer as the test says; what the wire protocol carries is tested with the backends. */
describe('HttpTransport', () => {
  const servers: Server[] = [];
  const listening = (server: Server): Promise<number> =>
    new Promise((resolve) => {
      servers.push(server);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  afterAll(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("reads an HTTP function's 503 with Retry-After as cold (still loading), and one without as a failure", async () => {
    let retryAfter: string | undefined = '5';
    const fn = createServer((req, res) => {
      req.resume().on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) });
        res.end(JSON.stringify({ message: 'The model is loading.' }));
      });
    });
    const transport = new HttpTransport(`http://127.0.0.1:${await listening(fn)}`);
    const failureOf = (e: unknown) => (e as CallError).failure;
    const call = () =>
      transport.call(JSON_CODEC.encode({ kind: 'describe' }), new AbortController().signal, 5_000).then(() => undefined, failureOf);
    expect(await call()).toMatchObject({ code: 'BACKEND_UNAVAILABLE', cold: true, retry: false, unhealthy: false });
    retryAfter = undefined;
    expect(await call()).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retry: true, unhealthy: true });
    expect((await call())?.cold).toBeUndefined();
    transport.close();
  });

  it('sends the headers it was given with every call, beside its own content type', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const fn = createServer((req, res) => {
      seen.push(req.headers);
      req
        .resume()
        .on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ v: 1, description: DESCRIPTION })));
    });
    const transport = new HttpTransport(`http://127.0.0.1:${await listening(fn)}`, {
      Authorization: 'Bearer rpa_key',
      'Modal-Key': 'wk-1',
    });
    await transport.call(JSON_CODEC.encode({ kind: 'describe' }), new AbortController().signal, 5_000);
    expect(seen[0]).toMatchObject({ authorization: 'Bearer rpa_key', 'modal-key': 'wk-1', 'content-type': 'application/json' });
    transport.close();
  });
});
