import type { ClipModel } from '../clip/model';
import { decodeRequest, encodeResults, ProtocolError, type DescribeRequest, type WireResponse } from '../protocol';
import type { EmbedRequest } from '../clip';

/**
 * A function's whole job, for any JSON transport: decode, run, encode. Malformed requests get a
 * request-level error answer (nothing to retry); model failures propagate to the transport.
 */
export async function handleWireRequest(model: ClipModel, payload: unknown): Promise<WireResponse> {
  let request: EmbedRequest | DescribeRequest;
  try {
    request = decodeRequest(payload);
  } catch (error) {
    if (error instanceof ProtocolError) return { v: 1, error: { code: 'BAD_USER_INPUT', message: `Malformed request: ${error.message}.` } };
    throw error;
  }
  if (request.kind === 'describe') return { v: 1, description: model.describe() };
  return encodeResults(await model.embed(request));
}
