// The HTTP adapter: the same protocol as the Lambda function, for hosts outside Lambda (a GPU
// instance, a container service). POST /invocations with the JSON request; GET /healthz.
import { createServer, type IncomingMessage, type Server } from 'node:http';

import type { ClipModel } from '../clip';
import { handleWireRequest, LAMBDA_PAYLOAD_LIMIT_BYTES } from '../protocol';
import { loadModelFromEnv } from './model-from-env';

export interface FunctionServerOptions {
  /** Largest request body accepted, in bytes. Default 6 MiB, as Lambda. */
  maxBodyBytes?: number;
  log?: (message: string, error?: unknown) => void;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new BodyTooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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
    let payload: unknown;
    try {
      payload = JSON.parse((await readBody(req, limit)).toString('utf8'));
    } catch (error) {
      if (error instanceof BodyTooLarge) return reply(413, { message: `The request body is over ${limit} bytes.` });
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
