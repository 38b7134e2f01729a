/**
 * Version 2: the binary frame (see frame.ts), for HTTP hosts (SageMaker, Cloud Run, RunPod, ...).
 * Crops, images and texts travel as raw bytes and vectors as raw float32, so a ViT-B/32 crop is
 * 150,528 bytes instead of 200,707 as base64 and encoding a batch is one copy of it.
 *
 * Headers:
 *   request   {"v":2,"kind":"text"|"crops"|"images","lengths":[n, ...]}  data: the inputs back to back (texts as UTF-8)
 *             {"v":2,"kind":"describe"}                                  no data
 *   results   {"v":2,"count":n,"dim":d,"errors":[{"index":i,"code":c,"message":m}, ...]}
 *             data: one vector of d float32 little-endian per input that did not fail, in input order
 *   describe  {"v":2,"description":{...},"protocols":[1,2]}             no data
 *   refusal   {"v":2,"error":{"code":c,"message":m}}                     no data: the request as a whole was malformed
 */
import type { EmbedRequest, EmbedRequestItem, EmbedRequestKind, EmbedResult, ModelDescription } from '../clip';
import { checkDescription, checkProtocols, ProtocolError, type DescribeAnswer, type ProtocolVersion } from './common';
import { readFloats, readFrame, readUtf8, writeFloats, writeFrame } from './frame';
import type { DescribeRequest } from './json';

/** The content type of a version 2 frame, both ways; any other body is version 1 JSON. */
export const WIRE_V2_CONTENT_TYPE = 'application/vnd.clip-gateway.v2';

/** Whether a Content-Type header names version 2 (parameters and case ignored). */
export function isWireV2ContentType(contentType: string | null | undefined): boolean {
  return typeof contentType === 'string' && contentType.split(';')[0].trim().toLowerCase() === WIRE_V2_CONTENT_TYPE;
}

/**
 * Bytes one input adds to a version 2 request: its own bytes and its entry in the header's
 * `lengths` (digits and a comma). What a caller budgets against a payload limit.
 */
export function wireSizeOfV2(kind: EmbedRequestKind, item: EmbedRequestItem): number {
  const bytes = kind === 'text' ? Buffer.byteLength(item as string, 'utf8') : (item as Uint8Array).byteLength;
  return bytes + String(bytes).length + 1;
}

/** Bytes of a version 2 request apart from its inputs: the 8-byte start, the header's fixed part, the padding; with room to spare. */
export const WIRE_V2_REQUEST_OVERHEAD_BYTES = 64;

export function encodeRequestV2(request: EmbedRequest | DescribeRequest): Buffer {
  if (request.kind === 'describe') return writeFrame({ v: 2, kind: 'describe' });
  if (request.kind === 'text') {
    const texts = request.items;
    const lengths = texts.map((text) => Buffer.byteLength(text, 'utf8'));
    return writeFrame({ v: 2, kind: 'text', lengths }, sum(lengths), (frame, start) => {
      for (let i = 0, at = start; i < texts.length; at += lengths[i], i++) frame.write(texts[i], at, lengths[i], 'utf8');
    });
  }
  const items = request.items;
  const lengths = items.map((item) => item.byteLength);
  return writeFrame({ v: 2, kind: request.kind, lengths }, sum(lengths), (frame, start) => {
    for (let i = 0, at = start; i < items.length; at += lengths[i], i++) frame.set(items[i], at);
  });
}

/** A version 2 request; crops and images are views on `frame` (no copy), so the frame lives as long as they do. */
export function decodeRequestV2(frame: Uint8Array): EmbedRequest | DescribeRequest {
  const { header, data } = readFrame(frame, 'request');
  const { kind } = header;
  if (kind === 'describe') {
    if (data.byteLength > 0) throw new ProtocolError(`a describe request carries no data, but this one has ${data.byteLength} bytes`);
    return { kind };
  }
  if (kind !== 'text' && kind !== 'crops' && kind !== 'images') {
    throw new ProtocolError(`request kind ${JSON.stringify(kind)} is not one of describe, text, crops, images`);
  }
  const lengths = header.lengths;
  if (!Array.isArray(lengths) || lengths.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new ProtocolError('lengths must be a list of non-negative integers, one per input');
  }
  const total = sum(lengths as number[]);
  if (total !== data.byteLength) {
    throw new ProtocolError(`the data section is ${data.byteLength} bytes, but lengths add up to ${total}`);
  }
  let at = 0;
  const slices = (lengths as number[]).map((length) => data.subarray(at, (at += length)));
  if (kind === 'text') return { kind, items: slices.map((bytes, i) => readUtf8(bytes, `texts[${i}]`)) };
  return { kind, items: slices.map((bytes) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) };
}

export function encodeResultsV2(results: readonly EmbedResult[]): Buffer {
  const errors: { index: number; code: string; message: string }[] = [];
  let dim: number | undefined;
  results.forEach((result, index) => {
    if (!result.ok) errors.push({ index, code: result.code, message: result.message });
    else if ((dim ??= result.vector.length) !== result.vector.length) {
      throw new RangeError(`results[${index}] has ${result.vector.length} dimensions where the others have ${dim}`);
    }
  });
  const vectorBytes = (dim ?? 0) * 4;
  return writeFrame(
    { v: 2, count: results.length, dim: dim ?? 0, errors },
    (results.length - errors.length) * vectorBytes,
    (frame, start) => {
      let at = start;
      for (const result of results) {
        if (!result.ok) continue;
        writeFloats(frame, at, result.vector);
        at += vectorBytes;
      }
    },
  );
}

/**
 * Checks a function's version 2 answer to an embed request: `count` items, each a vector of `dim`
 * floats or an error with a code and message. Anything else is a ProtocolError; so is a refusal
 * of the whole request, as in version 1.
 */
export function decodeResultsV2(frame: Uint8Array, count: number, dim: number): EmbedResult[] {
  const { header, data } = readFrame(frame, 'answer');
  refusal(header);
  if (header.count !== count) throw new ProtocolError(`the answer has ${JSON.stringify(header.count)} items for ${count} inputs`);
  const errors = itemErrors(header.errors, count);
  const vectors = count - errors.length;
  if (vectors > 0 && header.dim !== dim)
    throw new ProtocolError(`the answer's vectors have ${JSON.stringify(header.dim)} dimensions, not ${dim}`);
  if (data.byteLength !== vectors * dim * 4) {
    throw new ProtocolError(
      `the data section is ${data.byteLength} bytes, but ${vectors} vectors of ${dim} float32 take ${vectors * dim * 4}`,
    );
  }
  const results: EmbedResult[] = new Array(count);
  for (const { index, code, message } of errors) results[index] = { ok: false, code, message };
  for (let i = 0, at = 0; i < count; i++) {
    if (results[i]) continue;
    results[i] = { ok: true, vector: readFloats(data, at, dim) };
    at += dim * 4;
  }
  return results;
}

/** The answer to a describe request, in version 2. */
export function encodeDescribeAnswerV2(description: ModelDescription, protocols: readonly ProtocolVersion[]): Buffer {
  return writeFrame({ v: 2, description, protocols });
}

export function decodeDescribeAnswerV2(frame: Uint8Array): DescribeAnswer {
  const { header } = readFrame(frame, 'answer');
  refusal(header);
  return { description: checkDescription(header.description, 'the answer'), protocols: checkProtocols(header.protocols, 'the answer') };
}

/** A refusal of the whole request (it was malformed): nothing was computed. */
export function encodeRefusalV2(code: string, message: string): Buffer {
  return writeFrame({ v: 2, error: { code, message } });
}

function refusal(header: Record<string, unknown>): void {
  const error = header.error as { code?: unknown; message?: unknown } | undefined;
  if (error !== undefined) throw new ProtocolError(`the function refused the request: ${String(error?.code)}: ${String(error?.message)}`);
}

/** The per-input errors of an answer: in input order, each once, each with a code and a message. */
function itemErrors(value: unknown, count: number): { index: number; code: string; message: string }[] {
  if (!Array.isArray(value)) throw new ProtocolError('the answer has no errors list');
  let previous = -1;
  return value.map((entry: unknown, k) => {
    const { index, code, message } = (entry ?? {}) as { index?: unknown; code?: unknown; message?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index <= previous || index >= count) {
      throw new ProtocolError(
        `errors[${k}].index must be an input's index (0 to ${count - 1}) after the previous one, got ${JSON.stringify(index)}`,
      );
    }
    if (typeof code !== 'string' || typeof message !== 'string') throw new ProtocolError(`errors[${k}] has no code and message`);
    previous = index;
    return { index, code, message };
  });
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
