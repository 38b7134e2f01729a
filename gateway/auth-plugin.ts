import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';

import type { ApiKeys, OperationType } from './common/auth';
import { ErrorCode, GatewayError } from './common/errors';
import type { GatewayContext } from './schema';

/**
 * Enforces API keys once the operation is known and before anything runs: the operation's type
 * (query or mutation) against the credentials the host put in the context. A refusal answers the
 * whole request, with HTTP 401 (and `WWW-Authenticate: Bearer`) or 403.
 */
export function authPlugin(keys: ApiKeys): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          // Apollo resolves the operation before this hook; were it missing, the strictest rule applies.
          const decision = keys.authorize((operation?.operation ?? 'mutation') as OperationType, contextValue.credentials);
          if (decision.ok) return;
          const headers = new HeaderMap();
          if (decision.status === 401) headers.set('www-authenticate', 'Bearer realm="clip-gateway"');
          throw new GatewayError(ErrorCode[decision.code], decision.message, {
            extensions: { http: { status: decision.status, headers } },
          });
        },
      };
    },
  };
}
