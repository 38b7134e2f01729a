import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

import { ErrorCode, GatewayError, InputError } from '../../../gateway/common/errors';
import type { Embedded, EmbeddingService } from '../../../gateway/embedding/service';
import { createImageIntake } from '../../../gateway/intake';
import { createMediaLoader, type MediaKey } from '../../../gateway/loaders/media-loader';

// What the loopback server answers: image "bytes" (the intake does not decode them) by path.
const IMAGES: Record<string, number[]> = { '/a.png': [9, 8, 7], '/b.png': [6, 5] };

const hits: string[] = [];
let hanging: { request: IncomingMessage; closed: Promise<void> }[] = [];
let onHang: (() => void) | undefined;
const server = createServer((req, res) => {
  const path = req.url ?? '/';
  hits.push(path);
  if (IMAGES[path]) res.writeHead(200, { 'Content-Type': 'image/png' }).end(Buffer.from(IMAGES[path]));
  else if (path === '/hang') {
    // Never answers: only an abort (or the deadline) ends the fetch.
    hanging.push({ request: req, closed: new Promise((resolve) => req.socket.once('close', () => resolve())) });
    onHang?.();
  } else res.writeHead(404).end();
});
let origin = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  hits.length = 0;
  hanging = [];
  onHang = undefined;
});

const intake = createImageIntake({
  maxBytes: 1000,
  fetch: { timeoutMs: 5000, maxRedirects: 1, allowNetworks: ['127.0.0.1/32'] },
});

/**
 * The EmbeddingService method the loader uses: texts become [length], images their bytes. A text
 * in `fail` fails with its value as the failure; one in `reject` makes embed reject (which the
 * real service never does) with its value.
 */
function fakeService(fail: Record<string, unknown> = {}, reject: Record<string, unknown> = {}) {
  const calls: { method: 'embedText' | 'embedImage'; input: string | number[]; signal?: AbortSignal }[] = [];
  const service: Pick<EmbeddingService, 'embed'> = {
    async embed(input, signal): Promise<Embedded> {
      if (input.kind === 'image') {
        calls.push({ method: 'embedImage', input: Array.from(input.bytes), signal });
        return { ok: true, vector: Float32Array.from(input.bytes) };
      }
      calls.push({ method: 'embedText', input: input.text, signal });
      if (input.text in reject) throw reject[input.text];
      if (input.text in fail) return { ok: false, error: fail[input.text] };
      return { ok: true, vector: Float32Array.of(input.text.length) };
    },
  };
  return { calls, service };
}

const text = (t: string): MediaKey => ({ kind: 'text', text: t });
const url = (path: string): MediaKey => ({ kind: 'url', url: `${origin}${path}` });
const base64 = (data: string): MediaKey => ({ kind: 'base64', data });
/** Each result's vector as an array, or its failure as it is. */
const values = (results: (Embedded | Error)[]) => results.map((r) => (r instanceof Error ? r : r.ok ? Array.from(r.vector) : r.error));
/** The failure of a result that must have failed. */
const failureOf = (result: Embedded | Error | undefined): unknown => {
  if (!result || result instanceof Error || result.ok) throw new Error(`expected a failed Embedded: ${String(result)}`);
  return result.error;
};
/** The vector of a result that must have succeeded, as an array. */
const vectorOf = (result: Embedded | Error): number[] => {
  if (result instanceof Error || !result.ok) throw new Error(`expected a vector: ${String(result)}`);
  return Array.from(result.vector);
};

describe('createMediaLoader', () => {
  it('embeds the same text once within a loader', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const results = await loader.loadMany([text('cat'), text('horse'), text('cat')]);
    expect(values(results)).toEqual([[3], [5], [3]]);
    expect(results[2]).toBe(results[0]);
    expect(calls.map((c) => c.input)).toEqual(['cat', 'horse']);
    // Later in the same operation, still once.
    expect(await loader.load(text('cat'))).toBe(results[0]);
    expect(calls).toHaveLength(2);
  });

  it('fetches and embeds the same URL once within a loader', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const [a, b, c] = await Promise.all([loader.load(url('/a.png')), loader.load(url('/b.png')), loader.load(url('/a.png'))]);
    expect(vectorOf(a)).toEqual([9, 8, 7]);
    expect(vectorOf(b)).toEqual([6, 5]);
    expect(c).toBe(a);
    expect(hits.sort()).toEqual(['/a.png', '/b.png']);
    expect(calls.map((call) => [call.method, call.input])).toEqual(
      expect.arrayContaining([
        ['embedImage', [9, 8, 7]],
        ['embedImage', [6, 5]],
      ]),
    );
    expect(calls).toHaveLength(2);
  });

  it('decodes and embeds the same base64 string once within a loader', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const results = await loader.loadMany([base64('AQID'), base64('AQID')]);
    expect(values(results)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(calls).toEqual([{ method: 'embedImage', input: [1, 2, 3], signal: undefined }]);
  });

  it('does not confuse keys of different kinds with the same string', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const address = `${origin}/a.png`;
    const results = await loader.loadMany([text('AQID'), base64('AQID'), text(address), { kind: 'url', url: address }]);
    expect(values(results)).toEqual([[4], [1, 2, 3], [address.length], [9, 8, 7]]);
    expect(calls.map((c) => `${c.method} ${JSON.stringify(c.input)}`).sort()).toEqual(
      ['embedText "AQID"', 'embedImage [1,2,3]', `embedText ${JSON.stringify(address)}`, 'embedImage [9,8,7]'].sort(),
    );
    expect(hits).toEqual(['/a.png']);
  });

  it('reads and embeds one uploaded file once wherever it is mapped, and two files as two, whatever their bytes', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const streams: string[] = [];
    // An upload as graphql-upload gives it: one promise per file, whose file makes a stream per read.
    const upload = (name: string, bytes: number[]): MediaKey => ({
      kind: 'upload',
      upload: Promise.resolve({
        filename: name,
        mimetype: 'image/png',
        createReadStream: () => {
          streams.push(name);
          return Readable.from([Buffer.from(bytes)]);
        },
      }),
    });
    const first = upload('a.png', [1, 2]);
    const twin = upload('a.png', [1, 2]);
    const results = await loader.loadMany([first, twin, first, upload('c.png', [3])]);
    expect(values(results)).toEqual([[1, 2], [1, 2], [1, 2], [3]]);
    expect(results[2]).toBe(results[0]);
    expect(results[1]).not.toBe(results[0]);
    expect(streams).toEqual(['a.png', 'a.png', 'c.png']);
    expect(calls).toHaveLength(3);
  });

  it('keeps a refused upload as a failed value in its own slot', async () => {
    const { service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const tooLarge: MediaKey = {
      kind: 'upload',
      upload: Promise.resolve({ filename: 'big.png', mimetype: 'image/png', createReadStream: () => Readable.from([Buffer.alloc(1001)]) }),
    };
    const [refused, fine] = await loader.loadMany([tooLarge, base64('AQID')]);
    expect(failureOf(refused)).toMatchObject({ code: ErrorCode.INPUT_TOO_LARGE, message: expect.stringContaining('IMAGE_MAX_BYTES') });
    expect(vectorOf(fine)).toEqual([1, 2, 3]);
  });

  it('starts afresh in a new loader (one per request)', async () => {
    const { calls, service } = fakeService();
    await createMediaLoader(service, intake).load(url('/a.png'));
    await createMediaLoader(service, intake).load(url('/a.png'));
    expect(hits).toEqual(['/a.png', '/a.png']);
    expect(calls).toHaveLength(2);
  });

  it('fails a bad input alone while its neighbours resolve', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake);
    const results = await loader.loadMany([text('ok'), base64('!!!'), url('/missing'), url('/a.png'), base64('AQID')]);
    expect(values([results[0], results[3], results[4]])).toEqual([[2], [9, 8, 7], [1, 2, 3]]);

    const badBase64 = failureOf(results[1]) as GatewayError;
    expect(badBase64).toBeInstanceOf(GatewayError);
    expect(badBase64.code).toBe(ErrorCode.BAD_USER_INPUT);
    expect(badBase64.message).toBe('The base64 data contains characters outside the base64 alphabet or has a wrong length.');

    const notFound = failureOf(results[2]) as InputError;
    expect(notFound).toBeInstanceOf(InputError);
    expect(notFound.code).toBe(ErrorCode.IMAGE_FETCH_FAILED);
    expect(notFound.reason).toBe(`The server at ${origin.slice('http://'.length)} answered HTTP status 404.`);

    // Nothing was embedded for the two that failed.
    expect(calls.map((c) => c.input)).toEqual(expect.arrayContaining(['ok', [9, 8, 7], [1, 2, 3]]));
    expect(calls).toHaveLength(3);
    // load() answers the bad one's failure alone, too (and the failure is not fetched again).
    await expect(loader.load(url('/missing'))).resolves.toBe(results[2]);
    await expect(loader.load(text('ok'))).resolves.toBe(results[0]);
    expect(hits.filter((h) => h === '/missing')).toHaveLength(1);
  });

  it("fails an input alone with the service's failure, and keeps whatever is thrown as that input's failure, as it came", async () => {
    const backendError = new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'The inference backend could not run this input.');
    const thrown = new Error('thrown, not answered');
    const { service } = fakeService({ broken: backendError, odd: 'a string, not an Error' }, { throws: thrown });
    const loader = createMediaLoader(service, intake);
    const results = await loader.loadMany([text('broken'), text('fine'), text('odd'), text('throws')]);
    expect(failureOf(results[0])).toBe(backendError);
    expect(vectorOf(results[1])).toEqual([4]);
    // The resolver names the input and makes a non-Error an internal error (toInputError): nothing to convert here.
    expect(failureOf(results[2])).toBe('a string, not an Error');
    expect(failureOf(results[3])).toBe(thrown);
    // None of them is an Error in DataLoader's slot, which load() would reject with.
    await expect(loader.load(text('throws'))).resolves.toBe(results[3]);
  });

  it('passes the signal to the service', async () => {
    const { calls, service } = fakeService();
    const controller = new AbortController();
    const loader = createMediaLoader(service, intake, controller.signal);
    await loader.loadMany([text('cat'), base64('AQID'), url('/b.png')]);
    expect(calls).toHaveLength(3);
    for (const call of calls) expect(call.signal).toBe(controller.signal);
  });

  it('aborts a URL fetch when the signal aborts', async () => {
    const { calls, service } = fakeService();
    const controller = new AbortController();
    const loader = createMediaLoader(service, intake, controller.signal);
    const arrived = new Promise<void>((resolve) => (onHang = resolve));
    const started = Date.now();
    const pending = loader.load(url('/hang'));
    await arrived;
    controller.abort(new Error('client hung up'));
    const error = failureOf(await pending) as InputError;
    expect(error).toBeInstanceOf(InputError);
    expect(error.code).toBe(ErrorCode.IMAGE_FETCH_FAILED);
    expect(error.message).toBe('url: The image fetch was cancelled.');
    // Well before the 5 s deadline, and the connection to the server is gone.
    expect(Date.now() - started).toBeLessThan(4000);
    await hanging[0].closed;
    expect(calls).toEqual([]);
  });

  it('does not fetch at all when the signal has already aborted', async () => {
    const { calls, service } = fakeService();
    const loader = createMediaLoader(service, intake, AbortSignal.abort());
    const failed = failureOf(await loader.load(url('/a.png'))) as InputError;
    expect(failed).toBeInstanceOf(InputError);
    expect(failed.message).toBe('url: The image fetch was cancelled.');
    expect(hits).toEqual([]);
    expect(calls).toEqual([]);
  });
});
