// GraphQL subscriptions over Server-Sent Events (graphql-sse, its distinct connections mode: each
// operation is one POST answered with an event stream), for clients that cannot open a WebSocket
// (some proxies and networks). The same API keys as HTTP, refused before a stream opens; each
// operation checked as HTTP's are and held to its client's bound (operations.ts).
import type { Request, RequestHandler, Response } from 'express';
import { createHandler } from 'graphql-sse/lib/use/express';

import { GraphQLError, type ExecutionResult } from 'graphql';

import { credentialsOf, type Credentials } from '../common/auth';
import { ErrorCode } from '../common/errors';
import type { Gateway } from '../gateway';
import { subscriptionOperations, type SubscriptionBudget } from './operations';

/** How the host answers a refusal in GraphQL's error shape. */
export type Refuse = (res: Response, status: number, code: string, message: string) => void;

export interface EventStreams {
  /** The route's handlers: the key's check, then graphql-sse. */
  handlers: RequestHandler[];
  /** Ends every open stream (their subscriptions complete): the host is stopping. */
  close(): void;
}

/** What each request carries from the key's check to graphql-sse's callbacks. */
const presented = new WeakMap<Request, Credentials>();

export function eventStreams(gateway: Gateway, budget: SubscriptionBudget, refuse: Refuse): EventStreams {
  const operations = subscriptionOperations(gateway);
  /** Each open stream's end: aborting it stops its subscription's work and completes the stream. */
  const open = new Set<AbortController>();

  const checkKey: RequestHandler = (req, res, next) => {
    const credentials = credentialsOf(req);
    const decision = gateway.authorize('subscription', credentials);
    if (!decision.ok) {
      if (decision.status === 401) res.set('www-authenticate', 'Bearer realm="clip-gateway"');
      return refuse(res, decision.status, ErrorCode[decision.code], decision.message);
    }
    presented.set(req, credentials);
    next();
  };

  const handler = createHandler<Record<PropertyKey, unknown>>({
    // No reservation tokens: every operation is its own stream (the distinct connections mode).
    authenticate: () => null,
    onSubscribe: (req, params) => {
      const credentials = presented.get(req.raw)!;
      const end = new AbortController();
      const prepared = operations.prepare(params, credentials, end.signal);
      // Refusals are events of the stream, as the protocol asks (a 400 would make an EventSource
      // retry); graphql-sse knows a result from arguments by its `data`.
      if (Array.isArray(prepared)) return { data: null, errors: prepared };
      const place = budget.take(credentials);
      if (!place.ok) return { data: null, errors: place.errors };
      open.add(end);
      // The stream ends when the client goes or the subscription completes: either way, its work stops.
      req.context.res.once('close', () => {
        end.abort();
        open.delete(end);
        place.release();
      });
      return { ...prepared, contextValue: prepared.contextValue as Record<PropertyKey, unknown> };
    },
    // graphql-sse takes an error thrown by a subscription's stream for its own and leaves the
    // response open; graphql-ws sends it as the operation's error. Here it is the last event.
    onOperation: (_ctx, _req, _args, result) => (isAsyncIterable(result) ? endingOnError(result, gateway.log) : result),
  });

  const serve: RequestHandler = (req, res, next) => {
    handler(req, res).catch(next);
  };

  return {
    handlers: [checkKey, serve],
    close() {
      for (const end of open) end.abort();
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** The stream's results, then, if it throws, its error as a last result (a GatewayError as it is, anything else as an internal error, logged). */
async function* endingOnError(results: AsyncIterable<ExecutionResult>, log: Gateway['log']): AsyncGenerator<ExecutionResult> {
  try {
    yield* results;
  } catch (error) {
    if (error instanceof GraphQLError) {
      yield { errors: [error] };
      return;
    }
    log('a subscription failed', error);
    yield { errors: [new GraphQLError('Internal server error.', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } })] };
  }
}
