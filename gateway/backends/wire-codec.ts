import type { EmbedRequest, EmbedRequestItem, EmbedRequestKind, EmbedResult } from '../../functions/clip';
import {
  decodeDescribeAnswer,
  decodeResults,
  decodeResultsV2,
  encodeRequest,
  encodeRequestV2,
  isWireV2ContentType,
  WIRE_REQUEST_OVERHEAD_BYTES,
  WIRE_V2_CONTENT_TYPE,
  WIRE_V2_REQUEST_OVERHEAD_BYTES,
  wireSizeOf,
  wireSizeOfV2,
  type DescribeAnswer,
  type DescribeRequest,
  type ProtocolVersion,
} from '../../functions/protocol';
import { parseAnswer } from './call-failure';

/** A request or an answer as a transport carries it: bytes and what they are. */
export interface WireMessage {
  contentType: string;
  body: Uint8Array;
}

export const JSON_CONTENT_TYPE = 'application/json';

/** How requests are written for one function: the protocol version both ends speak. */
export interface WireCodec {
  readonly version: ProtocolVersion;
  /** Bytes of an encoded request apart from its inputs, with room to spare. */
  readonly overheadBytes: number;
  /** Bytes one input adds to an encoded request: what calls are budgeted by. */
  sizeOf(kind: EmbedRequestKind, item: EmbedRequestItem): number;
  encode(request: EmbedRequest | DescribeRequest): WireMessage;
}

/** Version 1, JSON with base64 payloads: what every function understands, and all Lambda's Invoke can carry. */
export const JSON_CODEC: WireCodec = {
  version: 1,
  overheadBytes: WIRE_REQUEST_OVERHEAD_BYTES,
  sizeOf: wireSizeOf,
  encode: (request) => ({ contentType: JSON_CONTENT_TYPE, body: Buffer.from(JSON.stringify(encodeRequest(request)), 'utf8') }),
};

/** Version 2, a binary frame: raw crops and float32 vectors, a third smaller than base64 and no JSON to build on the event loop. */
export const BINARY_CODEC: WireCodec = {
  version: 2,
  overheadBytes: WIRE_V2_REQUEST_OVERHEAD_BYTES,
  sizeOf: wireSizeOfV2,
  encode: (request) => ({ contentType: WIRE_V2_CONTENT_TYPE, body: encodeRequestV2(request) }),
};

/** The codec for a function that speaks `protocols`, over a transport that may or may not carry binary bodies. */
export function codecFor(protocols: readonly number[], binaryTransport: boolean): WireCodec {
  return binaryTransport && protocols.includes(2) ? BINARY_CODEC : JSON_CODEC;
}

/** An embed answer in whichever version the function answered (its content type says). Throws ProtocolError or CallError (not JSON). */
export function decodeEmbedAnswer(answer: WireMessage, count: number, dim: number): EmbedResult[] {
  if (isWireV2ContentType(answer.contentType)) return decodeResultsV2(answer.body, count, dim);
  return decodeResults(parseAnswer(textOf(answer)), count, dim);
}

/** A describe answer: always JSON, since describe requests are sent in version 1. */
export function decodeDescribeMessage(answer: WireMessage): DescribeAnswer {
  return decodeDescribeAnswer(parseAnswer(textOf(answer)));
}

export function textOf(message: WireMessage): string {
  return Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('utf8');
}
