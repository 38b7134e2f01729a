import type { InvokeEndpointCommandOutput, SageMakerRuntimeClient, SageMakerRuntimeClientConfig } from '@aws-sdk/client-sagemaker-runtime';

import { check, nonEmpty } from '../../functions/options';
import { ErrorCode } from '../common/errors';
import type { Logger } from '../common/log';
import { AwsTransport, loadSdk, type SdkError } from './aws-transport';
import { coldFailure, connectionProblem, describeError, failureForStatus, type CallFailure } from './call-failure';
import { JSON_CONTENT_TYPE, type WireMessage } from './wire-codec';

export interface SageMakerTransportOptions {
  /** The endpoint (SAGEMAKER_ENDPOINT). Required. */
  endpointName: string;
  /** The inference component on it (SAGEMAKER_INFERENCE_COMPONENT), for endpoints that host components. Default: none. */
  inferenceComponent?: string;
  /** Passed to the SDK client; region, credentials and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME otherwise come from the SDK's usual sources. */
  client?: SageMakerRuntimeClientConfig;
  log: Logger;
}

/**
 * What the SageMaker Runtime service says when an inference component has no copy to run the
 * request: it has scaled to zero, or its copies are still starting.
 */
const NO_CAPACITY = /no capacity to process this request/i;

/**
 * Calls the CLIP function in a SageMaker real-time endpoint (a GPU inference component that
 * scales to zero) with InvokeEndpoint through the AWS SDK.
 *
 * See AwsTransport for retries and the deadline. The service's answers are read by error type
 * (x-amzn-errortype, which the SDK makes the exception's name):
 * - no capacity (400 ValidationError saying so) and copies starting (429 ModelNotReadyException)
 *   are cold, a state: not retried, not held against the function's health;
 * - 424 ModelError is the container's own answer, by its OriginalStatusCode: 413 the input is too
 *   large, 429/503 busy (retried), anything else the function failed (its log stream is logged);
 * - 500 InternalFailure, 503 ServiceUnavailable, 530 InternalDependencyException and throttling are
 *   transient (retried with backoff); any other 400 is the gateway's configuration (not retried).
 */
export class SageMakerTransport extends AwsTransport<
  typeof import('@aws-sdk/client-sagemaker-runtime'),
  SageMakerRuntimeClient,
  InvokeEndpointCommandOutput
> {
  readonly kind = 'sagemaker' as const;
  /** Probes are invocations: they would keep an idle endpoint from scaling in (see Transport.probes). */
  readonly probes = false;
  readonly binary = true;

  constructor(private readonly options: SageMakerTransportOptions) {
    check('endpointName', options.endpointName, nonEmpty);
    if (options.inferenceComponent !== undefined) check('inferenceComponent', options.inferenceComponent, nonEmpty);
    const sdk = loadSdk('@aws-sdk/client-sagemaker-runtime');
    const component = options.inferenceComponent ? ` (component ${options.inferenceComponent})` : '';
    super(`endpoint ${options.endpointName}${component}`, sdk, sdk.SageMakerRuntimeClient, options.client);
  }

  protected send(request: WireMessage, abortSignal: AbortSignal): Promise<InvokeEndpointCommandOutput> {
    const command = new this.sdk.InvokeEndpointCommand({
      EndpointName: this.options.endpointName,
      ...(this.options.inferenceComponent ? { InferenceComponentName: this.options.inferenceComponent } : {}),
      ContentType: request.contentType,
      Accept: request.contentType,
      Body: request.body,
    });
    return this.client.send(command, { abortSignal });
  }

  protected answerOf(output: InvokeEndpointCommandOutput): WireMessage {
    return { contentType: output.ContentType ?? JSON_CONTENT_TYPE, body: output.Body ?? new Uint8Array(0) };
  }

  /** What a rejected InvokeEndpoint means for the call (see the class comment). */
  protected failureOf(error: unknown): CallFailure {
    const e = error as SdkError & {
      OriginalStatusCode?: number;
      OriginalMessage?: string;
      LogStreamArn?: string;
    };
    const status = e.$metadata?.httpStatusCode;
    const detail = describeError(error);
    if (status === undefined) return failureForStatus(undefined, connectionProblem(error) ?? '', detail);
    if ((e.name === 'ValidationError' && NO_CAPACITY.test(e.message ?? '')) || e.name === 'ModelNotReadyException') {
      return coldFailure(detail);
    }
    if (e.name === 'ModelError') return this.modelFailure(e.OriginalStatusCode, e.OriginalMessage, e.LogStreamArn, detail);
    if (e.name === 'ThrottlingException' || status === 429) return failureForStatus(429, '', detail);
    if (e.name === 'ValidationError') {
      return {
        code: ErrorCode.BACKEND_UNAVAILABLE,
        message: 'The CLIP function cannot be called; the gateway is misconfigured.',
        retry: false,
        unhealthy: true,
        detail: `SageMaker refused the call to ${this.target}: ${detail}`,
      };
    }
    return failureForStatus(status, '', detail);
  }

  /** The container answered with an error status of its own (424 ModelError). */
  private modelFailure(
    status: number | undefined,
    message: string | undefined,
    logStream: string | undefined,
    detail: string,
  ): CallFailure {
    if (status === 413) return failureForStatus(413, '', detail);
    if (status === 429 || status === 503) {
      // Busy or still loading: the container said so itself, and will answer again shortly.
      return {
        code: ErrorCode.BACKEND_UNAVAILABLE,
        message: 'The CLIP function is busy; try again shortly.',
        retry: true,
        unhealthy: false,
        detail,
      };
    }
    this.options.log(
      `CLIP function in ${this.target} answered ${status ?? 'an unknown status'}: ${message ?? ''}${logStream ? ` (log stream ${logStream})` : ''}`,
    );
    return {
      code: ErrorCode.INFERENCE_FAILED,
      message: 'The CLIP function failed on this batch.',
      retry: false,
      unhealthy: true,
      detail,
    };
  }
}
