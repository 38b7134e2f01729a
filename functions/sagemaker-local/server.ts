import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { readBody } from '../handlers/read-body';
import { check, httpUrl, nonEmpty, positiveInt, timeoutMs } from '../options';
import * as answers from './answers';
import type { Answer, EndpointIdentity } from './answers';
import { systemClock, type Clock } from '../clock';
import { CopyScaler, type CapacityState, type CopyScalerOptions } from './copies';
import { controlRoute } from './control';
import { FAULT_KINDS, type SageMakerFault, type SageMakerFaultKind } from './faults';
import { callContainer } from './forward';
import { checkSignature, type SigningCredentials } from './sigv4';

export interface LocalSageMakerOptions extends Omit<CopyScalerOptions, 'clock' | 'onChange'> {
  /** The function's HTTP adapter; invocations go to `{functionUrl}/invocations`. Required. */
  functionUrl: string;
  /** The endpoint name this stand-in answers to. Default `clip`. */
  endpointName?: string;
  /**
   * The inference component the endpoint hosts; when set, calls must name it in
   * X-Amzn-SageMaker-Inference-Component, as on an endpoint with components. Default: none.
   */
  inferenceComponentName?: string;
  /** Sent back in x-Amzn-Invoked-Production-Variant. Default `AllTraffic`. */
  variantName?: string;
  /** The region requests must be signed for. Default `us-east-1`. */
  region?: string;
  /** The account named in messages and ARNs. Default `000000000000`. */
  accountId?: string;
  /** The credentials requests must be signed with. Default access key `local`, secret `local`. */
  credentials?: SigningCredentials;
  /** How long the container has to answer, as SageMaker's 60 s. Default 60,000 ms. */
  invocationTimeoutMs?: number;
  /** Largest request body. Default 6 MB, InvokeEndpoint's limit. */
  payloadLimitBytes?: number;
  /** Drives scaling, injected delays and the invocation timeout. Default: real time. */
  clock?: Clock;
  /** Wall-clock ms since the epoch, for the signature's date. Default Date.now. */
  wallClock?: () => number;
  log?: (line: string) => void;
}

export interface LocalSageMakerStats {
  /** InvokeEndpoint calls received, whatever happened to them. */
  calls: number;
  /** Calls sent on to the container. */
  forwarded: number;
  /** Calls answered 200. */
  succeeded: number;
  /** No-capacity ValidationErrors (zero copies, or injected): what the scale-out alarm counts. */
  noCapacityFailures: number;
  /** ModelNotReadyException answers. */
  notReady: number;
  /** ModelError answers: the container answered non-2xx, timed out, or could not be reached. */
  modelErrors: number;
  /** Calls refused for their signature or credentials (403). */
  refused: number;
  /** Other ValidationErrors: unknown endpoint or component, missing component header, injected. */
  validationErrors: number;
  /** Bodies over the limit (413). */
  tooLarge: number;
  /** Faults applied, by kind. */
  faults: Record<SageMakerFaultKind, number>;
  copies: number;
  state: CapacityState;
  scaleOuts: number;
  scaleIns: number;
  /** Calls at the container now. */
  inFlight: number;
}

type Counters = Omit<LocalSageMakerStats, 'copies' | 'state' | 'scaleOuts' | 'scaleIns' | 'inFlight'>;

const INVOKE_PATH = /^\/endpoints\/([^/]+)\/invocations$/;

/**
 * A local endpoint that speaks the Amazon SageMaker Runtime InvokeEndpoint API
 * (`POST /endpoints/{name}/invocations`, SigV4-signed for `sagemaker`) in front of the
 * function's HTTP adapter, so the gateway's real `@aws-sdk/client-sagemaker-runtime` path runs
 * on one machine. It keeps an inference component's copy count, which can start at zero and
 * scales out after no-capacity failures and in after idling, as SageMaker's alarm and policies
 * do; faults are queued in code or with `POST /_local/faults`. A stand-in: no GPU, no instances.
 */
export class LocalSageMaker {
  readonly server: Server;
  private readonly scaler: CopyScaler;
  private readonly faultQueue: SageMakerFault[] = [];
  private readonly counters: Counters;
  private readonly running = new Set<AbortController>();
  private readonly identity: EndpointIdentity;
  private readonly functionUrl: string;
  private readonly variantName: string;
  private readonly credentials: SigningCredentials;
  private readonly invocationTimeoutMs: number;
  private readonly limit: number;
  private readonly clock: Clock;
  private readonly wallClock: () => number;
  private readonly log: (line: string) => void;

  constructor(options: LocalSageMakerOptions) {
    this.functionUrl = check('functionUrl', options.functionUrl, httpUrl);
    this.identity = {
      endpointName: check('endpointName', options.endpointName ?? 'clip', nonEmpty),
      ...(options.inferenceComponentName === undefined
        ? {}
        : { componentName: check('inferenceComponentName', options.inferenceComponentName, nonEmpty) }),
      region: check('region', options.region ?? 'us-east-1', nonEmpty),
      accountId: check('accountId', options.accountId ?? '000000000000', nonEmpty),
    };
    this.variantName = check('variantName', options.variantName ?? 'AllTraffic', nonEmpty);
    this.credentials = options.credentials ?? { accessKeyId: 'local', secretAccessKey: 'local' };
    check('credentials.accessKeyId', this.credentials.accessKeyId, nonEmpty);
    check('credentials.secretAccessKey', this.credentials.secretAccessKey, nonEmpty);
    this.invocationTimeoutMs = check('invocationTimeoutMs', options.invocationTimeoutMs ?? 60_000, timeoutMs);
    this.limit = check('payloadLimitBytes', options.payloadLimitBytes ?? answers.SAGEMAKER_PAYLOAD_LIMIT_BYTES, positiveInt);
    this.clock = options.clock ?? systemClock;
    this.wallClock = options.wallClock ?? Date.now;
    this.log = options.log ?? (() => {});
    this.scaler = new CopyScaler({
      copies: options.copies,
      wakeMs: options.wakeMs,
      startingMs: options.startingMs,
      idleMs: options.idleMs,
      clock: this.clock,
      onChange: (line) => this.log(`local sagemaker: ${line}`),
    });
    this.counters = {
      calls: 0,
      forwarded: 0,
      succeeded: 0,
      noCapacityFailures: 0,
      notReady: 0,
      modelErrors: 0,
      refused: 0,
      validationErrors: 0,
      tooLarge: 0,
      faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<SageMakerFaultKind, number>,
    };
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.log(`local sagemaker: ${String(error)}`);
        if (!res.headersSent) write(res, answers.internalFailure());
      });
    });
  }

  /** A snapshot of the counts and the copy state. */
  get stats(): LocalSageMakerStats {
    return {
      ...this.counters,
      faults: { ...this.counters.faults },
      copies: this.scaler.copies,
      state: this.scaler.state,
      scaleOuts: this.scaler.scaleOuts,
      scaleIns: this.scaler.scaleIns,
      inFlight: this.running.size,
    };
  }

  get copies(): number {
    return this.scaler.copies;
  }

  get state(): CapacityState {
    return this.scaler.state;
  }

  /** Sets the copy count now (and cancels a pending scale-out), as UpdateInferenceComponentRuntimeConfig would. */
  setCopies(copies: number): void {
    this.scaler.setCopies(copies);
  }

  /** Queues faults for the next invocations, in order; `times` repeats one. */
  inject(fault: SageMakerFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faultQueue.push(fault);
  }

  clearFaults(): void {
    this.faultQueue.length = 0;
  }

  /** Faults still queued. */
  get queuedFaults(): number {
    return this.faultQueue.length;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        resolve(`http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);
      });
    });
  }

  /** Stops listening, ends calls in flight and cancels every timer. */
  close(): Promise<void> {
    this.scaler.close();
    for (const call of this.running) call.abort();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const invoke = INVOKE_PATH.exec(path);
    if (req.method === 'POST' && invoke) return write(res, await this.invoke(decodeURIComponent(invoke[1]), req));
    const control = await controlRoute(this, req.method, path, req);
    if (control) return write(res, control);
    write(res, answers.serviceError(404, 'UnknownOperationException', { message: `No such operation: ${req.method} ${path}` }));
  }

  private async invoke(endpointName: string, req: IncomingMessage): Promise<Answer> {
    this.counters.calls++;
    const { body, tooLarge } = await readBody(req, this.limit);
    if (tooLarge) {
      this.counters.tooLarge++;
      return answers.payloadTooLarge(this.limit);
    }
    const refused = await checkSignature(
      { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
      { credentials: this.credentials, region: this.identity.region, service: 'sagemaker', now: this.wallClock() },
    );
    if (refused) {
      this.counters.refused++;
      return refused;
    }
    const invalid = this.checkTarget(endpointName, req.headers['x-amzn-sagemaker-inference-component']);
    if (invalid) {
      this.counters.validationErrors++;
      return invalid;
    }

    const fault = this.faultQueue.shift();
    if (fault) this.counters.faults[fault.kind]++;
    const injected = fault && this.injectedAnswer(fault);
    if (injected) return injected;

    const admission = this.scaler.admit();
    if (admission === 'no-capacity') {
      this.counters.noCapacityFailures++;
      return answers.validationError(answers.NO_CAPACITY_MESSAGE);
    }
    if (admission === 'not-ready') {
      this.counters.notReady++;
      return answers.modelNotReady();
    }
    try {
      return await this.forward(req, body, fault?.kind === 'delay' ? fault.ms : 0);
    } finally {
      this.scaler.done();
    }
  }

  /** The ValidationError for a call to another endpoint or component, if it is one. */
  private checkTarget(endpointName: string, component: string | string[] | undefined): Answer | undefined {
    if (endpointName !== this.identity.endpointName) return answers.endpointNotFound(this.identity, endpointName);
    const named = Array.isArray(component) ? component.join(',') : component;
    if (named === undefined) {
      return this.identity.componentName === undefined ? undefined : answers.validationError(answers.COMPONENT_HEADER_REQUIRED_MESSAGE);
    }
    return named === this.identity.componentName ? undefined : answers.componentNotFound(this.identity, named);
  }

  /** The answer an injected fault gives in place of the service's own; undefined for a delay. */
  private injectedAnswer(fault: SageMakerFault): Answer | undefined {
    switch (fault.kind) {
      case 'no-capacity':
        this.counters.noCapacityFailures++;
        return answers.validationError(answers.NO_CAPACITY_MESSAGE);
      case 'not-ready':
        this.counters.notReady++;
        return answers.modelNotReady();
      case 'model-error':
        this.counters.modelErrors++;
        return answers.modelError(
          this.identity,
          fault.status,
          fault.message ?? JSON.stringify({ message: `The container answered ${fault.status} (injected).` }),
        );
      case 'internal-failure':
        return answers.internalFailure();
      case 'service-unavailable':
        return answers.serviceUnavailable();
      case 'internal-dependency':
        return answers.internalDependency();
      case 'throttle':
        return answers.throttled();
      case 'validation':
        this.counters.validationErrors++;
        return answers.validationError(fault.message ?? answers.COMPONENT_HEADER_REQUIRED_MESSAGE);
      case 'delay':
        return undefined;
    }
  }

  /** Sends the call to the container within the invocation timeout; `delayMs` of it pass first. */
  private async forward(req: IncomingMessage, body: Buffer, delayMs: number): Promise<Answer> {
    const call = new AbortController();
    this.running.add(call);
    let timedOut = false;
    const deadline = this.clock.setTimeout(() => {
      timedOut = true;
      call.abort();
    }, this.invocationTimeoutMs);
    try {
      if (delayMs > 0) await this.wait(delayMs, call.signal);
      const answer = call.signal.aborted
        ? ({ kind: 'unreachable', reason: 'ended before it was sent' } as const)
        : await this.send(req, body, call.signal);
      if (answer.kind === 'unreachable') {
        this.counters.modelErrors++;
        if (timedOut) return answers.invocationTimedOut(this.identity);
        this.log(`local sagemaker: the container at ${this.functionUrl} did not answer: ${answer.reason}`);
        return answers.containerUnreachable(this.identity);
      }
      if (answer.status >= 200 && answer.status < 300) {
        this.counters.succeeded++;
        return answers.invoked(answer.body, answer.contentType, this.variantName, answer.customAttributes);
      }
      this.counters.modelErrors++;
      return answers.modelError(this.identity, answer.status, answer.body.toString('utf8'));
    } finally {
      this.clock.clearTimeout(deadline);
      this.running.delete(call);
    }
  }

  private send(req: IncomingMessage, body: Buffer, signal: AbortSignal) {
    this.counters.forwarded++;
    const one = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    return callContainer(this.functionUrl, {
      body,
      contentType: one('content-type'),
      accept: one('accept'),
      customAttributes: one('x-amzn-sagemaker-custom-attributes'),
      signal,
    });
  }

  /** Waits on the clock; the signal (timeout, close) ends the wait early. */
  private wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }
}

function write(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, answer.headers).end(answer.body);
}
