import { setMaxListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ApolloServer } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';

import { credentialsOf } from './common/auth';
import { eventStreams, serveWebSocketSubscriptions, SubscriptionBudget, type EventStreams, type SubscriptionServer } from './subscriptions';
import { ErrorCode, GatewayError } from './common/errors';
import { CONSOLE_ROUTE, webConsole } from './console';
import type { GatewayContext, RequestLimits } from './context';
import { explorer, EXPLORER_ROUTE } from './explorer';
import type { Gateway } from './gateway';
import { requestDeadline, requestTimeoutMs, TIMEOUT_HEADER } from './limits';
import { SHOPIFY_WEBHOOK_ROUTE, ShopifyWebhooks, type ShopifyOptions } from './shopify';
import { multipartUploads } from './uploads';

/** Where the standalone schema is served, and the Federation subgraph when FEDERATION is on. */
export const GRAPHQL_ROUTE = '/graphql';
/** Subscriptions over Server-Sent Events (graphql-sse), for clients that cannot open a WebSocket. */
export const EVENT_STREAM_ROUTE = '/graphql/stream';
export const SUBGRAPH_ROUTE = '/subgraph';

/** The most distinct inputs one request may hold, by the request limits. */
function maxDistinctInputs(limits: RequestLimits): number {
  return Math.max(3 * limits.maxInputsPerRequest, limits.maxLabels * limits.maxTemplates + limits.maxInputsPerRequest);
}

/** An error in GraphQL's response shape, as Apollo would answer it. */
function graphqlError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * Apollo's CSRF prevention, mirrored from @apollo/server (preventCsrf.ts and ApolloServer's
 * prefersHTML) so that the requests it would refuse with a paragraph get one sentence instead.
 * Apollo still checks every request itself; this only answers first, and only when Apollo's
 * answer would be that refusal.
 */
const CSRF = {
  /** Content types a browser sends cross-site without a CORS preflight. */
  simpleContentTypes: ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'],
  /** Apollo's default preflight headers (gateway.ts leaves csrfPrevention at its default, on). */
  preflightHeaders: ['x-apollo-operation-name', 'apollo-require-preflight'],
  /** The media types Apollo weighs a GET's Accept against; text/html winning means a browser. */
  responseTypes: [
    'application/json; charset=utf-8',
    'application/graphql-response+json; charset=utf-8',
    'multipart/mixed; deferSpec=20220824',
    'multipart/mixed; incrementalSpec=v0.2',
    'multipart/mixed',
    'text/html',
  ],
};

/** A MIME type's `type/subtype` as the WHATWG parser Apollo uses reads it; an unparsable one does not match. */
const MIME_ESSENCE = /^[\t\n\r ]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\/([!#$%&'*+.^_`|~0-9A-Za-z-]+)[\t\n\r ]*(?:;|$)/;

/** Whether Apollo would take this request for a cross-site forgery (see CSRF). */
function failsCsrfCheck(req: Request): boolean {
  const contentType = req.headers['content-type'];
  if (contentType !== undefined) {
    const essence = MIME_ESSENCE.exec(contentType);
    // Apollo lets a content type it cannot parse through (and then refuses the body).
    if (!essence || !CSRF.simpleContentTypes.includes(`${essence[1]}/${essence[2]}`.toLowerCase())) return false;
  }
  return !CSRF.preflightHeaders.some((name) => String(req.headers[name] ?? '').length > 0);
}

/** Whether Apollo would answer this request with its landing page, were one on (a browser opening the URL). */
function prefersHtml(req: Request): boolean {
  return req.method === 'GET' && !!req.headers.accept && req.accepts(CSRF.responseTypes) === 'text/html';
}

export const SEND_JSON =
  'Send the query as JSON: POST with content-type: application/json, or GET with ?query= and the header apollo-require-preflight: true.';
export const UPLOAD_NEEDS_PREFLIGHT =
  'A file upload (multipart/form-data) needs the header apollo-require-preflight: true (or x-apollo-operation-name: <the operation>), which a cross-site form cannot send.';
export const SANDBOX_OFF = `Apollo Sandbox is off on this gateway (SANDBOX=false). Open ${EXPLORER_ROUTE} for the GraphiQL explorer, or send the query as JSON: POST with content-type: application/json.`;
export const BATCH_REFUSED =
  'This gateway takes one operation per request, and the body is a JSON array of operations: send each as its own request, or ask for several fields in one operation.';
export const EXPLORER_OFF = 'The GraphiQL explorer needs schema introspection, which is off on this gateway (INTROSPECTION=false).';

export interface HostOptions {
  /** Longest wait for in-flight requests on stop before their connections are cut, in ms. Default 10000. */
  stopGracePeriodMs?: number;
  /**
   * The shop's webhooks on POST /webhooks/shopify (see ShopifyOptions; the process reads them with
   * shopifyFromEnv). Default: no secret, so the route says it is off.
   */
  shopify?: Partial<ShopifyOptions>;
}

/**
 * The gateway's HTTP host: Express with GraphQL at /graphql (Apollo Sandbox for browsers), CORS
 * and body limits, GraphiQL at /graphiql (offline, from the build), an index at /, /healthz,
 * /readyz and /metrics, and a graceful stop. The only place that touches HTTP; everything behind
 * /graphql is the transport-free Gateway.
 */
export class GatewayHost {
  readonly app = express();
  readonly httpServer: Server = createServer(this.app);
  private state: 'serving' | 'stopping' | 'stopped' = 'serving';
  /** Subscriptions over WebSocket on /graphql, on the same server. */
  private readonly subscriptions: SubscriptionServer;
  /** Subscriptions over Server-Sent Events on EVENT_STREAM_ROUTE. */
  private readonly eventStreams: EventStreams;
  /** Every client's open subscriptions, over both transports. */
  private readonly subscriptionBudget: SubscriptionBudget;
  /** Requests to /graphql not yet answered (see GatewayConfig.maxRequestsInFlight). */
  private inFlight = 0;
  /** The shop's webhooks: their route, and the worker processing what it records. */
  readonly shopify: ShopifyWebhooks;

  constructor(
    readonly gateway: Gateway,
    private readonly options: HostOptions = {},
  ) {
    this.subscriptionBudget = new SubscriptionBudget(gateway.config.maxSubscriptionsPerClient);
    this.eventStreams = eventStreams(gateway, this.subscriptionBudget, graphqlError);
    this.shopify = new ShopifyWebhooks(gateway, options.shopify);
    this.mount();
    this.shopify.start();
    // A body still arriving at the request's deadline cannot be answered in time: Node answers 408
    // and closes, instead of holding the connection for its default 5 minutes (an endless upload).
    this.httpServer.requestTimeout = gateway.config.requestTimeoutMs;
    this.httpServer.headersTimeout = Math.min(this.httpServer.headersTimeout, gateway.config.requestTimeoutMs);
    this.subscriptions = serveWebSocketSubscriptions(this.httpServer, GRAPHQL_ROUTE, gateway, this.subscriptionBudget);
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
    // Open subscriptions would hold the server open: they complete first.
    this.eventStreams.close();
    await this.subscriptions.close();
    if (this.httpServer.listening) {
      const closed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
      this.httpServer.closeIdleConnections();
      const cut = setTimeout(() => this.httpServer.closeAllConnections(), this.options.stopGracePeriodMs ?? 10_000);
      await closed;
      clearTimeout(cut);
    }
    // Before the store closes: the delivery in hand is finished, the rest waits in the store.
    await this.shopify.stop();
    await this.gateway.stop();
    this.state = 'stopped';
  }

  private mount(): void {
    const { app, gateway } = this;
    const { config, metrics } = gateway;
    app.disable('x-powered-by');
    // req.ip, which rate limits go by, is then the address the nearest trusted proxies forwarded.
    if (config.trustProxyHops > 0) app.set('trust proxy', config.trustProxyHops);
    app.get('/', this.index());
    app.use(CONSOLE_ROUTE, webConsole());
    if (config.introspection) app.use(EXPLORER_ROUTE, explorer());
    else app.use(EXPLORER_ROUTE, (_req, res) => graphqlError(res, 404, 'NOT_FOUND', EXPLORER_OFF));
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const ready = this.state === 'serving' && (await gateway.ready());
      // Overloaded is not ready: a load balancer steers new requests to a gateway with room.
      const overloaded = gateway.admission.overloaded || this.inFlight >= config.maxRequestsInFlight;
      res.status(ready && !overloaded ? 200 : 503).json({
        status: !ready ? 'not ready' : overloaded ? 'overloaded' : 'ready',
        state: this.state,
        admitted: gateway.admission.load,
        requestsInFlight: this.inFlight,
        model: gateway.model.info.name,
        backend: gateway.backend.kind,
        tiers: gateway.backendStatus().tiers,
      });
    });
    // Its own raw body reader: Shopify's signature is over the bytes as sent, before any JSON parsing.
    app.post(SHOPIFY_WEBHOOK_ROUTE, ...this.shopify.handlers);
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    // Before GRAPHQL_ROUTE, which as a prefix would take its requests. Streams last as long as their
    // subscriptions, so they do not count among the requests in flight: their bound is per client.
    app.use(EVENT_STREAM_ROUTE, this.cors(), express.json({ limit: config.bodyLimitBytes }), ...this.eventStreams.handlers);
    app.use(GRAPHQL_ROUTE, ...this.graphqlHandlers(gateway.apollo, config.sandbox));
    if (gateway.subgraph) app.use(SUBGRAPH_ROUTE, ...this.graphqlHandlers(gateway.subgraph, false));
    app.use(this.bodyErrors());
  }

  /**
   * What every GraphQL request goes through, in order: the refusals decided before the body is
   * read (requests in flight, image bytes held), CORS, the CSRF hint, the deadline header, the
   * body limit, one operation per request, then Apollo with the operation's context.
   */
  private graphqlHandlers(apollo: ApolloServer<GatewayContext>, landingPage: boolean): RequestHandler[] {
    const { gateway } = this;
    const { config } = gateway;
    return [
      this.earlyRefusals(),
      this.cors(),
      this.csrfHint(landingPage),
      this.timeoutHeader(),
      express.json({ limit: config.bodyLimitBytes }),
      multipartUploads(config, graphqlError, (req) => gateway.authorizeAdmin(credentialsOf(req)).ok),
      this.singleOperation(),
      expressMiddleware(apollo, {
        context: async ({ req, res }) => {
          const abort = new AbortController();
          // A client that hangs up stops the image fetches still running for it. (The request's own
          // 'close' fires once its body has been read, so the response's is the one that tells.)
          res.once('close', () => {
            if (!res.writableFinished)
              abort.abort(new GatewayError(ErrorCode.CLIENT_CLOSED_REQUEST, 'The client closed the request before it was answered.'));
          });
          // timeoutHeader() has refused a bad header already.
          const timeout = requestTimeoutMs(req.headers[TIMEOUT_HEADER], config.requestTimeoutMs);
          const deadline = requestDeadline(abort.signal, timeout.ok ? timeout.ms : config.requestTimeoutMs);
          res.once('close', () => deadline.dispose());
          // Each distinct input of the request listens on this signal until it settles: at most
          // the inputs of three lists, or a classify's labels × templates prompts and its images.
          setMaxListeners(maxDistinctInputs(config) + 1, deadline.signal);
          return gateway.context(deadline.signal, credentialsOf(req));
        },
      }),
    ];
  }

  /** CORS for the GraphQL routes: any origin, or those of CORS_ORIGINS. */
  private cors(): RequestHandler {
    const { corsOrigins } = this.gateway.config;
    return cors(corsOrigins === '*' ? {} : { origin: corsOrigins });
  }

  /** `GET /`: browsers go to the web console; anything else gets the list of endpoints. */
  private index(): RequestHandler {
    const { sandbox, introspection } = this.gateway.config;
    const endpoints: Record<string, string> = {
      [GRAPHQL_ROUTE]: `the GraphQL API: POST JSON${sandbox ? "; Apollo Sandbox in a browser (loads from Apollo's CDN)" : ''}`,
      [CONSOLE_ROUTE]: 'the web console: classify, similarity, the catalogue, the model, with charts (works offline)',
      [EXPLORER_ROUTE]: 'GraphiQL, the schema explorer, served by the gateway (works offline)',
      '/healthz': 'liveness',
      '/readyz': 'readiness: the model loaded, the backend reachable, and room for more work (503 while overloaded)',
      '/metrics': 'Prometheus metrics',
    };
    if (!introspection) delete endpoints[EXPLORER_ROUTE];
    if (this.gateway.subgraph) {
      endpoints[SUBGRAPH_ROUTE] =
        'the same API as an Apollo Federation 2 subgraph, for a router (FEDERATION=true): Product is an entity keyed by id';
    }
    return (req, res) => {
      res.vary('accept');
      if (req.accepts(['json', 'html']) === 'html') {
        res.redirect(302, CONSOLE_ROUTE);
        return;
      }
      res.json({ service: 'clip-gateway', endpoints });
    };
  }

  /**
   * One sentence on what to send, instead of Apollo's paragraph, for requests its CSRF prevention
   * would refuse (a form-like POST; a GET without a preflight header); for a browser opening
   * /graphql with Sandbox off, a pointer to the explorer.
   */
  private csrfHint(sandbox: boolean): RequestHandler {
    return (req, res, next) => {
      const browser = prefersHtml(req);
      // With Sandbox on, Apollo answers a browser with it before checking anything.
      if ((sandbox && browser) || !failsCsrfCheck(req)) return next();
      const sentence = browser ? SANDBOX_OFF : req.is('multipart/form-data') ? UPLOAD_NEEDS_PREFLIGHT : SEND_JSON;
      graphqlError(res, 400, ApolloServerErrorCode.BAD_REQUEST, sentence);
    };
  }

  /**
   * What can be refused before the body is read, so that a refusal under overload costs next to
   * nothing: a request while maxRequestsInFlight are being handled, and one whose Content-Length
   * says its images could not be held now (ADMISSION_MAX_IMAGE_BYTES; base64 is 4 bytes for 3).
   */
  private earlyRefusals(): RequestHandler {
    const { config, metrics, admission } = this.gateway;
    const overloaded = (res: Response, retryAfterSeconds: number, message: string) => {
      metrics.shed.inc({ reason: 'overloaded' });
      res.set('retry-after', String(retryAfterSeconds));
      graphqlError(
        res,
        503,
        ErrorCode.OVERLOADED,
        `The gateway is overloaded: ${message}. Retry after the time in the Retry-After header.`,
      );
    };
    return (req, res, next) => {
      if (this.inFlight >= config.maxRequestsInFlight) {
        return overloaded(res, 1, `it is handling ${this.inFlight} requests, its most (MAX_REQUESTS_IN_FLIGHT)`);
      }
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > 0 && !admission.hasRoomForImageBytes(Math.floor((length * 3) / 4))) {
        return overloaded(
          res,
          admission.retryAfterSeconds,
          `it holds ${admission.imageBytesHeld} bytes of images waiting for the model, and this request's body of ${length} bytes could take it over its bound of ${admission.limits.maxImageBytes} (ADMISSION_MAX_IMAGE_BYTES)`,
        );
      }
      this.inFlight++;
      res.once('close', () => this.inFlight--);
      next();
    };
  }

  /** A bad x-request-timeout-ms, refused before the body is read, naming the header. */
  private timeoutHeader(): RequestHandler {
    const { requestTimeoutMs: defaultMs } = this.gateway.config;
    return (req, res, next) => {
      const timeout = requestTimeoutMs(req.headers[TIMEOUT_HEADER], defaultMs);
      if (timeout.ok) return next();
      graphqlError(res, 400, ErrorCode.BAD_USER_INPUT, timeout.message);
    };
  }

  /** An array of operations (batched HTTP operations), refused in one sentence before Apollo sees it. */
  private singleOperation(): RequestHandler {
    return (req, res, next) => {
      if (!Array.isArray(req.body)) return next();
      this.gateway.metrics.shed.inc({ reason: 'query_limit' });
      graphqlError(res, 400, ApolloServerErrorCode.BAD_REQUEST, BATCH_REFUSED);
    };
  }

  /** Bodies Express could not read, answered in GraphQL's error shape. */
  private bodyErrors(): ErrorRequestHandler {
    return (error: { type?: string; status?: number; length?: number; limit?: number }, _req, res, next) => {
      const refuse = (status: number, code: ErrorCode, message: string) => graphqlError(res, status, code, message);
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
