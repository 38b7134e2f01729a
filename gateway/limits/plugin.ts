import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';

import { deadlineOf } from '../common/deadline';
import { hashKey, type ApiKeys, type Credentials, type OperationType } from '../common/auth';
import { ErrorCode, GatewayError } from '../common/errors';
import type { GatewayMetrics } from '../common/metrics';
import type { Admission } from './admission';
import { operationDemand, type Page } from './demand';
import { notInSafelist, type PersistedQueryList } from './persisted-queries';
import { costTooHigh, type QueryLimits } from './query-limits';
import { writePolicy, type RateLimiter, type WriteClass } from './rate-limit';

/** The one thing the guard reads of an operation's context: what its client presented. */
export interface GuardedContext {
  credentials: Credentials;
  /** Aborts when the client goes or the request's deadline passes; carries the deadline (common/deadline.ts). */
  signal?: AbortSignal;
}

export interface GuardOptions {
  keys: ApiKeys;
  queryLimits: QueryLimits;
  rateLimiter: RateLimiter;
  admission: Admission;
  metrics: GatewayMetrics;
  /** Most items one page may ask for with `first` (the catalogue's CATALOGUE_MAX_PAGE). */
  maxPage: number;
  /** With PERSISTED_QUERIES=safelist: the only operations that run. */
  safelist?: PersistedQueryList;
}

/** A refusal of the whole request: its HTTP status and headers ride along for Apollo (formatError drops them for clients). */
function refusal(code: ErrorCode, message: string, status: number, headers: Record<string, string> = {}): GatewayError {
  const http = new HeaderMap();
  for (const [name, value] of Object.entries(headers)) http.set(name, value);
  return new GatewayError(code, message, { extensions: { http: { status, headers: http } } });
}

/** The refusal of a page larger than the bound: the field, the bound and the variable that sets it, and how to get the rest. */
export function pageTooLarge(page: Page, maxPage: number): string {
  const rest = page.cursor ? ` and follow pageInfo.endCursor with after for the rest` : '';
  return `${page.field} asks for first: ${page.first}, over the most one page holds, ${maxPage} (CATALOGUE_MAX_PAGE): ask for at most ${maxPage}${rest}.`;
}

/**
 * Who a client is for its rate limits (its API key when it sent one the gateway knows, else its
 * address), and how its writes count: an admin key's mutations are bulk (an import), any other
 * client's interactive. Without API keys there is no admin key, and every client is interactive.
 */
function clientOf(credentials: Credentials, keys: ApiKeys, type: OperationType): { client: string; writeClass: WriteClass } {
  const scope = credentials.bearer && keys.configured ? keys.scopeOf(credentials.bearer) : undefined;
  if (scope === undefined) return { client: `address:${credentials.address ?? 'unknown'}`, writeClass: 'interactive' };
  return { client: `key:${hashKey(credentials.bearer!)}`, writeClass: type === 'mutation' && scope === 'admin' ? 'bulk' : 'interactive' };
}

/**
 * Everything decided about a request once its operation is known and before anything runs, in
 * order, each refusal answering the whole request: an operation outside the persisted query list
 * when the gateway safelists (400 QUERY_NOT_IN_SAFELIST), API keys (401/403), a page over its bound
 * (400 BAD_USER_INPUT), the cost limit (400 QUERY_TOO_COMPLEX; depth, aliases, directives and
 * tokens were refused earlier, in parsing and validation), the client's rate limits (429
 * RATE_LIMITED), and admission by the time the request has left (503 OVERLOADED). The order
 * matters: a refused key spends no tokens, and a request over its rate spends no place in the
 * queue. Apollo runs every plugin's didResolveOperation at once, so these live in one. The
 * admitted demand is released when the response is sent.
 */
export function guardPlugin(options: GuardOptions): ApolloServerPlugin<GuardedContext> {
  const { keys, queryLimits, rateLimiter, admission, metrics, maxPage, safelist } = options;
  const publishLoad = () => {
    const load = admission.load;
    metrics.admittedInputs.set({ kind: 'image' }, load.images);
    metrics.admittedInputs.set({ kind: 'text' }, load.texts);
    metrics.admittedInputs.set({ kind: 'prompt' }, load.prompts);
    metrics.admittedSeconds.set(admission.queuedSeconds);
  };
  return {
    async requestDidStart() {
      let release: (() => void) | undefined;
      /** The writes policy a limited mutation was held to, for its RateLimit-Policy header. */
      let policyHeader: string | undefined;
      return {
        async didResolveOperation({ operation, document, request, schema, contextValue, queryHash }) {
          if (safelist && !safelist.has(queryHash)) throw refusal(ErrorCode.QUERY_NOT_IN_SAFELIST, notInSafelist(safelist), 400);
          // Apollo resolves the operation before this hook; were it missing, the strictest rule applies.
          const type = (operation?.operation ?? 'mutation') as OperationType;
          const decision = keys.authorize(type, contextValue.credentials);
          if (!decision.ok) {
            throw refusal(
              ErrorCode[decision.code],
              decision.message,
              decision.status,
              decision.status === 401 ? { 'www-authenticate': 'Bearer realm="clip-gateway"' } : {},
            );
          }
          const demand = operationDemand(schema, document, request.operationName ?? undefined, request.variables);
          // A page over its bound is refused for what it is, not as a cost to split: the cost of a huge `first` is its symptom.
          if (demand.largestPage && demand.largestPage.first > maxPage) {
            metrics.shed.inc({ reason: 'query_limit' });
            throw refusal(ErrorCode.BAD_USER_INPUT, pageTooLarge(demand.largestPage, maxPage), 400);
          }
          if (demand.cost > queryLimits.maxCost) {
            metrics.shed.inc({ reason: 'query_limit' });
            throw refusal(ErrorCode.QUERY_TOO_COMPLEX, costTooHigh(demand.cost, queryLimits).message, 400);
          }
          const limited = contextValue.credentials.loopback && !rateLimiter.limits.loopback;
          if (!limited && rateLimiter.enabled) {
            const { client, writeClass } = clientOf(contextValue.credentials, keys, type);
            // The draft IETF RateLimit-Policy field (a quoted name, quota q over a window of w seconds)
            // tells a client such as the import which bucket its writes come from.
            const policy = writePolicy(rateLimiter.limits, writeClass);
            if (type === 'mutation' && policy.perSecond > 0) policyHeader = `"${policy.name}";q=${policy.perSecond};w=1`;
            const rate = rateLimiter.take(client, demand.texts + demand.images + demand.prompts, demand.writes, writeClass);
            if (!rate.ok) {
              metrics.shed.inc({ reason: 'rate_limited' });
              throw refusal(ErrorCode.RATE_LIMITED, rate.message, 429, { 'retry-after': String(rate.retryAfterSeconds) });
            }
          }
          const deadline = deadlineOf(contextValue.signal);
          const admitted = admission.admit(
            { texts: demand.texts, images: demand.images, prompts: demand.prompts },
            deadline === undefined ? undefined : deadline - Date.now(),
          );
          if (!admitted.ok) {
            metrics.shed.inc({ reason: 'overloaded' });
            throw refusal(ErrorCode.OVERLOADED, admitted.message, 503, { 'retry-after': String(admitted.retryAfterSeconds) });
          }
          release = () => {
            admitted.release();
            publishLoad();
          };
          publishLoad();
        },
        async willSendResponse({ response }) {
          release?.();
          if (policyHeader) response.http.headers.set('ratelimit-policy', policyHeader);
        },
      };
    },
  };
}
