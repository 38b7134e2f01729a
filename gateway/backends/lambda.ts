import type { InvokeCommandOutput, LambdaClient, LambdaClientConfig } from '@aws-sdk/client-lambda';

import { check, nonEmpty } from '../../functions/options';
import { ErrorCode } from '../common/errors';
import type { Logger } from '../common/log';
import { AwsTransport, loadSdk, type SdkError } from './aws-transport';
import { CallError, connectionProblem, describeError, failureForStatus, type CallFailure } from './call-failure';
import { JSON_CONTENT_TYPE, type WireMessage } from './wire-codec';

export interface LambdaTransportOptions {
  functionName: string;
  /** Passed to the SDK client; region, credentials and endpoint otherwise come from the SDK's usual sources (AWS_REGION, AWS_ENDPOINT_URL_LAMBDA, ...). */
  client?: LambdaClientConfig;
  log: Logger;
}

/**
 * Calls the CLIP function with Lambda's Invoke API (RequestResponse) through the AWS SDK (see
 * AwsTransport for retries and the deadline).
 */
export class LambdaTransport extends AwsTransport<typeof import('@aws-sdk/client-lambda'), LambdaClient, InvokeCommandOutput> {
  readonly kind = 'lambda' as const;
  /** Invoke's payload is a JSON document: the binary protocol cannot travel on it. */
  readonly binary = false;

  constructor(private readonly options: LambdaTransportOptions) {
    check('functionName', options.functionName, nonEmpty);
    const sdk = loadSdk('@aws-sdk/client-lambda');
    super(`function ${options.functionName}`, sdk, sdk.LambdaClient, options.client);
  }

  protected send(request: WireMessage, abortSignal: AbortSignal): Promise<InvokeCommandOutput> {
    const command = new this.sdk.InvokeCommand({
      FunctionName: this.options.functionName,
      InvocationType: 'RequestResponse',
      Payload: request.body,
    });
    return this.client.send(command, { abortSignal });
  }

  protected failureOf(error: unknown): CallFailure {
    // A service error carries its HTTP status; a connection failure is Node's socket error
    // itself (code ECONNREFUSED, ...), with no status.
    const e = error as SdkError;
    const status = e.$metadata?.httpStatusCode ?? (e.name === 'TooManyRequestsException' ? 429 : undefined);
    return failureForStatus(status, connectionProblem(error) ?? '', describeError(error));
  }

  protected answerOf(output: InvokeCommandOutput): WireMessage {
    if (output.FunctionError) throw new CallError(this.functionFailure(output.FunctionError, output.Payload));
    return { contentType: JSON_CONTENT_TYPE, body: output.Payload ?? new Uint8Array(0) };
  }

  /**
   * The SDK resolves, not rejects, when the function itself failed; its payload says how. Its
   * trace is for our log, never for clients.
   */
  private functionFailure(functionError: string, payload: Uint8Array | undefined): CallFailure {
    const body = payload ? Buffer.from(payload).toString('utf8') : '';
    let errorType = 'Unknown';
    let errorMessage = '';
    try {
      const parsed = JSON.parse(body) as { errorType?: string; errorMessage?: string; trace?: string[] };
      errorType = parsed.errorType ?? errorType;
      errorMessage = parsed.errorMessage ?? '';
      this.options.log(`CLIP function error ${errorType}: ${errorMessage}`, parsed.trace ? parsed.trace.join('\n') : undefined);
    } catch {
      this.options.log(`CLIP function error (${functionError}) with an unreadable payload`);
    }
    if (errorType === 'Function.ResponseSizeTooLarge') {
      return {
        code: ErrorCode.INPUT_TOO_LARGE,
        message: "The CLIP function's answer exceeded Lambda's payload limit.",
        retry: false,
        unhealthy: false,
        detail: errorMessage,
      };
    }
    return {
      code: ErrorCode.INFERENCE_FAILED,
      message: 'The CLIP function failed on this batch.',
      retry: false,
      unhealthy: true,
      detail: `${errorType}: ${errorMessage}`,
    };
  }
}
