/**
 * Version 1, unchanged since the first release: JSON, for Lambda's Invoke (which carries JSON
 * only) and for debugging with curl. Bytes and vectors travel as base64: a 512-dim vector is
 * 2.7 KB instead of ~10 KB of JSON numbers, and a 224×224 crop is 200 KB. A request's inputs
 * travel under a field named for their kind (`texts`, `crops`, `images`).
 */
import type { EmbedRequest, EmbedRequestItem, EmbedRequestKind, EmbedResult, ModelDescription } from '../clip';
import { checkDescription, checkProtocols, ProtocolError, type DescribeAnswer, type ProtocolVersion } from './common';

export const PROTOCOL_VERSION = 1;

/** The field that carries a request's inputs on the wire, by kind. */
const ITEMS_FIELD = { text: 'texts', crops: 'crops', images: 'images' } as const satisfies Record<EmbedRequestKind, string>;

export type WireRequest =
  | { v: 1; kind: 'describe' }
  | { v: 1; kind: 'text'; texts: string[] }
  | { v: 1; kind: 'crops'; crops: string[] }
  | { v: 1; kind: 'images'; images: string[] };

export type WireItem = { vector: string } | { error: { code: string; message: string } };

export type WireResponse =
  | { v: 1; items: WireItem[] }
  /** `protocols`: the versions the function speaks; absent from functions older than version 2. */
  | { v: 1; description: ModelDescription; protocols?: number[] }
  /** The request as a whole could not be served (malformed): nothing was computed. */
  | { v: 1; error: { code: string; message: string } };

export type DescribeRequest = { kind: 'describe' };

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function encodeRequest(request: EmbedRequest | DescribeRequest): WireRequest {
  if (request.kind === 'describe') return { v: 1, kind: 'describe' };
  const items = request.kind === 'text' ? request.items : request.items.map(toBase64);
  return { v: 1, kind: request.kind, [ITEMS_FIELD[request.kind]]: items } as WireRequest;
}

/** Bytes one input adds to an encoded request: what a caller budgets against a payload limit. */
export function wireSizeOf(kind: EmbedRequestKind, item: EmbedRequestItem): number {
  if (kind === 'text') return Buffer.byteLength(JSON.stringify(item)) + 1;
  return Math.ceil((item as Uint8Array).byteLength / 3) * 4 + 3;
}

/** Bytes of an encoded request apart from its inputs, with room to spare. */
export const WIRE_REQUEST_OVERHEAD_BYTES = 64;

function fromBase64Strict(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new ProtocolError(`${what} is not a base64 string`);
  const bytes = Buffer.from(value, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ProtocolError(`${what} must be a list of strings`);
  return value as string[];
}

export function decodeRequest(payload: unknown): EmbedRequest | DescribeRequest {
  if (typeof payload !== 'object' || payload === null) throw new ProtocolError('the request is not a JSON object');
  const { v, kind } = payload as { v?: unknown; kind?: unknown };
  if (v !== PROTOCOL_VERSION)
    throw new ProtocolError(`protocol version ${JSON.stringify(v)} is not supported; this function speaks ${PROTOCOL_VERSION}`);
  if (kind === 'describe') return { kind };
  if (kind !== 'text' && kind !== 'crops' && kind !== 'images') {
    throw new ProtocolError(`request kind ${JSON.stringify(kind)} is not one of describe, text, crops, images`);
  }
  const field = ITEMS_FIELD[kind];
  const strings = stringList((payload as Record<string, unknown>)[field], field);
  if (kind === 'text') return { kind, items: strings };
  return { kind, items: strings.map((s, i) => fromBase64Strict(s, `${field}[${i}]`)) };
}

export function encodeResults(results: readonly EmbedResult[]): WireResponse {
  return {
    v: 1,
    items: results.map((result) =>
      result.ok
        ? { vector: toBase64(new Uint8Array(result.vector.buffer, result.vector.byteOffset, result.vector.byteLength)) }
        : { error: { code: result.code, message: result.message } },
    ),
  };
}

/**
 * Checks a function's answer to an embed request: exactly `count` items, each a vector of `dim`
 * floats or an error with a code and message. Anything else is a ProtocolError.
 */
export function decodeResults(payload: unknown, count: number, dim: number): EmbedResult[] {
  const body = payload as { v?: unknown; items?: unknown; error?: { code?: unknown; message?: unknown } };
  if (typeof payload !== 'object' || payload === null || body.v !== PROTOCOL_VERSION)
    throw new ProtocolError('the response is not a version 1 protocol object');
  if (body.error) {
    throw new ProtocolError(`the function refused the request: ${String(body.error.code)}: ${String(body.error.message)}`);
  }
  if (!Array.isArray(body.items) || body.items.length !== count) {
    throw new ProtocolError(`the response has ${Array.isArray(body.items) ? body.items.length : 'no'} items for ${count} inputs`);
  }
  return body.items.map((item: unknown, i): EmbedResult => {
    const it = item as { vector?: unknown; error?: { code?: unknown; message?: unknown } };
    if (typeof it?.vector === 'string') {
      const bytes = fromBase64Strict(it.vector, `items[${i}].vector`);
      if (bytes.byteLength !== dim * 4) throw new ProtocolError(`items[${i}] has ${bytes.byteLength / 4} dimensions, not ${dim}`);
      // Copy into an aligned buffer: Float32Array needs a 4-byte aligned offset.
      return { ok: true, vector: new Float32Array(new Uint8Array(bytes).buffer) };
    }
    if (it?.error && typeof it.error.code === 'string' && typeof it.error.message === 'string') {
      return { ok: false, code: it.error.code, message: it.error.message };
    }
    throw new ProtocolError(`items[${i}] is neither a vector nor an error`);
  });
}

/** The answer to a describe request: the model, and which protocol versions the function speaks. */
export function encodeDescribeAnswer(description: ModelDescription, protocols: readonly ProtocolVersion[]): WireResponse {
  return { v: 1, description, protocols: [...protocols] };
}

export function decodeDescription(payload: unknown): ModelDescription {
  return decodeDescribeAnswer(payload).description;
}

/** A describe answer in version 1: what the gateway asks first, since every function understands it. */
export function decodeDescribeAnswer(payload: unknown): DescribeAnswer {
  const body = payload as { v?: unknown; description?: unknown; protocols?: unknown };
  if (typeof payload !== 'object' || payload === null || body.v !== PROTOCOL_VERSION) {
    throw new ProtocolError('the response is not a version 1 model description');
  }
  const description = checkDescription(body.description, 'the response');
  return { description, protocols: checkProtocols(body.protocols, 'the response') };
}
