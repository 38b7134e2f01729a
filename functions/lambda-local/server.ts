import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { readBody } from '../handlers/read-body';
import { check, positiveInt } from '../options';
import { LAMBDA_PAYLOAD_LIMIT_BYTES } from '../protocol';

/** A function handler as the Lambda runtime calls it: parsed JSON event in, JSON-able result out. */
export type LambdaHandler = (event: unknown) => Promise<unknown>;

/** Something to do to the next invocation instead of (or before) running the handler. */
export type Fault =
  /** 429 TooManyRequestsException, as when concurrency or the account's rate is exhausted. */
  | { kind: 'throttle' }
  /** Waits this long, then runs the handler: with a long enough wait, a hung function. */
  | { kind: 'delay'; ms: number }
  /** The handler "throws": 200 with X-Amz-Function-Error: Unhandled and an error payload with a trace. */
  | { kind: 'error'; message?: string }
  /** The Lambda service fails: 5xx with an AWS error type (ServiceException, EC2ThrottledException...). */
  | { kind: 'status'; status: number; errorType?: string }
  /** 200 with a body that is not JSON. */
  | { kind: 'malformed' }
  /** The function's answer exceeds the payload limit: Lambda's Function.ResponseSizeTooLarge. */
  | { kind: 'oversize' };

export interface LocalLambdaOptions {
  /** The function name this endpoint answers to (also matched at the end of ARNs). Default `clip`. */
  functionName?: string;
  /** Invocations running at once before the next gets 429, like reserved concurrency. Default 16. */
  concurrency?: number;
  /** Request and response payload limit, bytes. Default 6 MiB, as Lambda's synchronous invocations. */
  payloadLimitBytes?: number;
  log?: (line: string) => void;
}

export interface LocalLambdaStats {
  /** Invoke API calls received, whatever happened to them. */
  invocations: number;
  /** Calls that reached the handler. */
  handled: number;
  throttled: number;
  functionErrors: number;
  /** Largest number of invocations running at once. */
  peakConcurrency: number;
}

/**
 * A local endpoint that speaks the AWS Lambda Invoke REST API
 * (`POST /2015-03-31/functions/{name}/invocations`) and runs a handler in this process, so the
 * gateway's real `@aws-sdk/client-lambda` path runs end to end on one machine. Faults can be
 * queued, in code or with `POST /_local/faults`, for tests of what the real service does under
 * stress.
 */
export class LocalLambda {
  readonly server: Server;
  readonly stats: LocalLambdaStats = { invocations: 0, handled: 0, throttled: 0, functionErrors: 0, peakConcurrency: 0 };
  private readonly faults: Fault[] = [];
  private active = 0;
  private readonly delays = new Set<() => void>();
  private readonly functionName: string;
  private readonly concurrency: number;
  private readonly limit: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly handler: LambdaHandler,
    options: LocalLambdaOptions = {},
  ) {
    this.functionName = options.functionName ?? 'clip';
    this.concurrency = options.concurrency ?? 16;
    this.limit = options.payloadLimitBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES;
    this.log = options.log ?? (() => {});
    check('concurrency', this.concurrency, positiveInt);
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.log(`local lambda: ${String(error)}`);
        if (!res.headersSent) awsError(res, 500, 'ServiceException', 'The local endpoint failed.');
      });
    });
  }

  /** Invocations running now. */
  get inFlight(): number {
    return this.active;
  }

  /** Queues faults for the next invocations, in order; `times` repeats one. */
  inject(fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve) => {
      this.server.listen(port, host, () => {
        const address = this.server.address() as AddressInfo;
        resolve(`http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);
      });
    });
  }

  close(): Promise<void> {
    for (const end of [...this.delays]) end();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Waits as a slow function would; close() ends every wait, so no timer outlives the endpoint. */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.delays.delete(end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.delays.add(end);
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (req.method === 'POST' && invoke) return this.invoke(decodeURIComponent(invoke[1]), req, res);
    if (url.pathname === '/_local/faults' && req.method === 'POST') {
      const body = JSON.parse((await readBody(req, 1 << 20)).body.toString('utf8')) as Fault | Fault[];
      for (const fault of Array.isArray(body) ? body : [body]) this.inject(fault);
      return json(res, 200, { queued: this.faults.length });
    }
    if (url.pathname === '/_local/faults' && req.method === 'DELETE') {
      this.clearFaults();
      return json(res, 200, { queued: 0 });
    }
    if (url.pathname === '/_local/stats' && req.method === 'GET') return json(res, 200, this.stats);
    awsError(res, 404, 'UnknownOperationException', `No such operation: ${req.method} ${url.pathname}`);
  }

  private async invoke(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.invocations++;
    const invocationType = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (name !== this.functionName && !name.endsWith(`:function:${this.functionName}`) && !name.endsWith(`:${this.functionName}`)) {
      return awsError(res, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
    }
    if (invocationType !== 'RequestResponse') {
      return awsError(
        res,
        400,
        'InvalidParameterValueException',
        `Only RequestResponse invocations are emulated, not ${String(invocationType)}.`,
      );
    }
    const { body, tooLarge } = await readBody(req, this.limit);
    if (tooLarge) {
      return awsError(
        res,
        413,
        'RequestEntityTooLargeException',
        `Request must be smaller than ${this.limit} bytes for the InvokeFunction operation`,
      );
    }
    const fault = this.faults.shift();
    if (fault?.kind === 'throttle' || this.active >= this.concurrency) {
      this.stats.throttled++;
      return awsError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
    }
    if (fault?.kind === 'status')
      return awsError(res, fault.status, fault.errorType ?? 'ServiceException', 'The Lambda service failed (injected).');
    let event: unknown;
    try {
      event = JSON.parse(body.toString('utf8') || 'null');
    } catch {
      return awsError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json: unexpected character.');
    }

    this.active++;
    this.stats.peakConcurrency = Math.max(this.stats.peakConcurrency, this.active);
    try {
      if (fault?.kind === 'delay') await this.delay(fault.ms);
      if (fault?.kind === 'malformed') return raw(res, 200, '{"v": 1, "items": [', {});
      if (fault?.kind === 'error') throw new Error(fault.message ?? 'Injected function failure');
      this.stats.handled++;
      const result = JSON.stringify((await this.handler(event)) ?? null);
      if (fault?.kind === 'oversize' || Buffer.byteLength(result) > this.limit) {
        this.stats.functionErrors++;
        return functionError(res, {
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size exceeded maximum allowed payload size (${this.limit} bytes).`,
        });
      }
      return raw(res, 200, result, {});
    } catch (error) {
      this.stats.functionErrors++;
      const e = error instanceof Error ? error : new Error(String(error));
      // The shape Node.js runtimes report for an unhandled error, trace included.
      return functionError(res, { errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') });
    } finally {
      this.active--;
    }
  }
}

function raw(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST', ...headers }).end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  raw(res, status, JSON.stringify(body), {});
}

function functionError(res: ServerResponse, payload: Record<string, unknown>): void {
  raw(res, 200, JSON.stringify(payload), { 'x-amz-function-error': 'Unhandled' });
}

/** An AWS service error as Lambda's REST API sends it: the type in x-amzn-ErrorType, details in the body. */
function awsError(res: ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type, 'x-amzn-requestid': `local-${Date.now()}` })
    .end(JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message, ...extra }));
}
