/**
 * What a CLIP function is asked and what it answers: the contract between the gateway and every
 * place CLIP runs (a worker thread, a Lambda function, an HTTP service).
 *
 * In memory, requests and results carry typed arrays. On the wire (JSON, for Lambda's Invoke and
 * for HTTP) bytes and vectors travel as base64: a 512-dim vector is 2.7 KB instead of ~10 KB of
 * JSON numbers, and a 224×224 crop is 200 KB.
 */
import type { ClipModel, ClipModelInfo, ImagePreprocessSpec } from './clip';

export type EmbedRequest =
  | { kind: 'text'; texts: string[] }
  /** uint8 RGB crops, cropHeight × cropWidth × 3 bytes each, as the gateway makes them. */
  | { kind: 'crops'; crops: Uint8Array[] }
  /** Encoded JPEG/PNG/WebP images, for direct callers; the function decodes them. */
  | { kind: 'images'; images: Uint8Array[] };

export type EmbedRequestKind = EmbedRequest['kind'];

/** One per input, in input order. `code` is one of the gateway's error codes. */
export type EmbedItem = { ok: true; vector: Float32Array } | { ok: false; code: string; message: string };

/** What a caller needs to know to prepare inputs for a function and to interpret its vectors. */
export interface ModelDescription {
  info: ClipModelInfo;
  preprocess: ImagePreprocessSpec;
}

export function describeModel(model: ClipModel): ModelDescription {
  return { info: model.info, preprocess: model.spec.image };
}

/** Runs one request on a loaded model: the whole of a function's work, whatever the transport. */
export async function runEmbedRequest(model: ClipModel, request: EmbedRequest): Promise<EmbedItem[]> {
  const results = await (() => {
    switch (request.kind) {
      case 'text':
        return model.embedTexts(request.texts);
      case 'crops':
        return model.embedCrops(request.crops);
      case 'images':
        return model.embedImages(request.images);
      default:
        throw new TypeError(`unknown request kind: ${(request as { kind: unknown }).kind}`);
    }
  })();
  return results.map((r) => (r.ok ? r : { ok: false, code: r.error.code, message: r.error.message }));
}

// ---- The JSON wire format ----

export const PROTOCOL_VERSION = 1;

/** AWS Lambda's synchronous invocation limit, each way. */
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

export type WireRequest =
  | { v: 1; kind: 'describe' }
  | { v: 1; kind: 'text'; texts: string[] }
  | { v: 1; kind: 'crops'; crops: string[] }
  | { v: 1; kind: 'images'; images: string[] };

export type WireItem = { vector: string } | { error: { code: string; message: string } };

export type WireResponse =
  | { v: 1; items: WireItem[] }
  | { v: 1; description: ModelDescription }
  /** The request as a whole could not be served (malformed): nothing was computed. */
  | { v: 1; error: { code: string; message: string } };

/** A payload that does not follow this protocol (a bug or a version mismatch, never user input). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function encodeRequest(request: EmbedRequest | { kind: 'describe' }): WireRequest {
  switch (request.kind) {
    case 'describe':
      return { v: 1, kind: 'describe' };
    case 'text':
      return { v: 1, kind: 'text', texts: request.texts };
    case 'crops':
      return { v: 1, kind: 'crops', crops: request.crops.map(toBase64) };
    case 'images':
      return { v: 1, kind: 'images', images: request.images.map(toBase64) };
    default:
      throw new TypeError(`unknown request kind: ${(request as { kind: unknown }).kind}`);
  }
}

/** Bytes one input adds to a JSON request: what the gateway budgets against the payload limit. */
export function wireSizeOf(request: EmbedRequest['kind'], item: string | Uint8Array): number {
  if (request === 'text') return Buffer.byteLength(JSON.stringify(item)) + 1;
  return Math.ceil((item as Uint8Array).byteLength / 3) * 4 + 3;
}

/** Bytes of a request apart from its inputs, with room to spare. */
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

export function decodeRequest(payload: unknown): EmbedRequest | { kind: 'describe' } {
  if (typeof payload !== 'object' || payload === null) throw new ProtocolError('the request is not a JSON object');
  const { v, kind } = payload as { v?: unknown; kind?: unknown };
  if (v !== PROTOCOL_VERSION)
    throw new ProtocolError(`protocol version ${JSON.stringify(v)} is not supported; this function speaks ${PROTOCOL_VERSION}`);
  const body = payload as Record<string, unknown>;
  switch (kind) {
    case 'describe':
      return { kind };
    case 'text':
      return { kind, texts: stringList(body.texts, 'texts') };
    case 'crops':
      return { kind, crops: stringList(body.crops, 'crops').map((c, i) => fromBase64Strict(c, `crops[${i}]`)) };
    case 'images':
      return { kind, images: stringList(body.images, 'images').map((c, i) => fromBase64Strict(c, `images[${i}]`)) };
    default:
      throw new ProtocolError(`request kind ${JSON.stringify(kind)} is not one of describe, text, crops, images`);
  }
}

export function encodeItems(items: EmbedItem[]): WireResponse {
  return {
    v: 1,
    items: items.map((item) =>
      item.ok
        ? { vector: toBase64(new Uint8Array(item.vector.buffer, item.vector.byteOffset, item.vector.byteLength)) }
        : { error: { code: item.code, message: item.message } },
    ),
  };
}

/**
 * Checks a function's answer to an embed request: exactly `count` items, each a vector of `dim`
 * floats or an error with a code and message. Anything else is a ProtocolError.
 */
export function decodeItems(payload: unknown, count: number, dim: number): EmbedItem[] {
  const body = payload as { v?: unknown; items?: unknown; error?: { code?: unknown; message?: unknown } };
  if (typeof payload !== 'object' || payload === null || body.v !== PROTOCOL_VERSION)
    throw new ProtocolError('the response is not a version 1 protocol object');
  if (body.error) {
    throw new ProtocolError(`the function refused the request: ${String(body.error.code)}: ${String(body.error.message)}`);
  }
  if (!Array.isArray(body.items) || body.items.length !== count) {
    throw new ProtocolError(`the response has ${Array.isArray(body.items) ? body.items.length : 'no'} items for ${count} inputs`);
  }
  return body.items.map((item: unknown, i): EmbedItem => {
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

export function decodeDescription(payload: unknown): ModelDescription {
  const body = payload as { v?: unknown; description?: ModelDescription };
  const d = body?.description;
  if (body?.v !== PROTOCOL_VERSION || !d || typeof d.info?.dim !== 'number' || typeof d.preprocess?.cropWidth !== 'number') {
    throw new ProtocolError('the response is not a version 1 model description');
  }
  return d;
}

/**
 * A function's whole job, for any JSON transport: decode, run, encode. Malformed requests get a
 * request-level error answer (nothing to retry); model failures propagate to the transport.
 */
export async function handleWireRequest(model: ClipModel, payload: unknown): Promise<WireResponse> {
  let request: EmbedRequest | { kind: 'describe' };
  try {
    request = decodeRequest(payload);
  } catch (error) {
    if (error instanceof ProtocolError) return { v: 1, error: { code: 'BAD_USER_INPUT', message: `Malformed request: ${error.message}.` } };
    throw error;
  }
  if (request.kind === 'describe') return { v: 1, description: describeModel(model) };
  return encodeItems(await runEmbedRequest(model, request));
}
