// Checks a request's AWS Signature Version 4 the way an AWS front end does: the signature is
// computed again from the request as received and the configured secret, with the same signer
// the SDK signs with (@smithy/signature-v4), and must match. Answers are the ones AWS JSON
// services give for each failure.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { SignatureV4 } from '@smithy/signature-v4';

import { authError, type Answer } from './answers';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a request must be signed for. */
export interface SigningExpectation {
  credentials: SigningCredentials;
  region: string;
  /** The signing name: `sagemaker` for the SageMaker Runtime API. */
  service: string;
  /** Wall-clock milliseconds since the epoch, to check the request's date against. */
  now: number;
}

/** The request as it arrived: the raw path and query (still percent-encoded), headers, body. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** AWS refuses a signature dated more than this far from its own clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const ALGORITHM = 'AWS4-HMAC-SHA256';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing ' +
  'method. Consult the service documentation for details.';

/** node:crypto behind the hash interface the signer takes (SHA-256, or HMAC-SHA-256 with a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** "20240102T030405Z" → its time, or undefined when it is not such a date. */
function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const time = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(time) ? undefined : time;
}

const amzDate = (time: number) =>
  new Date(time)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

/** The Authorization header's parts, or the answer AWS gives when they are not all there. */
function parseAuthorization(value: string): { credential: string[]; signedHeaders: string[]; signature: string } | Answer {
  if (!value.startsWith(`${ALGORITHM} `)) {
    return authError('IncompleteSignatureException', `Authorization header requires the ${ALGORITHM} algorithm. Authorization=${value}`);
  }
  const parts = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((name) => !parts.get(name));
  if (missing.length > 0) {
    const sentences = missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' ');
    return authError('IncompleteSignatureException', `${sentences} Authorization=${value}`);
  }
  const credential = parts.get('Credential')!.split('/');
  if (credential.length !== 5 || credential[4] !== 'aws4_request') {
    return authError(
      'IncompleteSignatureException',
      `Credential must have exactly 5 slash-delimited elements, got ${parts.get('Credential')}.`,
    );
  }
  return { credential, signedHeaders: parts.get('SignedHeaders')!.split(';'), signature: parts.get('Signature')! };
}

/**
 * Undefined when the request is signed for `expected`; otherwise the 403 AWS answers with:
 * MissingAuthenticationTokenException, IncompleteSignatureException, UnrecognizedClientException
 * (unknown access key) or InvalidSignatureException (wrong scope, stale date, tampered request,
 * wrong secret).
 */
export async function checkSignature(request: ReceivedRequest, expected: SigningExpectation): Promise<Answer | undefined> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) return authError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const parsed = parseAuthorization(authorization);
  if ('status' in parsed) return parsed;
  const [accessKeyId, , region, service] = parsed.credential;
  if (accessKeyId !== expected.credentials.accessKeyId) {
    return authError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  if (service !== expected.service) {
    return authError('InvalidSignatureException', `Credential should be scoped to correct service: '${expected.service}'. `);
  }
  if (region !== expected.region) return authError('InvalidSignatureException', 'Credential should be scoped to a valid region. ');

  const dateHeader = header(request.headers, 'x-amz-date');
  const signedAt = dateHeader === undefined ? undefined : parseAmzDate(dateHeader);
  if (signedAt === undefined) {
    return authError(
      'IncompleteSignatureException',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  }
  if (signedAt < expected.now - MAX_SKEW_MS) {
    return authError(
      'InvalidSignatureException',
      `Signature expired: ${dateHeader} is now earlier than ${amzDate(expected.now - MAX_SKEW_MS)} (${amzDate(expected.now)} - 15 min.)`,
    );
  }
  if (signedAt > expected.now + MAX_SKEW_MS) {
    return authError(
      'InvalidSignatureException',
      `Signature not yet current: ${dateHeader} is still later than ${amzDate(expected.now + MAX_SKEW_MS)} (${amzDate(expected.now)} + 15 min.)`,
    );
  }
  // A signed content hash stands for the body in the signature, so it must be the body's.
  const contentHash = header(request.headers, 'x-amz-content-sha256');
  if (contentHash !== undefined && contentHash !== createHash('sha256').update(request.body).digest('hex')) {
    return authError('InvalidSignatureException', MISMATCH);
  }

  const headers: Record<string, string> = {};
  for (const name of parsed.signedHeaders) {
    const value = header(request.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  const [path, rawQuery = ''] = request.url.split('?', 2);
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const signer = new SignatureV4({ service, region, credentials: expected.credentials, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path, query, headers, body: request.body },
    { signingDate: new Date(signedAt), signableHeaders: new Set(parsed.signedHeaders) },
  );
  const recomputed = /Signature=([0-9a-f]+)$/.exec(String(signed.headers.authorization))?.[1] ?? '';
  const given = Buffer.from(parsed.signature);
  const ours = Buffer.from(recomputed);
  if (given.length !== ours.length || !timingSafeEqual(given, ours)) return authError('InvalidSignatureException', MISMATCH);
  return undefined;
}
