import type { EmbedRequest } from '../clip';
import {
  decodeRequest,
  decodeRequestV2,
  encodeDescribeAnswer,
  encodeDescribeAnswerV2,
  encodeRefusalV2,
  encodeResults,
  encodeResultsV2,
  HTTP_PROTOCOLS,
  ProtocolError,
  type DescribeRequest,
  type ProtocolVersion,
  type WireResponse,
} from '../protocol';
import type { ServedModel } from './served-model';

/**
 * A function's whole job in protocol version 1 (JSON), for any transport: decode, run, encode.
 * Malformed requests get a request-level error answer (nothing to retry); model failures
 * propagate to the transport. `protocols`: what the describe answer advertises; Lambda's Invoke
 * carries JSON only, hence [1] unless the transport says otherwise.
 */
export async function handleWireRequest(
  model: ServedModel,
  payload: unknown,
  protocols: readonly ProtocolVersion[] = [1],
): Promise<WireResponse> {
  let request: EmbedRequest | DescribeRequest;
  try {
    request = decodeRequest(payload);
  } catch (error) {
    if (error instanceof ProtocolError) return { v: 1, error: { code: 'BAD_USER_INPUT', message: malformed(error) } };
    throw error;
  }
  if (request.kind === 'describe') return encodeDescribeAnswer(model.describe(), protocols);
  return encodeResults(await model.embed(request));
}

/** The same in protocol version 2 (binary frames), which only HTTP transports carry. */
export async function handleWireRequestV2(
  model: ServedModel,
  frame: Uint8Array,
  protocols: readonly ProtocolVersion[] = HTTP_PROTOCOLS,
): Promise<Buffer> {
  let request: EmbedRequest | DescribeRequest;
  try {
    request = decodeRequestV2(frame);
  } catch (error) {
    if (error instanceof ProtocolError) return encodeRefusalV2('BAD_USER_INPUT', malformed(error));
    throw error;
  }
  if (request.kind === 'describe') return encodeDescribeAnswerV2(model.describe(), protocols);
  return encodeResultsV2(await model.embed(request));
}

const malformed = (error: ProtocolError) => `Malformed request: ${error.message}.`;
