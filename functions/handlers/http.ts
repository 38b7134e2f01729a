// The HTTP adapter: the same protocol as the Lambda function, for hosts outside Lambda (a GPU
// instance, a container service). POST /invocations with the JSON request; GET /healthz.
import { createServer, type Server } from 'node:http';

import type { ClipModel } from '../clip/model';
import { LAMBDA_PAYLOAD_LIMIT_BYTES } from '../protocol';
import { loadModelFromEnv } from './model-from-env';
import { readBody } from './read-body';
import { handleWireRequest } from './wire';

export interface FunctionServerOptions {
  /** Largest request body accepted, in bytes. Default 6 MiB, as Lambda. */
  maxBodyBytes?: number;
  log?: (message: string, error?: unknown) => void;
}

export function createFunctionServer(model: ClipModel, options: FunctionServerOptions = {}): Server {
  const limit = options.maxBodyBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES;
  const log = options.log ?? ((message: string, error?: unknown) => console.error(message, error ?? ''));
  return createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/healthz') return reply(200, { status: 'ok', model: model.info.name });
    if (req.method !== 'POST' || req.url !== '/invocations') return reply(404, { message: 'POST /invocations or GET /healthz.' });
    const { body, tooLarge } = await readBody(req, limit);
    if (tooLarge) return reply(413, { message: `The request body is over ${limit} bytes.` });
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return reply(400, { message: 'The request body is not JSON.' });
    }
    try {
      reply(200, await handleWireRequest(model, payload));
    } catch (error) {
      log('invocation failed', error);
      reply(500, { message: 'The function failed on this request.' });
    }
  });
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  loadModelFromEnv().then(
    (model) => {
      const server = createFunctionServer(model);
      server.listen(port, process.env.HOST, () =>
        console.log(`CLIP function (${model.info.name}, ${model.info.device}) on port ${port}: POST /invocations`),
      );
      const stop = () => server.close(() => void model.release().then(() => process.exit(0)));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (error: unknown) => {
      console.error(`The CLIP function could not start: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
