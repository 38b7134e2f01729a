import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';

import ipaddr from 'ipaddr.js';

import { check, listOf, nonNegativeInt, positiveInt, setOnly, timeoutMs, type Rule } from '../../functions/options';
import { ErrorCode, InputError } from '../common/errors';

export interface FetchImageOptions {
  /** Whole-fetch deadline including redirects, in ms. Default 10000. */
  timeoutMs: number;
  /** Largest body accepted, in bytes; enforced while streaming (and from Content-Length up front). Default 20 MiB. */
  maxBytes: number;
  /** Redirects followed, each re-checked like the first URL. Default 3. */
  maxRedirects: number;
  /** CIDR ranges admitted even though they are loopback/private/etc (e.g. ['127.0.0.0/8', '::1/128'] for tests). Default []. */
  allowNetworks: readonly string[];
}

export const DEFAULT_FETCH_IMAGE_OPTIONS: FetchImageOptions = Object.freeze({
  timeoutMs: 10_000,
  maxBytes: 20 * 1024 * 1024,
  maxRedirects: 3,
  allowNetworks: Object.freeze([]),
});

/** A CIDR range such as "127.0.0.0/8" or "::1/128". */
export const cidrRule: Rule<string> = {
  expected: 'a CIDR range such as "127.0.0.0/8"',
  accepts: (value): value is string => typeof value === 'string' && ipaddr.isValidCIDR(value),
  parse: (raw) => raw.trim(),
};

export const ALLOW_NETWORKS = listOf(cidrRule, 'CIDR ranges such as "127.0.0.0/8"');

export function checkFetchImageOptions(o: FetchImageOptions): void {
  check('timeoutMs', o.timeoutMs, timeoutMs);
  check('maxBytes', o.maxBytes, positiveInt);
  check('maxRedirects', o.maxRedirects, nonNegativeInt);
  check('allowNetworks', o.allowNetworks, ALLOW_NETWORKS);
}

type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];

const RANGE_ARTICLES: Record<string, string> = {
  loopback: 'a loopback',
  private: 'a private',
  linkLocal: 'a link-local',
  uniqueLocal: 'a unique-local',
  unspecified: 'an unspecified',
  broadcast: 'a broadcast',
  multicast: 'a multicast',
  carrierGradeNat: 'a carrier-grade NAT',
  reserved: 'a reserved',
};

// Deprecated IPv4-compatible IPv6 (::a.b.c.d): ipaddr.js calls it unicast, but some stacks route it to the IPv4 host.
const IPV4_COMPATIBLE: Network = [ipaddr.IPv6.parse('::'), 96];

/** Why `address` may not be fetched ("127.0.0.1, a loopback address"), or undefined if it may. */
function refusal(address: string, allow: readonly Network[]): string | undefined {
  if (!ipaddr.isValid(address)) return `${address}, an unrecognised address`;
  const raw = ipaddr.parse(address);
  // ::ffff:127.0.0.1 reaches 127.0.0.1, so it is judged (and allowlisted) as the IPv4 address it carries.
  const ip = raw instanceof ipaddr.IPv6 && raw.isIPv4MappedAddress() ? raw.toIPv4Address() : raw;
  if ([raw, ip].some((a) => allow.some(([network, bits]) => a.kind() === network.kind() && a.match(network, bits)))) return undefined;
  const shown = ip === raw ? address : `${address} (${ip.toString()})`;
  const range = ip.range();
  if (range !== 'unicast') return `${shown}, ${RANGE_ARTICLES[range] ?? `a special-purpose (${range})`} address`;
  if (ip.kind() === 'ipv6' && ip.match(IPV4_COMPATIBLE)) return `${shown}, an IPv4-compatible address`;
  return undefined;
}

function urlProblem(url: URL, subject: string): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `${subject} uses ${url.protocol}; only http: and https: URLs may be fetched.`;
  if (url.username || url.password) return `${subject} contains a user name or password, which is not allowed.`;
  return undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The end of every SSRF refusal: the rule, and the setting that relaxes it for local use. */
const ONLY_PUBLIC = 'only public addresses may be fetched (set IMAGE_FETCH_ALLOW_NETWORKS, e.g. 127.0.0.0/8, to allow local ones).';

/**
 * Why a response's Content-Type rules out an image ("text/html"), or undefined when it does not:
 * absent, image/*, or the generic binary types that CDNs and object stores (S3's default is
 * binary/octet-stream) send for files they know nothing about. The bytes decide then.
 */
function notAnImage(header: string | undefined): string | undefined {
  const type = header?.split(';')[0].trim().toLowerCase();
  if (!type) return undefined;
  if (type.startsWith('image/') || type === 'application/octet-stream' || type === 'binary/octet-stream') return undefined;
  // The server's text, shown only when it looks like a media type.
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/.test(type) ? type : 'a Content-Type that is not a media type';
}

/**
 * Fetches an image from an untrusted URL; failures are InputErrors named `input` (the argument's
 * path, such as `images[2].url`). `signal` aborts the fetch (the client hung up).
 */
export type ImageFetcher = (url: string, input: string, signal?: AbortSignal) => Promise<Uint8Array>;

/** What a server said identifies the version of a resource it sent (HTTP's validators). */
export interface UrlValidators {
  etag: string | null;
  lastModified: string | null;
}

export type ConditionalFetch = { modified: true; bytes: Uint8Array; validators: UrlValidators } | { modified: false };

/**
 * An ImageFetcher that asks the server whether the image changed since the version `known`
 * identifies (If-None-Match / If-Modified-Since): a 304 answers `{ modified: false }` without a
 * body. Without `known` it fetches as ImageFetcher does, and returns the new validators.
 */
export type ConditionalImageFetcher = (
  url: string,
  input: string,
  known: UrlValidators | undefined,
  signal?: AbortSignal,
) => Promise<ConditionalFetch>;

/**
 * An ImageFetcher with these options, checked once here. Every address connected to must be
 * public (or in `allowNetworks`): literal hosts are checked before connecting and names inside the
 * socket's own lookup, so a name cannot resolve to a public address for a check and a private one
 * for the connect.
 */
export function createImageFetcher(options: Partial<FetchImageOptions> = {}): ImageFetcher {
  const conditional = createConditionalImageFetcher(options);
  return async (url, input, signal) => ((await conditional(url, input, undefined, signal)) as { bytes: Uint8Array }).bytes;
}

/** A ConditionalImageFetcher with these options: the same checks and limits as createImageFetcher's. */
export function createConditionalImageFetcher(options: Partial<FetchImageOptions> = {}): ConditionalImageFetcher {
  const o: FetchImageOptions = { ...DEFAULT_FETCH_IMAGE_OPTIONS, ...setOnly(options) };
  checkFetchImageOptions(o);
  const allow: Network[] = o.allowNetworks.map((cidr) => ipaddr.parseCIDR(cidr));
  return (url, input, known, signal) => fetchImage(url, input, o, allow, known, signal);
}

async function fetchImage(
  url: string,
  input: string,
  o: FetchImageOptions,
  allow: readonly Network[],
  known: UrlValidators | undefined,
  signal?: AbortSignal,
): Promise<ConditionalFetch> {
  const fail = (code: ErrorCode, reason: string, cause?: unknown) => new InputError(input, code, reason, { cause });

  let target: URL;
  try {
    target = new URL(url);
  } catch (error) {
    throw fail(ErrorCode.BAD_USER_INPUT, 'The URL is not a valid absolute URL.', error);
  }
  const problem = urlProblem(target, 'The URL');
  if (problem) throw fail(ErrorCode.BAD_USER_INPUT, problem);

  const controller = new AbortController();
  const abort = (reason: string) => controller.abort(fail(ErrorCode.IMAGE_FETCH_FAILED, reason));
  const timer = setTimeout(() => abort(`The image could not be fetched within ${o.timeoutMs} ms.`), o.timeoutMs);
  const cancel = () => abort('The image fetch was cancelled.');
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  try {
    for (let redirects = 0; ; redirects++) {
      const result = await get(target, redirects === 0 ? 'The URL' : 'The redirect target', o, allow, fail, controller.signal, known);
      if (!(result instanceof URL)) return result;
      if (redirects === o.maxRedirects) {
        throw fail(ErrorCode.IMAGE_FETCH_FAILED, `The URL redirects more than ${o.maxRedirects} time${o.maxRedirects === 1 ? '' : 's'}.`);
      }
      const problem = urlProblem(result, 'The redirect target');
      if (problem) throw fail(ErrorCode.IMAGE_FETCH_FAILED, problem);
      target = result;
    }
  } catch (error) {
    throw error instanceof InputError ? error : fail(ErrorCode.IMAGE_FETCH_FAILED, 'The image could not be fetched.', error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
  }
}

/** One request: the body, or the URL a redirect points to. Rejects only with InputError. */
function get(
  url: URL,
  subject: string,
  o: FetchImageOptions,
  allow: readonly Network[],
  fail: (code: ErrorCode, reason: string, cause?: unknown) => InputError,
  signal: AbortSignal,
  known: UrlValidators | undefined,
): Promise<ConditionalFetch | URL> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const refused = (why: string) => fail(ErrorCode.IMAGE_FETCH_FAILED, `${why}; ${ONLY_PUBLIC}`);
    // Node connects to IP literals without calling `lookup`, so they are judged here. URL has
    // already normalised 2130706433, 0x7f.1 and friends to dotted quads.
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(literal)) {
      const why = refusal(literal, allow);
      if (why) return reject(refused(`${subject}'s host is ${why}`));
    }
    const lookup: LookupFunction = (hostname, options, callback) => {
      dns.lookup(hostname, { family: options.family, hints: options.hints, all: true }, (error, addresses) => {
        if (error || addresses.length === 0) {
          return callback(fail(ErrorCode.IMAGE_FETCH_FAILED, `${subject}'s host ${hostname} could not be resolved.`, error) as Error, '');
        }
        // Any refused address fails the fetch: the socket may try them all (happy eyeballs).
        for (const { address } of addresses) {
          const why = refusal(address, allow);
          if (why) return callback(refused(`${subject}'s host ${hostname} resolves to ${why}`) as Error, '');
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      });
    };

    const onAbort = () => finish(signal.reason);
    const finish = (result: ConditionalFetch | URL | InputError) => {
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (result instanceof InputError) reject(result);
      else resolve(result);
    };
    const broken = (error: unknown) => {
      const code = (error as { code?: unknown })?.code;
      const shown = typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? ` (${code})` : '';
      return fail(ErrorCode.IMAGE_FETCH_FAILED, `The image could not be fetched from ${url.host}${shown}.`, error);
    };

    // A fresh agent per request (agent: false) leaves no keep-alive socket behind. No
    // Accept-Encoding: the body is taken as sent and its size is what is limited.
    const headers: Record<string, string> = { Accept: 'image/*', 'User-Agent': 'clip-gateway' };
    if (known?.etag) headers['If-None-Match'] = known.etag;
    if (known?.lastModified) headers['If-Modified-Since'] = known.lastModified;
    const req = (url.protocol === 'https:' ? https : http).request(url, { agent: false, lookup, headers }, (res) => {
      res.on('error', (error) => finish(broken(error)));
      res.on('close', () => finish(fail(ErrorCode.IMAGE_FETCH_FAILED, `The connection to ${url.host} closed before the image arrived.`)));
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        const location = res.headers.location;
        let next: URL | undefined;
        try {
          next = location === undefined ? undefined : new URL(location, url);
        } catch {}
        const missing = `The server at ${url.host} answered HTTP status ${status} with ${location === undefined ? 'no' : 'an invalid'} Location header.`;
        return finish(next ?? fail(ErrorCode.IMAGE_FETCH_FAILED, missing));
      }
      // Only an answer to a conditional request: a server sending 304 unasked has sent no image.
      if (status === 304 && known && (known.etag || known.lastModified)) return finish({ modified: false });
      if (status < 200 || status > 299) {
        return finish(fail(ErrorCode.IMAGE_FETCH_FAILED, `The server at ${url.host} answered HTTP status ${status}.`));
      }
      // Before the body: an HTML page (a login wall, a gallery page instead of its image) is refused unread.
      const wrongType = notAnImage(res.headers['content-type']);
      if (wrongType) return finish(fail(ErrorCode.IMAGE_FETCH_FAILED, `${subject} returned ${wrongType}, not an image.`));
      const tooLarge = (size: string) =>
        fail(ErrorCode.INPUT_TOO_LARGE, `The image at ${url.host} is ${size} the limit of ${o.maxBytes} bytes.`);
      const declared = Number(res.headers['content-length']);
      if (declared > o.maxBytes) return finish(tooLarge(`${declared} bytes, over`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > o.maxBytes) finish(tooLarge('over'));
        else chunks.push(chunk);
      });
      const header = (name: string) => {
        const value = res.headers[name];
        return typeof value === 'string' && value.length <= 1024 ? value : null;
      };
      res.on('end', () =>
        finish({
          modified: true,
          bytes: Buffer.concat(chunks, size),
          validators: { etag: header('etag'), lastModified: header('last-modified') },
        }),
      );
    });
    req.on('error', (error) => finish(error instanceof InputError ? error : broken(error)));
    signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}
