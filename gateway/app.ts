import { createServer, type Server } from 'node:http';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';

import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type ErrorRequestHandler } from 'express';
import { Kind } from 'graphql';

import type { InferenceBackend } from './backends/backend';
import { createBackend } from './backends';
import type { GatewayConfig } from './config';
import type { GatewayContext, GatewayServices } from './context';
import { ErrorCode, formatError } from './errors';
import { EmbeddingService } from './loaders/embeddings';
import { createMediaLoader } from './loaders/media-loader';
import { GatewayMetrics } from './metrics';
import { buildGatewaySchema } from './schema';

export type Logger = (message: string, error?: unknown) => void;

export const stderrLogger: Logger = (message, error) => {
  const detail = error instanceof Error ? ` ${error.stack ?? error.message}` : error === undefined ? '' : ` ${String(error)}`;
  process.stderr.write(`${new Date().toISOString()} ${message}${detail}\n`);
};

export interface GatewayOptions {
  config: GatewayConfig;
  /** The backend to use; default: a LocalBackend per config. */
  backend?: InferenceBackend;
  log?: Logger;
}

/**
 * The gateway: an Express app with GraphQL at /graphql (Apollo Sandbox for browsers), /healthz,
 * /readyz and /metrics, over one inference backend. Nothing here reads the environment or picks a
 * port; `index.ts` does.
 */
export class Gateway {
  private state: 'starting' | 'serving' | 'stopping' | 'stopped' = 'starting';

  private constructor(
    readonly config: GatewayConfig,
    readonly backend: InferenceBackend,
    private readonly apollo: ApolloServer<GatewayContext>,
    readonly services: GatewayServices,
    readonly metrics: GatewayMetrics,
    readonly app: express.Express,
    readonly httpServer: Server,
    private readonly log: Logger,
  ) {}

  static async create(options: GatewayOptions): Promise<Gateway> {
    const { config } = options;
    const log = options.log ?? stderrLogger;
    const backend = options.backend ?? createBackend(config, log);
    const model = await backend.start();
    if (!config.modelDir && backend.kind === 'local') {
      log(`CLIP_MODEL_DIR is not set: serving the bundled tiny CLIP (colours and shapes only), not a real CLIP model.`);
    }
    const metrics = new GatewayMetrics();
    const embeddings = new EmbeddingService(
      backend,
      model,
      {
        batching: { maxBatchSize: config.maxBatchSize, maxDelayMs: config.maxDelayMs },
        textCacheSize: config.textCacheSize,
        imageCacheSize: config.imageCacheSize,
        imageLimits: config.imageLimits,
        log,
      },
      metrics,
    );
    const services: GatewayServices = { config, embeddings, model, backendKind: backend.kind };
    const schema = await buildGatewaySchema();
    const app = express();
    const httpServer = createServer(app);
    const apollo = new ApolloServer<GatewayContext>({
      schema,
      introspection: true,
      includeStacktraceInErrorResponses: false,
      // index.ts owns the signals: Apollo's own handlers would re-raise SIGTERM once Apollo alone
      // had stopped, killing the process before batches drained and the backend closed.
      stopOnTerminationSignals: false,
      formatError: (formatted, error) => formatError(formatted, error, (e) => log('unexpected error while resolving', e)),
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        config.sandbox
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
        metricsPlugin(metrics),
      ],
    });
    await apollo.start();
    const gateway = new Gateway(config, backend, apollo, services, metrics, app, httpServer, log);
    gateway.mount();
    gateway.state = 'serving';
    return gateway;
  }

  private mount(): void {
    const { app, config } = this;
    app.disable('x-powered-by');
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const backendReady = this.state === 'serving' && (await this.backend.ready().catch(() => false));
      res.status(backendReady ? 200 : 503).json({
        status: backendReady ? 'ready' : 'not ready',
        state: this.state,
        model: this.services.model.info.name,
        backend: this.backend.kind,
      });
    });
    app.get('/metrics', async (_req, res) => {
      res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
    });
    app.use(
      '/graphql',
      cors(config.corsOrigins === '*' ? {} : { origin: config.corsOrigins }),
      express.json({ limit: config.bodyLimitBytes }),
      expressMiddleware(this.apollo, {
        context: async ({ res }) => {
          const abort = new AbortController();
          // Every URL fetch of the request listens on this signal: up to the inputs of three lists.
          setMaxListeners(3 * config.maxInputsPerRequest + 1, abort.signal);
          // A client that hangs up stops the image fetches still running for it. (The request's own
          // 'close' fires once its body has been read, so the response's is the one that tells.)
          res.once('close', () => {
            if (!res.writableFinished) abort.abort();
          });
          return {
            services: this.services,
            media: createMediaLoader(
              this.services.embeddings,
              { fetch: config.fetch, maxImageBytes: config.imageLimits.maxBytes },
              abort.signal,
            ),
          };
        },
      }),
    );
    const bodyErrors: ErrorRequestHandler = (
      error: { type?: string; status?: number; length?: number; limit?: number },
      _req,
      res,
      next,
    ) => {
      if (error?.type === 'entity.too.large') {
        this.metrics.errors.inc({ code: ErrorCode.INPUT_TOO_LARGE });
        res.status(413).json({
          errors: [
            {
              message: `The request body is ${error.length ?? 'over'} bytes; the limit is ${error.limit} bytes.`,
              extensions: { code: ErrorCode.INPUT_TOO_LARGE },
            },
          ],
        });
        return;
      }
      if (error?.type === 'entity.parse.failed') {
        res
          .status(400)
          .json({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: ErrorCode.BAD_USER_INPUT } }] });
        return;
      }
      if (error?.status && error.status >= 400 && error.status < 500) {
        res
          .status(error.status)
          .json({ errors: [{ message: 'The request could not be read.', extensions: { code: ErrorCode.BAD_USER_INPUT } }] });
        return;
      }
      this.log('unexpected error in the HTTP layer', error);
      if (res.headersSent) return next(error);
      res.status(500).json({ errors: [{ message: 'Internal server error.', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] });
    };
    app.use(bodyErrors);
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

  /** Stops accepting, lets in-flight requests and their batches finish, then stops the backend. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    await this.apollo.stop();
    if (this.httpServer.listening) await new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    await this.services.embeddings.drain();
    await this.backend.close();
    this.state = 'stopped';
  }
}

/** Counts operations by root field (a bounded set, unlike client-chosen operation names) and errors by code. */
function metricsPlugin(metrics: GatewayMetrics): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          for (const selection of operation?.selectionSet.selections ?? []) {
            if (selection.kind === Kind.FIELD) metrics.requests.inc({ operation: selection.name.value });
          }
        },
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            metrics.errors.inc({ code: String(error.extensions?.code ?? 'UNKNOWN') });
          }
        },
      };
    },
  };
}
