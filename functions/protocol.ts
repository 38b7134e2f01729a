/**
 * The wire contract between the gateway and every place CLIP runs out of process (a Lambda
 * function, an HTTP service): the shapes and their codecs, nothing that runs a model.
 *
 * In memory, requests and results are the CLIP core's `EmbedRequest` and `EmbedResult`. On the
 * wire there are two versions: 1, JSON with base64 payloads (protocol/json.ts: Lambda, curl), and
 * 2, a binary frame with raw bytes and float32 vectors (protocol/binary.ts, protocol/frame.ts),
 * chosen by its content type. A function's describe answer lists the versions it speaks; the
 * describe request itself is always sent in version 1, which every function understands.
 *
 * This file is the public entry; the folder beside it holds the parts.
 */
export {
  checkDescription,
  HTTP_PROTOCOLS,
  LAMBDA_PAYLOAD_LIMIT_BYTES,
  ProtocolError,
  type DescribeAnswer,
  type ProtocolVersion,
} from './protocol/common';
export {
  decodeDescribeAnswer,
  decodeDescription,
  decodeRequest,
  decodeResults,
  encodeDescribeAnswer,
  encodeRequest,
  encodeResults,
  PROTOCOL_VERSION,
  WIRE_REQUEST_OVERHEAD_BYTES,
  wireSizeOf,
  type DescribeRequest,
  type WireItem,
  type WireRequest,
  type WireResponse,
} from './protocol/json';
export {
  decodeDescribeAnswerV2,
  decodeRequestV2,
  decodeResultsV2,
  encodeDescribeAnswerV2,
  encodeRefusalV2,
  encodeRequestV2,
  encodeResultsV2,
  isWireV2ContentType,
  WIRE_V2_CONTENT_TYPE,
  WIRE_V2_REQUEST_OVERHEAD_BYTES,
  wireSizeOfV2,
} from './protocol/binary';
