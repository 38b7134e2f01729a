// What the SageMaker Runtime service answers InvokeEndpoint with, as plain data: status, headers
// (the error type in x-amzn-ErrorType, which the AWS SDK reads to pick the exception class) and
// the JSON body fields the SDK deserializes. The wording is the service's where it has been seen
// in the wild (quoted in the comments); the rest follows the API reference's descriptions.
import { randomUUID } from 'node:crypto';

/** An HTTP answer, ready to write. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Where an endpoint lives, for the messages and ARNs the service puts in its answers. */
export interface EndpointIdentity {
  endpointName: string;
  /** The inference component, when the endpoint hosts one. */
  componentName?: string;
  region: string;
  accountId: string;
}

/** InvokeEndpoint's request body limit: 6 MB. */
export const SAGEMAKER_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * The exact message for an inference component at zero copies, as the service sends it (AWS's
 * scale-to-zero announcement quotes it): this is the answer SageMaker's NoCapacityInvocationFailures
 * metric counts, and the one the scale-out alarm waits for.
 */
export const NO_CAPACITY_MESSAGE =
  'Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) ' +
  'or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.';

/** The service's answer to a call without the component header on an endpoint that hosts components. */
export const COMPONENT_HEADER_REQUIRED_MESSAGE =
  'Inference Component Name header is required for endpoints to which you plan to deploy inference components. ' +
  'Please include Inference Component Name header or consider using SageMaker models.';

/** ModelNotReadyException's description in the API reference (no live message has been published). */
export const MODEL_NOT_READY_MESSAGE =
  "Either a serverless endpoint variant's resources are still being provisioned, or a multi-model endpoint is still " +
  'downloading or loading the target model. Wait and try your request again.';

const requestId = () => ({ 'x-amzn-RequestId': randomUUID() });

function json(status: number, body: unknown, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { 'Content-Type': 'application/json', ...requestId(), ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

/** A modelled error: its type in x-amzn-ErrorType, its fields in the body. */
export function serviceError(status: number, type: string, fields: Record<string, unknown>): Answer {
  return json(status, fields, { 'x-amzn-ErrorType': type });
}

/** 400 ValidationError with `message`: a bad request, or (with NO_CAPACITY_MESSAGE) zero copies. */
export const validationError = (message: string) => serviceError(400, 'ValidationError', { Message: message });

/** "Endpoint driving-endpoint of account 127310796078 not found." (seen in SageMaker's issue tracker). */
export const endpointNotFound = (id: EndpointIdentity, name: string) =>
  validationError(`Endpoint ${name} of account ${id.accountId} not found.`);

/** Modelled on the endpoint's message: the service's wording for an unknown component has not been published. */
export const componentNotFound = (id: EndpointIdentity, name: string) =>
  validationError(`Inference Component ${name} for endpoint ${id.endpointName} of account ${id.accountId} not found.`);

export const modelNotReady = () => serviceError(429, 'ModelNotReadyException', { Message: MODEL_NOT_READY_MESSAGE });

export const internalFailure = () => serviceError(500, 'InternalFailure', { Message: 'An internal failure occurred.' });

export const serviceUnavailable = () =>
  serviceError(503, 'ServiceUnavailable', { Message: 'The service is unavailable. Try your call again.' });

export const internalDependency = () =>
  serviceError(530, 'InternalDependencyException', {
    Message: 'Your request caused an exception with an internal dependency. Contact customer support.',
  });

/**
 * Throttling is not in InvokeEndpoint's model: the service answers 400 with the type in the
 * header and `{"message": null}` as the body (reported by OpenSearch ml-commons #2429/#2442, and
 * by Java SDK users as "null (Status Code: 400; Error Code: ThrottlingException)").
 */
export const throttled = () => serviceError(400, 'ThrottlingException', { message: null });

/**
 * An oversize body is refused by the front end before the service looks at it: 413 with the
 * HTTP codec's plain-text sentence and no error type. SDK users have reported it as "An error
 * occurred (413) when calling the InvokeEndpoint operation: HTTP content length exceeded 5246976
 * bytes." (when the limit was 5 MB), and API Gateway's front end sends the same sentence as plain
 * text. The JavaScript SDK cannot parse it as JSON: it throws a SyntaxError whose
 * `$metadata.httpStatusCode` is 413, so callers must judge such answers by status.
 */
export const payloadTooLarge = (limit: number): Answer => ({
  status: 413,
  headers: { 'Content-Type': 'text/plain', ...requestId() },
  body: Buffer.from(`HTTP content length exceeded ${limit} bytes.`),
});

/** The log group the container's output goes to, and the ARN ModelError names it by. */
export function logGroup(id: EndpointIdentity): { name: string; arn: string } {
  const name = id.componentName ? `/aws/sagemaker/InferenceComponents/${id.componentName}` : `/aws/sagemaker/Endpoints/${id.endpointName}`;
  return { name, arn: `arn:aws:logs:${id.region}:${id.accountId}:log-group:${name}` };
}

/**
 * 424 ModelError: the container answered non-2xx (or not at all: status 0). The message is the
 * service's: 'Received client error (400) from primary with message "...". See
 * https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/x
 * in account 123 for more information.'
 */
export function modelError(id: EndpointIdentity, originalStatus: number, originalMessage: string): Answer {
  const group = logGroup(id);
  const kind = originalStatus >= 400 && originalStatus < 500 ? 'client' : 'server';
  const console = `https://${id.region}.console.aws.amazon.com/cloudwatch/home?region=${id.region}#logEventViewer:group=${group.name}`;
  return serviceError(424, 'ModelError', {
    Message:
      `Received ${kind} error (${originalStatus}) from primary with message "${originalMessage}". ` +
      `See ${console} in account ${id.accountId} for more information.`,
    OriginalStatusCode: originalStatus,
    OriginalMessage: originalMessage,
    LogStreamArn: group.arn,
  });
}

/** The container did not answer within the invocation timeout (60 s on SageMaker). */
export const invocationTimedOut = (id: EndpointIdentity) =>
  modelError(
    id,
    0,
    'Your invocation timed out while waiting for a response from container primary. ' +
      'Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again.',
  );

/** The container could not be reached (refused, reset, gone). */
export const containerUnreachable = (id: EndpointIdentity) =>
  modelError(
    id,
    0,
    `Amazon SageMaker could not get a response from the ${id.endpointName} endpoint. This can occur when CPU or memory utilization ` +
      'is high. To check your utilization, see Amazon CloudWatch. To fix this problem, use an instance type with more CPU capacity or memory.',
  );

/** Authentication failures: 403 with the type every AWS JSON service uses. */
export const authError = (type: string, message: string) => serviceError(403, type, { message });

/** 200 with the container's body and content type, and the variant that served it. */
export function invoked(body: Buffer, contentType: string | undefined, variant: string, customAttributes?: string): Answer {
  return {
    status: 200,
    headers: {
      ...(contentType ? { 'Content-Type': contentType } : {}),
      ...requestId(),
      'x-Amzn-Invoked-Production-Variant': variant,
      ...(customAttributes ? { 'X-Amzn-SageMaker-Custom-Attributes': customAttributes } : {}),
    },
    body,
  };
}

/** Answers for the stand-in's own routes (faults, stats): plain JSON. */
export const localJson = (status: number, body: unknown) => json(status, body);
