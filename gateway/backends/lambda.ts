import type { LambdaClient, LambdaClientConfig } from '@aws-sdk/client-lambda';

import { check, nonEmpty } from '../../functions/options';
import { ErrorCode } from '../common/errors';
import type { Logger } from '../common/log';
import { CallError, connectionProblem, describeError, failureForStatus, timeoutFailure } from './call-failure';
import type { Transport } from './remote';
import { JSON_CONTENT_TYPE, type WireMessage } from './wire-codec';

export interface LambdaTransportOptions {
  functionName: string;
  /** Passed to the SDK client; region, credentials and endpoint otherwise come from the SDK's usual sources (AWS_REGION, AWS_ENDPOINT_URL_LAMBDA, ...). */
  client?: LambdaClientConfig;
  log: Logger;
}

/**
 * The AWS SDK's Lambda client package, required when first needed: a gateway that never calls
 * Lambda (CLIP in-process, over HTTP) never loads it, which is about a tenth of a second of every
 * start and of every test file that makes a gateway.
 */
function loadSdk(): typeof import('@aws-sdk/client-lambda') {
  return require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
}

/**
 * Calls the CLIP function with Lambda's Invoke API (RequestResponse) through the AWS SDK.
 *
 * The SDK's own retries are off (maxAttempts 1): RemoteBackend decides what to retry, with
 * jitter and a circuit breaker, and counts every attempt. The deadline is an abortSignal: the
 * HTTP handler's requestTimeout alone only warns.
 */
export class LambdaTransport implements Transport {
  readonly kind = 'lambda' as const;
  /** Invoke's payload is a JSON document: the binary protocol cannot travel on it. */
  readonly binary = false;
  readonly target: string;
  private readonly client: LambdaClient;
  // The AWS SDK's Lambda client is loaded when a transport is made (see loadSdk).
  private readonly sdk = loadSdk();

  constructor(private readonly options: LambdaTransportOptions) {
    check('functionName', options.functionName, nonEmpty);
    this.client = new this.sdk.LambdaClient({ maxAttempts: 1, ...options.client });
    this.target = `function ${options.functionName}`;
  }

  async call(request: WireMessage, signal: AbortSignal, timeoutMs: number): Promise<WireMessage> {
    let output;
    try {
      output = await this.client.send(
        new this.sdk.InvokeCommand({ FunctionName: this.options.functionName, InvocationType: 'RequestResponse', Payload: request.body }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (signal.aborted) throw new CallError(timeoutFailure(timeoutMs));
      // A service error carries its HTTP status; a connection failure is Node's socket error
      // itself (code ECONNREFUSED, ...), with no status.
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode ?? (e.name === 'TooManyRequestsException' ? 429 : undefined);
      throw new CallError(failureForStatus(status, connectionProblem(error) ?? '', describeError(error)));
    }
    const body = output.Payload ? Buffer.from(output.Payload).toString('utf8') : '';
    if (output.FunctionError) {
      // The SDK resolves, not rejects, when the function itself failed. Its trace is for our log,
      // never for clients.
      let errorType = 'Unknown';
      let errorMessage = '';
      try {
        const parsed = JSON.parse(body) as { errorType?: string; errorMessage?: string; trace?: string[] };
        errorType = parsed.errorType ?? errorType;
        errorMessage = parsed.errorMessage ?? '';
        this.options.log(`CLIP function error ${errorType}: ${errorMessage}`, parsed.trace ? parsed.trace.join('\n') : undefined);
      } catch {
        this.options.log(`CLIP function error (${output.FunctionError}) with an unreadable payload`);
      }
      if (errorType === 'Function.ResponseSizeTooLarge') {
        throw new CallError({
          code: ErrorCode.INPUT_TOO_LARGE,
          message: "The CLIP function's answer exceeded Lambda's payload limit.",
          retry: false,
          unhealthy: false,
          detail: errorMessage,
        });
      }
      throw new CallError({
        code: ErrorCode.INFERENCE_FAILED,
        message: 'The CLIP function failed on this batch.',
        retry: false,
        unhealthy: true,
        detail: `${errorType}: ${errorMessage}`,
      });
    }
    return { contentType: JSON_CONTENT_TYPE, body: output.Payload ?? new Uint8Array(0) };
  }

  close(): void {
    this.client.destroy();
  }
}
