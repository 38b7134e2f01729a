// The AWS Lambda adapter: the runtime calls `handler` with the Invoke payload, parsed from JSON.
import type { Context } from 'aws-lambda';

import type { ClipModel } from '../clip/model';
import type { WireResponse } from '../protocol';
import { loadModelFromEnv } from './model-from-env';
import { handleWireRequest } from './wire';

/**
 * Loading starts when the runtime imports this module (Lambda's init phase, billed separately and
 * run before the first invocation is accepted on provisioned instances), and the sessions are
 * reused for every invocation while the instance stays warm.
 */
let model: Promise<ClipModel> | undefined;
export function warm(): Promise<ClipModel> {
  model ??= loadModelFromEnv(process.env, (line) => console.log(line));
  return model;
}
void warm().catch(() => undefined); // a load failure is reported by the first invocation

/**
 * Errors thrown here become Lambda function errors (`FunctionError: Unhandled`); the gateway maps
 * them to INFERENCE_FAILED and never shows their trace to its clients.
 */
export async function handler(event: unknown, context?: Context): Promise<WireResponse> {
  if (context) context.callbackWaitsForEmptyEventLoop = false;
  return handleWireRequest(await warm(), event);
}
