// GraphQL subscriptions over WebSocket (graphql-ws, the graphql-transport-ws protocol) on the
// host's /graphql, beside Apollo's HTTP: the API key when the connection opens (the protocol's
// 4403 Forbidden closes one without a valid key), then each operation checked as HTTP's are and
// held to its client's bound (operations.ts).
import type { IncomingMessage, Server } from 'node:http';

import type { ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

import { credentialsOf, type Credentials } from '../common/auth';
import type { Gateway } from '../gateway';
import { subscriptionOperations, type SubscriptionBudget } from './operations';

export interface SubscriptionServer {
  /** Closes every connection (completing their subscriptions) and stops accepting new ones. */
  close(): Promise<void>;
}

/** What a client sends in ConnectionInit: its key, as the HTTP header would carry it (`Bearer <key>`). */
type ConnectionParams = Record<string, unknown> & { authorization?: unknown };

/** The credentials of a connection: the key of its ConnectionInit (else of its upgrade request), the address of its socket. */
function connectionCredentials(params: ConnectionParams | undefined, request: IncomingMessage): Credentials {
  return credentialsOf(request, typeof params?.authorization === 'string' ? params.authorization : undefined);
}

/** One open subscription: aborting stops its work, releasing gives its place in the client's bound back. */
interface Open {
  abort: AbortController;
  release(): void;
}

const end = (open: Open | undefined) => {
  open?.abort.abort();
  open?.release();
};

export function serveWebSocketSubscriptions(
  httpServer: Server,
  path: string,
  gateway: Gateway,
  budget: SubscriptionBudget,
): SubscriptionServer {
  const sockets = new WebSocketServer({ server: httpServer, path });
  /** Each acknowledged connection's credentials, and its open subscriptions by id. */
  const connections = new WeakMap<object, { credentials: Credentials; open: Map<string, Open> }>();
  const finish = (ctx: object, id: string) => {
    end(connections.get(ctx)?.open.get(id));
    connections.get(ctx)?.open.delete(id);
  };
  const operations = subscriptionOperations(gateway);

  const server = useServer<ConnectionParams | undefined, { request: IncomingMessage }>(
    {
      schema: gateway.schema,
      onConnect: (ctx) => {
        const presented = connectionCredentials(ctx.connectionParams, ctx.extra.request);
        // Without a key a gateway with API_KEYS takes nothing: the connection closes with 4403.
        if (!gateway.authorize('subscription', presented).ok) return false;
        connections.set(ctx, { credentials: presented, open: new Map() });
        return true;
      },
      onSubscribe: (ctx, id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const { credentials, open } = connections.get(ctx)!;
        const abort = new AbortController();
        const prepared = operations.prepare(payload, credentials, abort.signal);
        if (Array.isArray(prepared)) return prepared;
        const place = budget.take(credentials);
        if (!place.ok) return place.errors;
        open.set(id, { abort, release: place.release });
        return prepared;
      },
      onComplete: finish,
      onError: finish,
      // A client gone: its subscriptions stop following their jobs at once, not when the jobs end.
      onClose: (ctx) => {
        for (const open of connections.get(ctx)?.open.values() ?? []) end(open);
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
