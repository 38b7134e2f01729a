import { CallError, timeoutFailure, type CallFailure } from './call-failure';
import type { Transport } from './transport';
import type { WireMessage } from './wire-codec';

/** What an AWS SDK v3 client rejects with: a service exception (named by x-amzn-errortype, with its HTTP status) or Node's socket error. */
export interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The option of an AWS SDK v3 client that a transport sets itself (a number, or the SDK's provider of one); the caller's own go on top. */
interface SdkClientConfig {
  maxAttempts?: number | (() => Promise<number>);
}

/** The AWS SDK packages of the transports. */
interface SdkPackages {
  '@aws-sdk/client-lambda': typeof import('@aws-sdk/client-lambda');
  '@aws-sdk/client-sagemaker-runtime': typeof import('@aws-sdk/client-sagemaker-runtime');
}

/**
 * An AWS SDK package, required when a transport that needs it is made, not when the gateway's
 * modules load: a gateway that never calls Lambda or SageMaker (CLIP in-process, over HTTP) never
 * loads them, which is about a tenth of a second of every start and of every test file that makes
 * a gateway.
 */
export function loadSdk<Name extends keyof SdkPackages>(name: Name): SdkPackages[Name] {
  return require(name) as SdkPackages[Name];
}

/**
 * A transport that calls the CLIP function through an AWS SDK v3 client (Lambda's Invoke,
 * SageMaker's InvokeEndpoint), from the SDK package its subclass loaded with loadSdk.
 *
 * The SDK's own retries are off (maxAttempts 1, unless the caller's client options say
 * otherwise): RemoteBackend decides what to retry, with jitter and a circuit breaker, and counts
 * every attempt. The deadline is the abortSignal given to `send`: the HTTP handler's
 * requestTimeout alone only warns. A rejected call is the subclass's to read (`failureOf`), and so
 * is a resolved one (`answerOf`: Lambda resolves when the function itself failed).
 */
export abstract class AwsTransport<Sdk, Client extends { destroy(): void }, Output> implements Transport {
  abstract readonly kind: 'lambda' | 'sagemaker';
  abstract readonly binary: boolean;
  protected readonly client: Client;

  protected constructor(
    readonly target: string,
    /** The SDK package: the subclass makes its commands from it. */
    protected readonly sdk: Sdk,
    ClientClass: new (config: SdkClientConfig) => Client,
    config: SdkClientConfig | undefined,
  ) {
    this.client = new ClientClass({ maxAttempts: 1, ...config });
  }

  async call(request: WireMessage, signal: AbortSignal, timeoutMs: number): Promise<WireMessage> {
    let output: Output;
    try {
      output = await this.send(request, signal);
    } catch (error) {
      if (signal.aborted) throw new CallError(timeoutFailure(timeoutMs));
      throw new CallError(this.failureOf(error));
    }
    return this.answerOf(output);
  }

  close(): void {
    this.client.destroy();
  }

  /** Sends the request's command with `this.client`, aborted by `abortSignal`. */
  protected abstract send(request: WireMessage, abortSignal: AbortSignal): Promise<Output>;

  /** What a rejected call means, when the deadline did not cause it. */
  protected abstract failureOf(error: unknown): CallFailure;

  /** The function's answer from the service's; throws a CallError where the service resolved with a failure. */
  protected abstract answerOf(output: Output): WireMessage;
}
