import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';

import { check, positiveInt } from '../../functions/options';
import { ErrorCode, GatewayError } from '../common/errors';

/** Limits on an operation's shape, checked before it runs (and before any inference). */
export interface QueryLimits {
  /** Deepest nesting of fields; fragments count by their fields, introspection not at all (env QUERY_MAX_DEPTH). */
  maxDepth: number;
  /** Most aliased fields (env QUERY_MAX_ALIASES). */
  maxAliases: number;
  /** Most directives (env QUERY_MAX_DIRECTIVES). */
  maxDirectives: number;
  /** Most lexical tokens in the document, checked while parsing (env QUERY_MAX_TOKENS). */
  maxTokens: number;
  /** Highest cost (see demand.ts: fields, pages by `first`, inference inputs by weight) (env QUERY_MAX_COST). */
  maxCost: number;
}

/**
 * The console's and explorer's deepest queries are 5 levels; a product's `similar` under
 * `products` under a connection is 6; 10 leaves room without allowing recursion through
 * `similar` to go far. 15 aliases is enough for a facet's top products side by side (the console
 * asks one alias per label of a facet, and the catalogue's facets are small). Tokens: GraphiQL's
 * and Sandbox's introspection queries are about 500. Cost: the largest single classify the
 * request limits allow (256 images, 1000 labels, 32 templates) costs about 35,000; 50,000
 * admits it and refuses, say, twenty aliased embeds of 256 images each.
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 20,
  maxTokens: 4000,
  maxCost: 50_000,
};

export function checkQueryLimits(limits: QueryLimits): void {
  for (const name of ['maxDepth', 'maxAliases', 'maxDirectives', 'maxTokens', 'maxCost'] as const) check(name, limits[name], positiveInt);
}

/** The refusal a client sees: the limit in words and the variable that sets it. */
function tooComplex(what: string, variable: string): GatewayError {
  return new GatewayError(
    ErrorCode.QUERY_TOO_COMPLEX,
    `The operation is over this gateway's query limits: ${what} (${variable}). Split it into smaller operations.`,
  );
}

/** graphql-armor reports as "Syntax Error: Query depth limit of 10 exceeded, found 12."; this keeps the facts. */
function reporter(variable: string) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    const what = error.message.replace(/^Syntax Error:\s*/, '').replace(/\.$/, '');
    context?.reportError(tooComplex(what.charAt(0).toLowerCase() + what.slice(1), variable));
  };
}

/** Validation rules for depth, aliases and directives (graphql-armor), each refusal a QUERY_TOO_COMPLEX error. */
export function queryLimitRules(limits: QueryLimits): ValidationRule[] {
  checkQueryLimits(limits);
  const common = { exposeLimits: true, propagateOnRejection: false } as const;
  return [
    maxDepthRule({ ...common, n: limits.maxDepth, flattenFragments: true, onReject: [reporter('QUERY_MAX_DEPTH')] }),
    maxAliasesRule({ ...common, n: limits.maxAliases, onReject: [reporter('QUERY_MAX_ALIASES')] }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives, onReject: [reporter('QUERY_MAX_DIRECTIVES')] }),
  ];
}

export function costTooHigh(cost: number, limits: QueryLimits): GatewayError {
  return tooComplex(
    `its cost is ${cost}, over the limit of ${limits.maxCost}; lists count by their length, images ten times a text`,
    'QUERY_MAX_COST',
  );
}

/**
 * graphql-js refuses a document over `maxTokens` while parsing (Apollo's parseOptions), in its
 * own words ("Document contains more that N tokens"); this makes that error a QUERY_TOO_COMPLEX
 * like the other limits. Undefined for any other error.
 */
export function tokenLimitError(error: unknown, limits: QueryLimits): GatewayError | undefined {
  if (!(error instanceof GraphQLError) || !/Document contains more th(?:an|at) \d+ tokens/.test(error.message)) return undefined;
  return tooComplex(`it has more than ${limits.maxTokens} tokens`, 'QUERY_MAX_TOKENS');
}
