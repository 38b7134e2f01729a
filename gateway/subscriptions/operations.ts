// What a subscription operation goes through before it runs, whichever transport brought it
// (graphql-ws over WebSocket, graphql-sse over Server-Sent Events): neither runs through Apollo's
// plugins, so what those check for HTTP is checked here the same way. The persisted query list,
// then parsing within the token limit, validation with the query limits, subscriptions only (queries
// and mutations go over HTTP, through rate limits and admission), and the key's scope; and
// the bound on the subscriptions one client holds open, over both transports.
import { createHash } from 'node:crypto';

import { getOperationAST, GraphQLError, parse, specifiedRules, validate, type ExecutionArgs, type ValidationRule } from 'graphql';

import { hashKey, type Credentials } from '../common/auth';
import { releaseOnce } from '../common/release';
import { ErrorCode } from '../common/errors';
import type { Gateway } from '../gateway';
import { notInSafelist, queryLimitRules } from '../limits';

/** What a client asks for: the operation's text, its variables and name. */
export interface SubscriptionRequest {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

export const refusal = (code: ErrorCode, message: string): GraphQLError[] => [new GraphQLError(message, { extensions: { code } })];

/**
 * The checks of one gateway, made once: `prepare` turns a request into what graphql-js executes
 * (its context's signal aborting when `signal` does), or the errors that refuse it.
 */
export function subscriptionOperations(gateway: Gateway) {
  const rules: ValidationRule[] = [...specifiedRules, ...queryLimitRules(gateway.config.queryLimits)];
  return {
    prepare(request: SubscriptionRequest, credentials: Credentials, signal: AbortSignal): ExecutionArgs | GraphQLError[] {
      if (gateway.safelist && !gateway.safelist.has(createHash('sha256').update(request.query).digest('hex'))) {
        return refusal(ErrorCode.QUERY_NOT_IN_SAFELIST, notInSafelist(gateway.safelist));
      }
      let document;
      try {
        document = parse(request.query, { maxTokens: gateway.config.queryLimits.maxTokens });
      } catch (error) {
        return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
      }
      const errors = validate(gateway.schema, document, rules);
      if (errors.length > 0) return [...errors];
      // Queries and mutations go over HTTP, through the guard's rate limits and admission.
      const operation = getOperationAST(document, request.operationName)?.operation;
      if (operation !== 'subscription') {
        return refusal(
          ErrorCode.BAD_USER_INPUT,
          `Only subscriptions are served here${operation ? `, and this operation is a ${operation}` : ''}: send queries and mutations over HTTP (POST /graphql).`,
        );
      }
      const decision = gateway.authorize('subscription', credentials);
      if (!decision.ok) return refusal(ErrorCode[decision.code], decision.message);
      return {
        schema: gateway.schema,
        document,
        variableValues: request.variables ?? undefined,
        operationName: request.operationName ?? undefined,
        contextValue: gateway.context(signal, credentials),
      };
    },
  };
}

/** Who holds a subscription, for its bound: its API key (hashed) when it sent one, else its address. */
function clientOf(credentials: Credentials): string {
  return credentials.bearer ? `key:${hashKey(credentials.bearer)}` : `address:${credentials.address ?? 'unknown'}`;
}

/** The subscriptions each client has open, bounded by SUBSCRIPTIONS_MAX_PER_CLIENT over every transport. */
export class SubscriptionBudget {
  private readonly open = new Map<string, number>();

  constructor(readonly maxPerClient: number) {}

  /** A place for one more subscription of this client, released once; or the refusal when it has its most open. */
  take(credentials: Credentials): { ok: true; release(): void } | { ok: false; errors: GraphQLError[] } {
    const client = clientOf(credentials);
    const held = this.open.get(client) ?? 0;
    if (held >= this.maxPerClient) {
      return {
        ok: false,
        errors: refusal(
          ErrorCode.OVERLOADED,
          `This client has ${held} subscriptions open, the most one client may (SUBSCRIPTIONS_MAX_PER_CLIENT): complete one first.`,
        ),
      };
    }
    this.open.set(client, held + 1);
    return {
      ok: true,
      release: releaseOnce(() => {
        const left = (this.open.get(client) ?? 1) - 1;
        if (left > 0) this.open.set(client, left);
        else this.open.delete(client);
      }),
    };
  }
}
