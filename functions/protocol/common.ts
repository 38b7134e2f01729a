import type { ModelDescription } from '../clip';

/** AWS Lambda's synchronous invocation limit, each way; SageMaker's real-time endpoints take the same 6 MiB. */
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/** The versions of the wire protocol: 1 is JSON with base64 payloads, 2 a binary frame. */
export type ProtocolVersion = 1 | 2;

/**
 * What a function served over HTTP speaks (its describe answer says so). Lambda's Invoke carries
 * JSON only, so the Lambda handler advertises [1].
 */
export const HTTP_PROTOCOLS: readonly ProtocolVersion[] = [1, 2];

/** A payload that does not follow this protocol (a bug or a version mismatch, never user input). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** A function's model description, checked for the fields callers rely on. */
export function checkDescription(value: unknown, what: string): ModelDescription {
  const d = value as ModelDescription | undefined;
  if (!d || typeof d !== 'object' || typeof d.info?.dim !== 'number' || typeof d.preprocess?.cropWidth !== 'number') {
    throw new ProtocolError(`${what} has no model description`);
  }
  return d;
}

/**
 * The protocol versions a describe answer lists; an answer without the field comes from a
 * function older than version 2, which speaks 1 alone.
 */
export function checkProtocols(value: unknown, what: string): number[] {
  if (value === undefined) return [1];
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ProtocolError(`${what}'s protocols must be a non-empty list of positive integers, got ${JSON.stringify(value)}`);
  }
  return value as number[];
}

/** What a describe answer says: the model, and the protocol versions the function speaks. */
export interface DescribeAnswer {
  description: ModelDescription;
  /** Versions the function accepts, e.g. [1, 2]; [1] for a function that predates the field. */
  protocols: number[];
}
