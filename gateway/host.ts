import { setMaxListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type ErrorRequestHandler } from 'express';

import { ErrorCode } from './common/errors';
import type { Gateway } from './gateway';
import type { RequestLimits } from './schema';

/** The most distinct inputs one request may hold, by the request limits. */
function maxDistinctInputs(limits: RequestLimits): number {
  return Math.max(3 * limits.maxInputsPerRequest, limits.maxLabels * limits.maxTemplates + limits.maxInputsPerRequest);
}

export interface HostOptions {
  /** Longest wait for in-flight requests on stop before their connections are cut, in ms. Default 10000. */
  stopGracePeriodMs?: number;
}

/**
 * The gateway's HTTP host: Express with GraphQL at /graphql (Apollo Sandbox for browsers), CORS
 * and body limits, /healthz, /readyz and /metrics, and a graceful stop. The only place that
 * touches HTTP; everything behind /graphql is the transport-free Gateway.
 */
export class GatewayHost {
  readonly app = express();
  readonly httpServer: Server = createServer(this.app);
  private state: 'serving' | 'stopping' | 'stopped' = 'serving';

  constructor(
    readonly gateway: Gateway,
    private readonly options: HostOptions = {},
  ) {
    this.mount();
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.httpServer.once('error', reject);
      this.httpServer.listen(port, host, () => {
        this.httpServer.off('error', reject);
        resolve(this.httpServer.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, lets in-flight requests and their batches finish, then stops the gateway. */
  async stop(): Promise<void> {
    if (this.state !== 'serving') return;
    this.state = 'stopping';
    if (this.httpServer.listening) {
      const closed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
      this.httpServer.closeIdleConnections();
      const cut = setTimeout(() => this.httpServer.closeAllConnections(), this.options.stopGracePeriodMs ?? 10_000);
      await closed;
      clearTimeout(cut);
    }
    await this.gateway.stop();
    this.state = 'stopped';
  }

  private mount(): void {
    const { app, gateway } = this;
    const { config, metrics } = gateway;
    app.disable('x-powered-by');
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const ready = this.state === 'serving' && (await gateway.ready());
      res.status(ready ? 200 : 503).json({
        status: ready ? 'ready' : 'not ready',
        state: this.state,
        model: gateway.model.info.name,
        backend: gateway.backend.kind,
      });
    });
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    app.use(
      '/graphql',
      cors(config.corsOrigins === '*' ? {} : { origin: config.corsOrigins }),
      express.json({ limit: config.bodyLimitBytes }),
      expressMiddleware(gateway.apollo, {
        context: async ({ res }) => {
          const abort = new AbortController();
          // Each distinct input of the request listens on this signal until it settles: at most
          // the inputs of three lists, or a classify's labels × templates prompts and its images.
          setMaxListeners(maxDistinctInputs(config) + 1, abort.signal);
          // A client that hangs up stops the image fetches still running for it. (The request's own
          // 'close' fires once its body has been read, so the response's is the one that tells.)
          res.once('close', () => {
            if (!res.writableFinished) abort.abort();
          });
          return gateway.context(abort.signal);
        },
      }),
    );
    app.use(this.bodyErrors());
  }

  /** Bodies Express could not read, answered in GraphQL's error shape. */
  private bodyErrors(): ErrorRequestHandler {
    return (error: { type?: string; status?: number; length?: number; limit?: number }, _req, res, next) => {
      const refuse = (status: number, code: ErrorCode, message: string) =>
        res.status(status).json({ errors: [{ message, extensions: { code } }] });
      if (error?.type === 'entity.too.large') {
        this.gateway.metrics.errors.inc({ code: ErrorCode.INPUT_TOO_LARGE });
        refuse(413, ErrorCode.INPUT_TOO_LARGE, `The request body is ${error.length ?? 'over'} bytes; the limit is ${error.limit} bytes.`);
        return;
      }
      if (error?.type === 'entity.parse.failed') {
        refuse(400, ErrorCode.BAD_USER_INPUT, 'The request body is not valid JSON.');
        return;
      }
      if (error?.status && error.status >= 400 && error.status < 500) {
        refuse(error.status, ErrorCode.BAD_USER_INPUT, 'The request could not be read.');
        return;
      }
      this.gateway.log('unexpected error in the HTTP layer', error);
      if (res.headersSent) return next(error);
      refuse(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.');
    };
  }
}
