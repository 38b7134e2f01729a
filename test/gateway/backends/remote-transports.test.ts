import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

import { CallError } from '../../../gateway/backends/call-failure';
import { HttpTransport } from '../../../gateway/backends/http';
import { LambdaTransport } from '../../../gateway/backends/lambda';
import { RemoteBackend, type Transport } from '../../../gateway/backends/remote';
import { JSON_CODEC } from '../../../gateway/backends/wire-codec';
import { builtEntry } from '../../helpers/build';
import { ManualClock } from '../../helpers/clock';
import { DESCRIPTION } from './recording-transport';

const execFileAsync = promisify(execFile);

/**
 * The transports against real sockets: the errors Node's fetch (undici) and the AWS SDK's HTTP
 * handler really produce for a closed port, a name that cannot resolve (.invalid never does), a
 * connection reset, and TLS spoken to a plain-HTTP port.
 */
describe('the transports say why the function could not be reached', () => {
  const servers: (Server | net.Server)[] = [];
  const listen = async <T extends Server | net.Server>(server: T): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  let closedPort = 0;
  let resetPort = 0;
  let plainPort = 0;

  beforeAll(async () => {
    const closed = net.createServer();
    closedPort = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    servers.pop();
    // Reads the request, then resets the connection (RST) instead of answering.
    resetPort = await listen(net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy())));
    plainPort = await listen(createHttpServer((_req, res) => res.end('{}')));
  });
  afterAll(async () => {
    for (const server of servers) {
      if (server instanceof net.Server && 'closeAllConnections' in server) (server as Server).closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  const transports: Record<'http' | 'lambda', (origin: string) => Transport> = {
    http: (origin) => new HttpTransport(origin),
    lambda: (origin) =>
      new LambdaTransport({
        functionName: 'clip',
        client: { endpoint: origin, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
        log: () => {},
      }),
  };
  const cases: [string, () => string, RegExp][] = [
    ['connection refused', () => `http://127.0.0.1:${closedPort}`, /ECONNREFUSED/],
    ['host not found', () => 'http://clip-function.invalid', /ENOTFOUND|EAI_AGAIN/],
    ['connection reset', () => `http://127.0.0.1:${resetPort}`, /ECONNRESET|UND_ERR_SOCKET/],
    ['TLS failure', () => `https://127.0.0.1:${plainPort}`, /SSL|EPROTO/],
  ];

  it.each((['http', 'lambda'] as const).flatMap((kind) => cases.map(([what, origin, detail]) => [kind, what, origin, detail] as const)))(
    '%s: %s',
    async (kind, what, origin, detail) => {
      const transport = transports[kind](origin());
      try {
        const error = await transport.call(JSON_CODEC.encode({ kind: 'describe' }), new AbortController().signal, 5_000).then(
          () => new Error('expected the call to fail'),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CallError);
        const { failure } = error as CallError;
        expect(failure).toMatchObject({
          code: 'BACKEND_UNAVAILABLE',
          message: `The CLIP function could not be reached (${what}).`,
          retry: true,
          unhealthy: true,
        });
        // The original error, for the log only.
        expect(failure.detail).toMatch(detail);
      } finally {
        transport.close();
      }
    },
  );

  // Jest runs tests in their own V8 realm, where Node's socket errors fail `instanceof Error` and
  // the SDK keeps only their text; in a plain Node process it passes them on with their code.
  it('in a plain Node process too, where errors keep their codes', async () => {
    const script = `
      const { HttpTransport } = require(${JSON.stringify(builtEntry('gateway', 'backends', 'http.js'))});
      const { LambdaTransport } = require(${JSON.stringify(builtEntry('gateway', 'backends', 'lambda.js'))});
      const client = (endpoint) => ({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
      (async () => {
        const out = [];
        for (const origin of JSON.parse(process.argv[1])) {
          for (const transport of [new HttpTransport(origin), new LambdaTransport({ functionName: 'clip', client: client(origin), log: () => {} })]) {
            await transport.call({ contentType: 'application/json', body: Buffer.from('{"v":1,"kind":"describe"}') }, new AbortController().signal, 5000).catch((e) => out.push([transport.kind, e.failure.message, e.failure.detail]));
            transport.close();
          }
        }
        process.stdout.write(JSON.stringify(out));
      })();`;
    const origins = cases.map(([, origin]) => origin());
    const { stdout } = await execFileAsync(process.execPath, ['-e', script, JSON.stringify(origins)], { encoding: 'utf8' });
    const results = JSON.parse(stdout) as [string, string, string][];
    expect(results.map(([kind, message]) => [kind, message])).toEqual(
      cases.flatMap(([what]) => ['http', 'lambda'].map((kind) => [kind, `The CLIP function could not be reached (${what}).`])),
    );
    // Not the SDK's wrapper this time: the socket's own error, with its code.
    for (const [kind, , detail] of results) if (kind === 'lambda') expect(detail).not.toContain('wrapper');
  });

  it('fails the inputs with the cause, and logs the original error', async () => {
    // An HTTP function that describes itself, then dies.
    const fn = createHttpServer((req, res) => {
      req
        .resume()
        .on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ v: 1, description: DESCRIPTION })));
    });
    const port = await listen(fn);
    const logs: string[] = [];
    const backend = new RemoteBackend(new HttpTransport(`http://127.0.0.1:${port}`), {
      clock: new ManualClock(),
      maxAttempts: 1,
      log: (line) => logs.push(line),
    });
    await backend.start();
    fn.closeAllConnections();
    await new Promise((resolve) => fn.close(resolve));
    servers.splice(servers.indexOf(fn), 1);
    expect(await backend.embed({ kind: 'text', items: ['a red circle'] })).toEqual([
      { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function could not be reached (connection refused).' },
    ]);
    expect(logs).toEqual([
      `http call to http://127.0.0.1:${port} failed (attempt 1/1, giving up): BACKEND_UNAVAILABLE: TypeError: fetch failed; cause: Error: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
    await backend.close();
  });
});
