// The function's HTTP routes, for every host that is not Lambda (SageMaker, Cloud Run, RunPod,
// Modal, Azure, a plain GPU box): POST /invocations in protocol version 1 (JSON) or 2 (binary,
// by its content type), and the health routes those platforms probe.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { DeviceError } from '../clip/errors';
import { HTTP_PROTOCOLS, isWireV2ContentType, LAMBDA_PAYLOAD_LIMIT_BYTES, WIRE_V2_CONTENT_TYPE } from '../protocol';
import { check, positiveInt } from '../options';
import { FunctionLifecycle } from './lifecycle';
import { readBody } from './read-body';
import type { ServedModel } from './served-model';
import { handleWireRequest, handleWireRequestV2 } from './wire';

export interface FunctionServerOptions {
  /** Largest request body accepted, in bytes. Default 6 MiB, as Lambda and SageMaker real-time endpoints. */
  maxBodyBytes?: number;
  /** Retry-After, in seconds, on invocations refused while the model loads. Default 5. */
  loadingRetryAfterSeconds?: number;
  /** Where failures are logged. Default: stderr. */
  log?: (message: string, error?: unknown) => void;
}

const ROUTES = 'POST /invocations, GET /ping, GET /readyz or GET /healthz';

/**
 * The function's server. Given a model, it serves at once; given a lifecycle, it answers health
 * probes from the first moment (listen before loading: SageMaker wants the port within 250 ms)
 * and invocations once the lifecycle is ready.
 *
 * An invocation whose model call throws DeviceError answers 500 naming it and marks the
 * lifecycle broken: /ping says 503 and whoever runs the process replaces the worker.
 */
export function createFunctionServer(model: ServedModel | FunctionLifecycle, options: FunctionServerOptions = {}): Server {
  const lifecycle = model instanceof FunctionLifecycle ? model : FunctionLifecycle.serving(model);
  const limit = check('maxBodyBytes', options.maxBodyBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES, positiveInt);
  const retryAfter = check('loadingRetryAfterSeconds', options.loadingRetryAfterSeconds ?? 5, positiveInt);
  const log = options.log ?? ((message: string, error?: unknown) => console.error(message, error ?? ''));

  const invoke = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { body, tooLarge } = await readBody(req, limit);
    if (tooLarge) return send(res, lifecycle, 413, { message: `The request body is over ${limit} bytes.` });
    const served = lifecycle.model!;
    try {
      if (isWireV2ContentType(req.headers['content-type'])) {
        return send(res, lifecycle, 200, await handleWireRequestV2(served, body, HTTP_PROTOCOLS), WIRE_V2_CONTENT_TYPE);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        return send(res, lifecycle, 400, { message: `The request body is neither JSON nor ${WIRE_V2_CONTENT_TYPE}.` });
      }
      return send(res, lifecycle, 200, await handleWireRequest(served, payload, HTTP_PROTOCOLS));
    } catch (error) {
      if (isDeviceError(error)) {
        const reason = `the device failed: ${error.message}`;
        log(`invocation failed, ${reason}; this worker is leaving`);
        lifecycle.broken(reason);
        return send(res, lifecycle, 500, {
          message: `The function's GPU failed (${error.message}); this worker is leaving: retry elsewhere.`,
        });
      }
      log('invocation failed', error);
      return send(res, lifecycle, 500, { message: 'The function failed on this request.' });
    }
  };

  return createServer((req, res) => {
    const path = pathOf(req);
    if (path === '/invocations') {
      if (req.method !== 'POST') return void methodNotAllowed(req, res, lifecycle, 'POST');
      if (lifecycle.state !== 'ready') return void refuse(req, res, lifecycle, retryAfter);
      // Counted from the first byte: a shutdown waits for a request still uploading as for one running.
      void lifecycle.track(() =>
        invoke(req, res).catch((error: unknown) => {
          log('invocation failed', error);
          if (!res.headersSent) return send(res, lifecycle, 500, { message: 'The function failed on this request.' });
          res.destroy();
        }),
      );
      return;
    }
    void answerHealth(req, res, lifecycle, path);
  });
}

/** A server for the health routes alone, on a port of their own (RunPod's PORT_HEALTH). */
export function createHealthServer(lifecycle: FunctionLifecycle): Server {
  return createServer((req, res) => void answerHealth(req, res, lifecycle, pathOf(req)));
}

/**
 * /ping (SageMaker, RunPod): 204 while loading, which RunPod reads as "initializing", 200 ready,
 * 503 broken or draining. /readyz (Cloud Run, Azure: any 2xx is ready): 200 only when ready.
 * /healthz: liveness, 200 while the process answers, with its state and invocations in flight.
 */
function answerHealth(req: IncomingMessage, res: ServerResponse, lifecycle: FunctionLifecycle, path: string): Promise<void> {
  req.resume();
  if (!['/ping', '/readyz', '/healthz'].includes(path)) return send(res, lifecycle, 404, { message: `Not found: ${ROUTES}.` });
  if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(req, res, lifecycle, 'GET, HEAD');
  const { state, model, reason } = lifecycle;
  const name = model?.info.name;
  if (path === '/healthz') return send(res, lifecycle, 200, { status: 'ok', state, model: name, inFlight: lifecycle.inFlight });
  if (state === 'ready') return send(res, lifecycle, 200, { status: state, model: name });
  if (state === 'loading') {
    if (path === '/ping') return new Promise((resolve) => res.writeHead(204).end(resolve));
    return send(res, lifecycle, 503, { status: state, message: 'The model is loading.' });
  }
  return send(res, lifecycle, 503, { status: state, message: reason });
}

/** An invocation that cannot run now: loading (try again soon), broken or draining (go elsewhere). */
function refuse(req: IncomingMessage, res: ServerResponse, lifecycle: FunctionLifecycle, retryAfter: number): Promise<void> {
  req.resume();
  if (lifecycle.state === 'loading') {
    res.setHeader('retry-after', String(retryAfter));
    return send(res, lifecycle, 503, { message: `The model is loading; retry in ${retryAfter} s.` });
  }
  const why = lifecycle.state === 'broken' ? 'is broken' : 'is shutting down';
  return send(res, lifecycle, 503, { message: `The function ${why} (${lifecycle.reason}); retry elsewhere.` });
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse, lifecycle: FunctionLifecycle, allow: string): Promise<void> {
  req.resume();
  res.setHeader('allow', allow);
  return send(res, lifecycle, 405, { message: `${req.method} is not allowed here: ${ROUTES}.` });
}

/** Writes an answer (JSON unless bytes with their type); once the function is stopping, closes the connection after it. */
function send(res: ServerResponse, lifecycle: FunctionLifecycle, status: number, body: unknown, type = 'application/json'): Promise<void> {
  const bytes = body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body));
  if (lifecycle.state !== 'ready' && lifecycle.state !== 'loading') res.setHeader('connection', 'close');
  res.writeHead(status, { 'content-type': type, 'content-length': bytes.byteLength });
  // Settles once the answer is handed to the socket (or the socket is gone), so that a shutdown
  // waiting for in-flight invocations does not close connections under answers being written.
  return new Promise((resolve) => {
    res.once('close', resolve);
    res.end(bytes, resolve);
  });
}

/** The request's path without its query (SageMaker and RunPod call the bare paths; a query changes nothing). */
const pathOf = (req: IncomingMessage) => (req.url ?? '/').split('?')[0];

/** DeviceError, or one from another copy of the module (the name is the contract). */
function isDeviceError(error: unknown): error is Error {
  return error instanceof DeviceError || (error instanceof Error && error.name === 'DeviceError');
}
