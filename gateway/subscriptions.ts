// GraphQL subscriptions over WebSocket (graphql-ws, the graphql-transport-ws protocol) on the
// host's /graphql, beside Apollo's HTTP. graphql-ws runs them against the schema directly, not
// through Apollo's plugins, so what those check for HTTP is checked here the same way: the API key
// when the connection opens (the protocol's 4403 Forbidden closes one without a valid key), then
// per operation the persisted query list, the query limits and the key's scope, and at most
// `maxPerConnection` subscriptions open at once on one connection.
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';

import { GraphQLError, parse, specifiedRules, validate, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

import { bearerToken, isLoopbackAddress, type Credentials } from './common/auth';
import { ErrorCode } from './common/errors';
import type { Gateway } from './gateway';
import { notInSafelist, queryLimitRules } from './limits';

export interface SubscriptionServer {
  /** Closes every connection (completing their subscriptions) and stops accepting new ones. */
  close(): Promise<void>;
}

/** What a client sends in ConnectionInit: its key, as the HTTP header would carry it (`Bearer <key>`). */
type ConnectionParams = Record<string, unknown> & { authorization?: unknown };

/** The credentials of a connection: the key of its ConnectionInit, the address of its socket. */
function credentialsOf(params: ConnectionParams | undefined, request: IncomingMessage): Credentials {
  const authorization = typeof params?.authorization === 'string' ? params.authorization : request.headers.authorization;
  return {
    bearer: bearerToken(authorization),
    loopback: isLoopbackAddress(request.socket.remoteAddress),
    address: request.socket.remoteAddress,
  };
}

const refused = (code: ErrorCode, message: string) => [new GraphQLError(message, { extensions: { code } })];

export function serveSubscriptions(httpServer: Server, path: string, gateway: Gateway, maxPerConnection: number): SubscriptionServer {
  const sockets = new WebSocketServer({ server: httpServer, path });
  /** Each acknowledged connection's credentials, and its open subscriptions by id (each aborted when it ends). */
  const connections = new WeakMap<object, { credentials: Credentials; open: Map<string, AbortController> }>();
  const finish = (ctx: object, id: string) => {
    connections.get(ctx)?.open.get(id)?.abort();
    connections.get(ctx)?.open.delete(id);
  };
  const rules = [...specifiedRules, ...queryLimitRules(gateway.config.queryLimits)];

  const server = useServer<ConnectionParams | undefined, { request: IncomingMessage }>(
    {
      schema: gateway.schema,
      onConnect: (ctx) => {
        const presented = credentialsOf(ctx.connectionParams, ctx.extra.request);
        // Without a key a gateway with API_KEYS takes nothing: the connection closes with 4403.
        if (!gateway.authorize('subscription', presented).ok) return false;
        connections.set(ctx, { credentials: presented, open: new Map() });
        return true;
      },
      onSubscribe: (ctx, id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const { credentials, open: subscriptions } = connections.get(ctx)!;
        if (subscriptions.size >= maxPerConnection) {
          return refused(
            ErrorCode.OVERLOADED,
            `This connection has ${subscriptions.size} subscriptions open, the most one connection may (SUBSCRIPTIONS_MAX_PER_CONNECTION): complete one first.`,
          );
        }
        if (gateway.safelist && !gateway.safelist.has(createHash('sha256').update(payload.query).digest('hex'))) {
          return refused(ErrorCode.QUERY_NOT_IN_SAFELIST, notInSafelist(gateway.safelist));
        }
        let document;
        try {
          document = parse(payload.query, { maxTokens: gateway.config.queryLimits.maxTokens });
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        const errors = validate(gateway.schema, document, rules);
        if (errors.length > 0) return errors;
        const decision = gateway.authorize('subscription', credentials);
        if (!decision.ok) return refused(ErrorCode[decision.code], decision.message);
        const abort = new AbortController();
        subscriptions.set(id, abort);
        return {
          schema: gateway.schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: gateway.context(abort.signal, credentials),
        };
      },
      onComplete: finish,
      onError: finish,
      // A client gone: its subscriptions stop following their jobs at once, not when the jobs end.
      onClose: (ctx) => {
        for (const abort of connections.get(ctx)?.open.values() ?? []) abort.abort();
        connections.delete(ctx);
      },
    },
    sockets,
  );

  return {
    async close() {
      await server.dispose();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}
