import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginInlineTrace } from '@apollo/server/plugin/inlineTrace';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { GraphQLError, Kind, type GraphQLSchema } from 'graphql';

import type { ModelDescription } from '../functions/clip';
import { check, positiveInt } from '../functions/options';
import { createBackend, registerTierMetrics, resolveBackendModel, type BackendStatus, type InferenceBackend } from './backends';
import { CatalogueService, TaggingJobRunner } from './catalogue';
import { ApiKeys, type AuthDecision, type Credentials, type OperationType } from './common/auth';
import { formatError } from './common/errors';
import { stderrLogger, type Logger } from './common/log';
import { GatewayMetrics } from './common/metrics';
import type { GatewayConfig } from './config';
import type { GatewayContext, GatewayServices } from './context';
import { EmbeddingService, measureInputCost } from './embedding';
import { createImageIntake, type ImageIntake } from './intake';
import {
  Admission,
  apolloPersistedQueries,
  guardPlugin,
  PersistedQueryList,
  queryLimitRules,
  RateLimiter,
  tokenLimitError,
} from './limits';
import { createProductLoader, createTagLoader } from './loaders/catalogue-loaders';
import { createMediaLoader } from './loaders/media-loader';
import { buildGatewaySchema, subgraphSchemaOf } from './schema';
import { openConfiguredStore, type CatalogueStore } from './store';
import { registerWebhookMetrics, WebhookDeliveries, WebhookService } from './webhooks';

export interface GatewayDeps {
  /** Where CLIP runs. Default: the backend the config names. */
  backend?: InferenceBackend;
  /** Default: timestamped lines on stderr. */
  log?: Logger;
  /** The catalogue's store. Default: the one the config names. Either way the gateway migrates it and closes it in stop(). */
  store?: CatalogueStore;
}

/** A running gateway without any transport: Apollo over the services, ready for requests from any host. */
export interface Gateway {
  readonly config: GatewayConfig;
  readonly apollo: ApolloServer<GatewayContext>;
  /** The schema Apollo serves at /graphql: what subscriptions over WebSocket run against too. */
  readonly schema: GraphQLSchema;
  /** With PERSISTED_QUERIES=safelist: the only operations that run, over HTTP or WebSocket. */
  readonly safelist?: PersistedQueryList;
  /** The same API as an Apollo Federation 2 subgraph, when config.federation is on (host.ts serves it at /subgraph). */
  readonly subgraph?: ApolloServer<GatewayContext>;
  readonly backend: InferenceBackend;
  readonly model: ModelDescription;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly store: CatalogueStore;
  readonly catalogue: CatalogueService;
  /** Embeddings for every caller of this gateway (batched, cached): what the resolvers and the catalogue use. */
  readonly embeddings: EmbeddingService;
  /** Runs tagging jobs (shared through the store with every gateway on it); stopped, after its chunk in hand, by stop(). */
  readonly jobs: TaggingJobRunner;
  /** Delivers tag changes to webhook endpoints (shared through the store with every gateway on it); stopped by stop(). */
  readonly webhooks: WebhookDeliveries;
  /** What is let in: the inference inputs of admitted requests, against the bounds (for /readyz). */
  readonly admission: Admission;
  /**
   * The context of one operation. `signal` aborts its image fetches and queued inputs (its client hung up);
   * `credentials` are what its client presented (API keys). Default: an in-process caller, on this machine, without a key.
   */
  context(signal?: AbortSignal, credentials?: Credentials): GatewayContext;
  /** Whether an operation of this type may run with these credentials (API_KEYS), and if not, the refusal. */
  authorize(operation: OperationType, credentials: Credentials): AuthDecision;
  /** Whether these credentials may run admin operations (webhook endpoints, imports): an admin key, or loopback without keys. */
  authorizeAdmin(credentials: Credentials): AuthDecision;
  /** Whether a request sent now is expected to succeed. */
  ready(): Promise<boolean>;
  /** Which backend tier serves now, and each tier's state (a single backend is one tier). */
  backendStatus(): BackendStatus;
  /** Stops Apollo, lets queued batches finish, then stops the backend and closes the store. */
  stop(): Promise<void>;
}

function checkGatewayConfig(config: GatewayConfig): void {
  check('maxInputsPerRequest', config.maxInputsPerRequest, positiveInt);
  check('maxLabels', config.maxLabels, positiveInt);
  check('maxTemplates', config.maxTemplates, positiveInt);
}

/**
 * The composition root: the backend, the embedding service, the image intake and the schema,
 * wired into a started Apollo server. Knows nothing of HTTP; `host.ts` serves it.
 */
export async function createGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  checkGatewayConfig(config);
  // Read first: a list that cannot be used stops the gateway before anything is started.
  const { mode, manifest } = config.persistedQueries;
  const safelist = mode === 'safelist' && manifest !== undefined ? PersistedQueryList.load(manifest) : undefined;
  const log = deps.log ?? stderrLogger;
  const apiKeys = new ApiKeys(config.apiKeys);
  if (!apiKeys.configured) {
    log('API_KEYS is not set: queries are open to every client, mutations only to clients on this machine (loopback).');
  }
  const intake: ImageIntake = createImageIntake({ maxBytes: config.imageLimits.maxBytes, fetch: config.fetch });
  const backend = deps.backend ?? createBackend(await resolveBackendModel(config.backend, log), log);
  const model = await backend.start();
  if (!deps.backend && config.backend.kind === 'local' && !config.backend.modelDir && !config.backend.hub) {
    log(`Neither CLIP_MODEL nor CLIP_MODEL_DIR is set: serving the bundled tiny CLIP (colours and shapes only), not a real CLIP model.`);
  }
  const metrics = new GatewayMetrics();
  const backendStatus = (): BackendStatus =>
    backend.status?.() ?? {
      serving: 'primary',
      tiers: [{ role: 'primary', kind: backend.kind, state: 'warm', device: model.info.device }],
    };
  registerTierMetrics(metrics.registry, backendStatus);
  const admission = new Admission(config.admission, {
    concurrency: backend.concurrency,
    imageBatchSize: config.imageMaxBatchSize,
    textBatchSize: config.maxBatchSize,
    requestTimeoutMs: config.requestTimeoutMs,
    servingTier: () => backendStatus().serving,
  });
  // Where the model runs in this process a warm-up batch costs only time: admission starts from
  // what this machine measures instead of the default prior.
  if (backend.kind === 'local') admission.setPrior(await measureInputCost(backend, model));
  const embeddings = new EmbeddingService(
    backend,
    model,
    {
      batching: { maxBatchSize: config.maxBatchSize, maxDelayMs: config.maxDelayMs, dispatchWhenIdle: config.dispatchWhenIdle },
      imageMaxBatchSize: config.imageMaxBatchSize,
      textCacheSize: config.textCacheSize,
      imageCacheSize: config.imageCacheSize,
      imageLimits: config.imageLimits,
      log,
      budget: admission,
    },
    metrics,
  );
  let store: CatalogueStore | undefined;
  try {
    store = deps.store ?? (await openConfiguredStore(config.store, (message) => log(message)));
    await store.migrate();
  } catch (error) {
    await store?.close().catch(() => undefined);
    await backend.close();
    throw error;
  }
  const catalogue = new CatalogueService(store, embeddings, intake, config.catalogue);
  try {
    const note = await catalogue.init();
    if (note) log(note);
    // The embedded store's search index is made, or loaded and repaired, in the background; searches are answered meanwhile.
    const searched = (await catalogue.models()).active;
    if (searched) void store.prepareSearch(searched).catch((error: unknown) => log('preparing the search index failed', error));
  } catch (error) {
    await store.close().catch(() => undefined);
    await backend.close();
    throw error;
  }
  const jobs = new TaggingJobRunner(store, catalogue, config.jobs, log);
  catalogue.onJobStarted(() => jobs.wake());
  const webhooks = new WebhookDeliveries(store, config.webhooks, { log, metrics });
  registerWebhookMetrics(metrics.registry, store);
  // A store outage fails every request the same way: its cause is logged once every 10 s, not once per request.
  const logCause = throttledLog(log, 'error while resolving', 10_000);
  const services: GatewayServices = {
    limits: config,
    embeddings,
    model,
    backendStatus,
    catalogue,
    webhooks: new WebhookService(store, config.catalogue, () => webhooks.wake()),
    authorizeAdmin: (credentials) => apiKeys.authorizeAdmin(credentials),
    logInternal: logCause,
  };
  // The guard's state (rate buckets, admission) is the gateway's, whichever schema a request comes through.
  const guard = guardPlugin({
    safelist,
    keys: apiKeys,
    queryLimits: config.queryLimits,
    rateLimiter: new RateLimiter(config.rateLimits),
    admission,
    metrics,
    maxPage: config.catalogue.maxFirst,
  });
  const apolloServing = (schema: GraphQLSchema, landingPage: boolean, federated = false) =>
    new ApolloServer<GatewayContext>({
      schema,
      introspection: config.introspection,
      includeStacktraceInErrorResponses: false,
      // Query limits before anything runs: tokens while parsing, depth, aliases and directives in
      // validation, cost with the rest in guardPlugin. Batched HTTP operations stay off (Apollo's
      // default; host.ts answers an array of operations with a sentence of its own).
      parseOptions: { maxTokens: config.queryLimits.maxTokens },
      persistedQueries: apolloPersistedQueries(mode, safelist),
      validationRules: queryLimitRules(config.queryLimits),
      // index.ts owns the signals: Apollo's own handlers would re-raise SIGTERM once Apollo alone
      // had stopped, killing the process before batches drained and the backend closed.
      stopOnTerminationSignals: false,
      formatError: (formatted, error) => formatError(formatted, tokenLimitError(unwrap(error), config.queryLimits) ?? error, logCause),
      plugins: [
        landingPage
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
        guard,
        metricsPlugin(metrics),
        // What Apollo would install on its own for a subgraph, said here: traces for a router that
        // asks for them (GraphOS field usage), with error messages masked.
        ...(federated ? [ApolloServerPluginInlineTrace({ includeErrors: { masked: true } })] : []),
      ],
    });
  const standalone = await buildGatewaySchema();
  const apollo = apolloServing(standalone, config.sandbox);
  // A router, not a person, talks to the subgraph: no landing page there.
  const subgraph = config.federation ? apolloServing(subgraphSchemaOf(standalone), false, true) : undefined;
  await apollo.start();
  await subgraph?.start();
  jobs.start();
  webhooks.start();

  let state: 'serving' | 'stopping' | 'stopped' = 'serving';
  return {
    config,
    apollo,
    schema: standalone,
    safelist,
    authorize: (operation, credentials) => apiKeys.authorize(operation, credentials),
    authorizeAdmin: (credentials) => apiKeys.authorizeAdmin(credentials),
    subgraph,
    backend,
    model,
    metrics,
    log,
    store,
    catalogue,
    embeddings,
    jobs,
    webhooks,
    admission,
    context: (signal, credentials = { loopback: true }) => ({
      services,
      media: createMediaLoader(embeddings, intake, signal),
      tags: createTagLoader(catalogue),
      products: createProductLoader(catalogue),
      signal,
      credentials,
    }),
    ready: async () => state === 'serving' && (await backend.ready().catch(() => false)),
    backendStatus,
    async stop() {
      if (state !== 'serving') return;
      state = 'stopping';
      await apollo.stop();
      await subgraph?.stop();
      await jobs.stop();
      await webhooks.stop();
      await embeddings.drain();
      await backend.close();
      await store.close();
      state = 'stopped';
    },
  };
}

/** Logs each distinct error at most once per `windowMs`, saying how many were left out. */
function throttledLog(log: Logger, what: string, windowMs: number): (error: unknown) => void {
  const seen = new Map<string, { at: number; skipped: number }>();
  return (error) => {
    const key = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const now = Date.now();
    const last = seen.get(key);
    if (last && now - last.at < windowMs) {
      last.skipped++;
      return;
    }
    // Distinct errors are few in practice; a flood of distinct ones only resets the window early.
    if (seen.size >= 1000) seen.clear();
    seen.set(key, { at: now, skipped: 0 });
    log(last?.skipped ? `${what} (and ${last.skipped} more like it in the last ${windowMs / 1000} s)` : what, error);
  };
}

/** The error graphql-js raised, under Apollo's wrapping of parse errors. */
function unwrap(error: unknown): unknown {
  return error instanceof GraphQLError && error.originalError ? error.originalError : error;
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
