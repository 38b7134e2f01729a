import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';

import { ErrorCode, InputError } from '../../../gateway/common/errors';
import {
  checkFetchImageOptions,
  createConditionalImageFetcher,
  createImageFetcher,
  DEFAULT_FETCH_IMAGE_OPTIONS,
  type FetchImageOptions,
} from '../../../gateway/intake/fetch-image';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';

const png = readFileSync(join(TINY_CLIP_DIR, 'images', 'tiny-orange-triangle.png'));
const INPUT = 'images[2].url';
const LOOPBACK: Partial<FetchImageOptions> = { allowNetworks: ['127.0.0.0/8'] };
/** How every SSRF refusal ends: the rule, and the way out for local use. */
const ONLY_PUBLIC = 'only public addresses may be fetched (set IMAGE_FETCH_ALLOW_NETWORKS, e.g. 127.0.0.0/8, to allow local ones).';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One fetch with a fetcher made for these options (bad options reject, like a failed fetch). */
const fetchImage = async (url: string, input: string, options: Partial<FetchImageOptions> = {}, signal?: AbortSignal) =>
  createImageFetcher(options)(url, input, signal);

let connections = 0;
let lastHeaders: IncomingHttpHeaders = {};
/** Body bytes the /page route wrote after its first chunk, per request. */
const htmlBytesSent: number[] = [];
const server = createServer((req, res) => {
  lastHeaders = req.headers;
  const url = new URL(req.url ?? '/', 'http://unused');
  const hops = /^\/hops\/(\d+)$/.exec(url.pathname);
  if (url.pathname === '/x.png' || hops?.[1] === '0') {
    res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length }).end(png);
  } else if (hops) {
    res.writeHead(302, { Location: `/hops/${Number(hops[1]) - 1}` }).end();
  } else if (url.pathname === '/versioned') {
    // A server with validators: 304 when the client names the version it has.
    const version = url.searchParams.get('v') ?? '1';
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] === etag) res.writeHead(304, { ETag: etag }).end();
    else res.writeHead(200, { 'Content-Type': 'image/png', ETag: etag, 'Last-Modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }).end(png);
  } else if (url.pathname === '/unasked-304') {
    res.writeHead(304).end();
  } else if (url.pathname === '/redirect') {
    res.writeHead(Number(url.searchParams.get('status') ?? 302), { Location: url.searchParams.get('to') ?? '' }).end();
  } else if (url.pathname === '/dir/relative') {
    res.writeHead(301, { Location: '../x.png' }).end();
  } else if (url.pathname === '/announced-large') {
    // Headers only: if the announced length were not checked up front, the fetch would wait for the deadline.
    res.writeHead(200, { 'Content-Length': 1_000_000 }).flushHeaders();
  } else if (url.pathname === '/streamed-large') {
    // Chunked and never ended: only the running count can stop it before the deadline.
    res.writeHead(200, { 'Content-Type': 'image/png' });
    for (let i = 0; i < 4; i++) res.write(Buffer.alloc(32 * 1024));
  } else if (url.pathname === '/octet-stream' || url.pathname === '/no-type' || url.pathname === '/upper-case-type') {
    const types: Record<string, string> = { '/octet-stream': 'application/octet-stream', '/upper-case-type': 'Image/PNG; charset=binary' };
    const type = types[url.pathname];
    res.writeHead(200, { ...(type ? { 'Content-Type': type } : {}), 'Content-Length': png.length }).end(png);
  } else if (url.pathname === '/page') {
    // A page that never ends: only refusing it by its type, unread, stops it before the deadline.
    res.writeHead(200, { 'Content-Type': url.searchParams.get('type') ?? 'text/html; charset=utf-8' });
    res.write('<!doctype html><title>Sign in</title>');
    htmlBytesSent.push(0);
    const more = setInterval(() => {
      if (res.destroyed) return clearInterval(more);
      res.write(Buffer.alloc(64 * 1024, 'a'));
      htmlBytesSent[htmlBytesSent.length - 1] += 64 * 1024;
    }, 5);
    res.on('close', () => clearInterval(more));
  } else if (url.pathname !== '/hang') {
    res.writeHead(404).end();
  }
});
server.on('connection', () => connections++);
let port = 0;
let origin = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>): Promise<InputError> {
  const error = await promise.then(
    () => new Error('expected the fetch to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).not.toMatch(/node_modules|\n\s+at /);
  return error as InputError;
}

async function expectFailure(promise: Promise<unknown>, code: ErrorCode, message: string | RegExp): Promise<number> {
  const started = performance.now();
  const error = await failure(promise);
  const elapsed = performance.now() - started;
  expect(error.extensions.code).toBe(code);
  if (typeof message === 'string') expect(error.message).toBe(`${INPUT}: ${message}`);
  else expect(error.message).toMatch(message);
  return elapsed;
}

describe('conditional fetches', () => {
  const fetchIfChanged = createConditionalImageFetcher(LOOPBACK);

  it('returns the validators of a fetch, and nothing but "not modified" when the server says the version is current', async () => {
    const first = await fetchIfChanged(`${origin}/versioned`, INPUT, undefined);
    expect(first).toEqual({ modified: true, bytes: png, validators: { etag: '"v1"', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' } });
    const again = await fetchIfChanged(`${origin}/versioned`, INPUT, first.modified ? first.validators : undefined);
    expect(lastHeaders['if-none-match']).toBe('"v1"');
    expect(lastHeaders['if-modified-since']).toBe('Tue, 01 Dec 2026 10:00:00 GMT');
    expect(again).toEqual({ modified: false });
    // Another version at the URL: the image comes back whole.
    const changed = await fetchIfChanged(`${origin}/versioned?v=2`, INPUT, { etag: '"v1"', lastModified: null });
    expect(changed).toMatchObject({ modified: true, validators: { etag: '"v2"' } });
  });

  it('fetches plainly without validators, and refuses a 304 it did not ask for', async () => {
    expect(await fetchIfChanged(`${origin}/x.png`, INPUT, undefined)).toEqual({
      modified: true,
      bytes: png,
      validators: { etag: null, lastModified: null },
    });
    expect(lastHeaders['if-none-match']).toBeUndefined();
    await expect(fetchIfChanged(`${origin}/unasked-304`, INPUT, undefined)).rejects.toThrow(
      `${INPUT}: The server at 127.0.0.1:${port} answered HTTP status 304.`,
    );
  });
});

describe('fetchImage over loopback, when allowlisted', () => {
  it('fetches a PNG byte for byte, asking for an image as clip-gateway', async () => {
    const bytes = await fetchImage(`${origin}/x.png`, INPUT, LOOPBACK);
    expect(Buffer.from(bytes).equals(png)).toBe(true);
    expect(lastHeaders).toMatchObject({ accept: 'image/*', 'user-agent': 'clip-gateway' });
    expect(lastHeaders['accept-encoding']).toBeUndefined();
  });

  it('follows a relative redirect', async () => {
    const bytes = await fetchImage(`${origin}/dir/relative`, INPUT, LOOPBACK);
    expect(Buffer.from(bytes).equals(png)).toBe(true);
  });

  it.each([301, 302, 303, 307, 308])('follows HTTP %i', async (status) => {
    const bytes = await fetchImage(`${origin}/redirect?status=${status}&to=/x.png`, INPUT, LOOPBACK);
    expect(Buffer.from(bytes).equals(png)).toBe(true);
  });

  it('follows exactly maxRedirects redirects, and fails on one more', async () => {
    const bytes = await fetchImage(`${origin}/hops/3`, INPUT, { ...LOOPBACK, maxRedirects: 3 });
    expect(Buffer.from(bytes).equals(png)).toBe(true);
    await expectFailure(
      fetchImage(`${origin}/hops/4`, INPUT, { ...LOOPBACK, maxRedirects: 3 }),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The URL redirects more than 3 times.',
    );
    await expectFailure(
      fetchImage(`${origin}/hops/1`, INPUT, { ...LOOPBACK, maxRedirects: 0 }),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The URL redirects more than 0 times.',
    );
  });

  it.each([
    ['application/octet-stream', '/octet-stream'],
    ['no Content-Type', '/no-type'],
    ['image/* in capitals, with parameters', '/upper-case-type'],
  ])('takes the bytes of a response with %s', async (_, path) => {
    const bytes = await fetchImage(`${origin}${path}`, INPUT, LOOPBACK);
    expect(Buffer.from(bytes).equals(png)).toBe(true);
  });

  it('refuses an HTML page by its Content-Type, naming it, without reading the body', async () => {
    const elapsed = await expectFailure(
      fetchImage(`${origin}/page`, INPUT, { ...LOOPBACK, timeoutMs: 5_000 }),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The URL returned text/html, not an image.',
    );
    expect(elapsed).toBeLessThan(1_000);
    // The server got to write little or nothing more before the connection closed.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(htmlBytesSent.at(-1)).toBeLessThan(1024 * 1024);
  });

  it.each([
    ['application/json', 'application/json'],
    ['text/plain', 'text/plain'],
    ['video/mp4', 'video/mp4'],
    ['<script>alert(1)</script>', 'a Content-Type that is not a media type'],
  ])('refuses a response of type %s', (type, shown) =>
    expectFailure(
      fetchImage(`${origin}/page?type=${encodeURIComponent(type)}`, INPUT, LOOPBACK),
      ErrorCode.IMAGE_FETCH_FAILED,
      `The URL returned ${shown}, not an image.`,
    ),
  );

  it('names the redirect target when it is the one that returns HTML', () =>
    expectFailure(
      fetchImage(`${origin}/redirect?to=/page`, INPUT, LOOPBACK),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The redirect target returned text/html, not an image.',
    ));

  it('fails on a 404, naming the status', () =>
    expectFailure(
      fetchImage(`${origin}/missing.png`, INPUT, LOOPBACK),
      ErrorCode.IMAGE_FETCH_FAILED,
      `The server at 127.0.0.1:${port} answered HTTP status 404.`,
    ));

  it('refuses a body whose Content-Length is over maxBytes, without waiting for it', async () => {
    const elapsed = await expectFailure(
      fetchImage(`${origin}/announced-large`, INPUT, { ...LOOPBACK, maxBytes: 100_000 }),
      ErrorCode.INPUT_TOO_LARGE,
      `The image at 127.0.0.1:${port} is 1000000 bytes, over the limit of 100000 bytes.`,
    );
    expect(elapsed).toBeLessThan(2000);
  });

  it('stops a chunked body once it passes maxBytes', async () => {
    const elapsed = await expectFailure(
      fetchImage(`${origin}/streamed-large`, INPUT, { ...LOOPBACK, maxBytes: 100_000 }),
      ErrorCode.INPUT_TOO_LARGE,
      `The image at 127.0.0.1:${port} is over the limit of 100000 bytes.`,
    );
    expect(elapsed).toBeLessThan(2000);
  });

  it('gives up on a server that never answers after timeoutMs', async () => {
    const elapsed = await expectFailure(
      fetchImage(`${origin}/hang`, INPUT, { ...LOOPBACK, timeoutMs: 300 }),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The image could not be fetched within 300 ms.',
    );
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  it("stops when the caller's signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expectFailure(
      fetchImage(`${origin}/hang`, INPUT, LOOPBACK, controller.signal),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The image fetch was cancelled.',
    );
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expectFailure(
      fetchImage(`http://127.0.0.1:${closedPort}/x.png`, INPUT, LOOPBACK),
      ErrorCode.IMAGE_FETCH_FAILED,
      `The image could not be fetched from 127.0.0.1:${closedPort} (ECONNREFUSED).`,
    );
  });
});

describe('fetchImage refuses redirects to what it would refuse at first', () => {
  const only127001: Partial<FetchImageOptions> = { allowNetworks: ['127.0.0.1/32'] };

  it.each([
    ['http://127.0.0.2:PORT/x.png', '127.0.0.2, a loopback address'],
    ['http://[::1]:PORT/x.png', '::1, a loopback address'],
  ])('to %s', async (to, why) => {
    const before = connections;
    await expectFailure(
      fetchImage(`${origin}/redirect?to=${encodeURIComponent(to.replace('PORT', String(port)))}`, INPUT, only127001),
      ErrorCode.IMAGE_FETCH_FAILED,
      `The redirect target's host is ${why}; ${ONLY_PUBLIC}`,
    );
    expect(connections).toBe(before + 1);
  });

  it('to another scheme', () =>
    expectFailure(
      fetchImage(`${origin}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, INPUT, only127001),
      ErrorCode.IMAGE_FETCH_FAILED,
      'The redirect target uses file:; only http: and https: URLs may be fetched.',
    ));
});

describe('fetchImage refuses before any connection is attempted', () => {
  // A wrong implementation must not reach the network from a test: every socket connect throws.
  let connect: jest.SpiedFunction<typeof net.Socket.prototype.connect>;
  beforeEach(() => {
    connect = jest.spyOn(net.Socket.prototype, 'connect').mockImplementation(() => {
      throw new Error('the test forbids connecting');
    });
  });
  afterEach(() => connect.mockRestore());

  it.each([
    ['http://127.0.0.1:PORT/x.png', '127.0.0.1, a loopback address'],
    ['http://[::1]:PORT/', '::1, a loopback address'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254, a link-local address'],
    ['http://2130706433:PORT/', '127.0.0.1, a loopback address'],
    ['http://0x7f000001:PORT/', '127.0.0.1, a loopback address'],
    ['http://0x7f.1:PORT/', '127.0.0.1, a loopback address'],
    ['http://10.0.0.1/', '10.0.0.1, a private address'],
    ['http://192.168.1.1/', '192.168.1.1, a private address'],
    ['http://172.16.0.1/', '172.16.0.1, a private address'],
    ['http://100.64.0.1/', '100.64.0.1, a carrier-grade NAT address'],
    ['http://0.0.0.0:PORT/', '0.0.0.0, an unspecified address'],
    ['http://[::]:PORT/', '::, an unspecified address'],
    ['http://[::ffff:127.0.0.1]:PORT/', '::ffff:7f00:1 (127.0.0.1), a loopback address'],
    ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe (169.254.169.254), a link-local address'],
    ['http://[::127.0.0.1]:PORT/', '::7f00:1, an IPv4-compatible address'],
    ['http://[64:ff9b::7f00:1]/', '64:ff9b::7f00:1, a special-purpose (rfc6052) address'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'fd00:ec2::254, a unique-local address'],
    ['http://[fe80::1]/', 'fe80::1, a link-local address'],
    ['http://224.0.0.1/', '224.0.0.1, a multicast address'],
    ['http://255.255.255.255/', '255.255.255.255, a broadcast address'],
  ])('%s', async (url, why) => {
    const elapsed = await expectFailure(
      fetchImage(url.replace('PORT', String(port)), INPUT),
      ErrorCode.IMAGE_FETCH_FAILED,
      `The URL's host is ${why}; ${ONLY_PUBLIC}`,
    );
    expect(connect).not.toHaveBeenCalled();
    expect(elapsed).toBeLessThan(100);
  });

  it('admits nothing outside allowNetworks: 127.0.0.1/32 does not cover 127.0.0.2', () =>
    expectFailure(
      fetchImage(`http://127.0.0.2:${port}/x.png`, INPUT, { allowNetworks: ['127.0.0.1/32', '::1/128'] }),
      ErrorCode.IMAGE_FETCH_FAILED,
      `The URL's host is 127.0.0.2, a loopback address; ${ONLY_PUBLIC}`,
    ));

  it.each([
    ['ftp://x/y', 'The URL uses ftp:; only http: and https: URLs may be fetched.'],
    ['file:///etc/passwd', 'The URL uses file:; only http: and https: URLs may be fetched.'],
    ['not a url', 'The URL is not a valid absolute URL.'],
    ['http://user:pass@example.com/', 'The URL contains a user name or password, which is not allowed.'],
    ['http://user@example.com/', 'The URL contains a user name or password, which is not allowed.'],
  ])('rejects %s as bad input', async (url, message) => {
    await expectFailure(fetchImage(url, INPUT), ErrorCode.BAD_USER_INPUT, message);
    expect(connect).not.toHaveBeenCalled();
  });
});

it('refuses a host name that resolves to loopback inside the lookup, before a connection is made', async () => {
  const before = connections;
  await expectFailure(
    fetchImage(`http://localhost:${port}/x.png`, INPUT),
    ErrorCode.IMAGE_FETCH_FAILED,
    new RegExp(
      `^images\\[2\\]\\.url: The URL's host localhost resolves to (127\\.0\\.0\\.1|::1), a loopback address; ${escape(ONLY_PUBLIC)}$`,
    ),
  );
  expect(connections).toBe(before);
});

describe('checkFetchImageOptions', () => {
  it('accepts the defaults', () => {
    expect(() => checkFetchImageOptions(DEFAULT_FETCH_IMAGE_OPTIONS)).not.toThrow();
    expect(DEFAULT_FETCH_IMAGE_OPTIONS).toEqual({ timeoutMs: 10_000, maxBytes: 20 * 1024 * 1024, maxRedirects: 3, allowNetworks: [] });
  });

  it.each<[Partial<FetchImageOptions>, RegExp]>([
    [{ timeoutMs: 0 }, /^timeoutMs must be an integer from 1 to 2147483647, got 0$/],
    [{ timeoutMs: 2 ** 31 }, /^timeoutMs must be an integer from 1 to 2147483647, got 2147483648$/],
    [{ maxBytes: 1.5 }, /^maxBytes must be a positive integer, got 1\.5$/],
    [{ maxRedirects: -1 }, /^maxRedirects must be a non-negative integer, got -1$/],
    [{ allowNetworks: ['127.0.0.1'] }, /^allowNetworks must be CIDR ranges such as "127\.0\.0\.0\/8", got \["127\.0\.0\.1"\]$/],
    [{ allowNetworks: ['::1/129'] }, /^allowNetworks must be CIDR ranges .*, got \["::1\/129"\]$/],
  ])('throws a TypeError naming %j', async (bad, message) => {
    expect(() => checkFetchImageOptions({ ...DEFAULT_FETCH_IMAGE_OPTIONS, ...bad })).toThrow(message);
    expect(() => checkFetchImageOptions({ ...DEFAULT_FETCH_IMAGE_OPTIONS, ...bad })).toThrow(TypeError);
    await expect(fetchImage(`${origin}/x.png`, INPUT, bad)).rejects.toThrow(message);
  });
});
