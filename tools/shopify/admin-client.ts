// The adapter to a shop's Admin GraphQL API: one POST per operation to
// https://{shop}.myshopify.com/admin/api/{version}/graphql.json with the X-Shopify-Access-Token header.
//
// Shopify limits GraphQL by cost (shopify.dev/docs/api/usage/rate-limits): every answer carries
// extensions.cost { requestedQueryCost, actualQueryCost, throttleStatus { maximumAvailable,
// currentlyAvailable, restoreRate } }, a leaky bucket refilled at restoreRate points a second. A
// request costing more than is available is answered `{"errors":[{"message":"Throttled","extensions":
// {"code":"THROTTLED"}}]}` (HTTP 200), and some answers are HTTP 429 with Retry-After. The client
// waits for the bucket before sending when the last answer says it is short, and waits and sends
// again when throttled anyway. A mutation's own problems come in its payload's userErrors; a few come
// as top-level errors with data null (an unknown category: INVALID_PRODUCT_TAXONOMY_NODE_ID).
import type { AdminOperation } from './operations';

export interface AdminClientOptions {
  /** The Admin API endpoint (adminEndpoint(), or SHOPIFY_ADMIN_URL's). */
  endpoint: string;
  /** Sent as X-Shopify-Access-Token. */
  token: string;
  /** Most times one request is sent again after a throttle, a 429, a 5xx or a network error (default 8). */
  maxRetries?: number;
  /** Longest one wait, in ms, whatever the shop asks (default 60 000). */
  maxWaitMs?: number;
  /** Waits `ms`; tests and callers may replace it (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

/** The shop refused the token (HTTP 401/403) or the token lacks an access scope: nothing sent again can help. */
export class AdminRefused extends Error {
  override readonly name = 'AdminRefused';
}

/** The shop could not be reached or kept failing after every retry: the run stops where it is, to go on later. */
export class AdminUnavailable extends Error {
  override readonly name = 'AdminUnavailable';
}

/** The shop as SHOPIFY_SHOP names it, `my-shop` or `my-shop.myshopify.com`, as its myshopify.com host. */
export function shopHost(shop: string): string {
  const name = shop
    .trim()
    .toLowerCase()
    .replace(/\.myshopify\.com$/, '');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new TypeError(`SHOPIFY_SHOP must be a shop's name, my-shop or my-shop.myshopify.com, got ${JSON.stringify(shop)}`);
  return `${name}.myshopify.com`;
}

/** The Admin GraphQL endpoint of a shop for an API version. */
export function adminEndpoint(shop: string, version: string): string {
  return `https://${shopHost(shop)}/admin/api/${version}/graphql.json`;
}

interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[] | string;
  extensions?: { cost?: { requestedQueryCost?: number; throttleStatus?: ThrottleStatus } };
}

export type OperationOutcome = { ok: true } | { ok: false; message: string };

const PRODUCT_BY_HANDLE = `query ProductByHandle($handle: String!) {
  productByIdentifier(identifier: { handle: $handle }) { id }
}`;

/** The shop's GID kept in a product's attributes by an import (`attributes.shopifyProductId`), if it holds one. */
export function knownProductGid(attributes: Record<string, unknown> | null | undefined): string | undefined {
  const known = attributes?.shopifyProductId;
  return typeof known === 'string' && /^gid:\/\/shopify\/Product\/[0-9]+$/.test(known) ? known : undefined;
}

export class AdminClient {
  /** Requests answered (retries included) and how many of them were throttled or 429. */
  readonly counts = { requests: 0, throttled: 0 };
  private readonly maxRetries: number;
  private readonly maxWaitMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly gids = new Map<string, string | undefined>();
  /** The bucket as the last answer left it, and the cost of the last request. */
  private bucket?: ThrottleStatus & { at: number; lastCost: number };

  constructor(private readonly options: AdminClientOptions) {
    this.maxRetries = options.maxRetries ?? 8;
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Sends one operation: ok, or why the shop refused it (userErrors, or a top-level error of its own). */
  async apply(operation: AdminOperation): Promise<OperationOutcome> {
    const answer = await this.send(operation.query, operation.variables);
    return outcomeOf(operation.name, answer);
  }

  /**
   * The shop's GID of our product: `attributes.shopifyProductId` when it holds one, else the
   * product whose handle is our id (imported products keep Shopify's handle as their id), looked up
   * once; undefined when the shop has none.
   */
  async productGid(productId: string, attributes: Record<string, unknown> | null | undefined): Promise<string | undefined> {
    const known = knownProductGid(attributes);
    if (known) return known;
    if (this.gids.has(productId)) return this.gids.get(productId);
    const answer = await this.send(PRODUCT_BY_HANDLE, { handle: productId });
    if (answer.errors) throw new AdminUnavailable(`looking up the product with handle ${JSON.stringify(productId)}: ${messagesOf(answer)}`);
    const found = (answer.data?.productByIdentifier as { id?: string } | null | undefined)?.id;
    this.gids.set(productId, found);
    return found;
  }

  /** One request, sent again while the shop throttles it or fails, waiting as its cost and Retry-After say. */
  async send(query: string, variables: Record<string, unknown>): Promise<GraphQLAnswer> {
    for (let attempt = 0; ; attempt++) {
      await this.waitForBucket();
      let response: Response;
      try {
        response = await fetch(this.options.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-shopify-access-token': this.options.token },
          body: JSON.stringify({ query, variables }),
        });
      } catch (error) {
        if (attempt >= this.maxRetries)
          throw new AdminUnavailable(`${this.options.endpoint} cannot be reached: ${(error as Error).message}`);
        await this.sleep(this.backoff(attempt));
        continue;
      }
      this.counts.requests++;
      const answer = (await response.json().catch(() => undefined)) as GraphQLAnswer | undefined;
      if (answer?.extensions?.cost?.throttleStatus)
        this.bucket = {
          ...answer.extensions.cost.throttleStatus,
          at: Date.now(),
          lastCost: answer.extensions.cost.requestedQueryCost ?? 0,
        };
      if (response.status === 401 || response.status === 403)
        throw new AdminRefused(
          `the shop refused SHOPIFY_ADMIN_TOKEN at ${this.options.endpoint} (HTTP ${response.status}${answer ? `: ${messagesOf(answer)}` : ''})`,
        );
      if (response.status === 404)
        throw new AdminRefused(`no Admin API at ${this.options.endpoint} (HTTP 404): check SHOPIFY_SHOP and SHOPIFY_API_VERSION`);
      const throttled = response.status === 429 || codesOf(answer).includes('THROTTLED');
      if (throttled || response.status >= 500 || !answer) {
        if (throttled) this.counts.throttled++;
        if (attempt >= this.maxRetries)
          throw new AdminUnavailable(
            `${this.options.endpoint} still answers ${throttled ? 'throttled' : `HTTP ${response.status}`} after ${attempt + 1} attempts`,
          );
        await this.sleep(this.waitAfter(response, answer, attempt));
        continue;
      }
      if (codesOf(answer).includes('ACCESS_DENIED')) throw new AdminRefused(`the token may not do this: ${messagesOf(answer)}`);
      return answer;
    }
  }

  /** Before sending: the time the bucket needs to hold the last request's cost again, if the last answer left it short. */
  private async waitForBucket(): Promise<void> {
    if (!this.bucket || this.bucket.restoreRate <= 0) return;
    const { currentlyAvailable, maximumAvailable, restoreRate, at, lastCost } = this.bucket;
    const now = Math.min(maximumAvailable, currentlyAvailable + ((Date.now() - at) / 1000) * restoreRate);
    if (now >= lastCost) return;
    await this.sleep(Math.min(this.maxWaitMs, Math.ceil(((lastCost - now) / restoreRate) * 1000)));
  }

  /** After a throttle or failure: Retry-After when given, else what the bucket needs, else exponential backoff. */
  private waitAfter(response: Response, answer: GraphQLAnswer | undefined, attempt: number): number {
    const retryAfter = Number(response.headers.get('retry-after'));
    if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(this.maxWaitMs, retryAfter * 1000);
    const cost = answer?.extensions?.cost;
    const status = cost?.throttleStatus;
    if (status && status.restoreRate > 0 && cost?.requestedQueryCost !== undefined) {
      const short = Math.max(0, cost.requestedQueryCost - status.currentlyAvailable);
      return Math.min(this.maxWaitMs, Math.max(50, Math.ceil((short / status.restoreRate) * 1000)));
    }
    return this.backoff(attempt);
  }

  private backoff(attempt: number): number {
    return Math.min(this.maxWaitMs, 500 * 2 ** attempt);
  }
}

function codesOf(answer: GraphQLAnswer | undefined): string[] {
  if (!answer || !Array.isArray(answer.errors)) return [];
  return answer.errors.map((e) => e.extensions?.code ?? '').filter((code) => code !== '');
}

/** Shopify's top-level errors are a list, or a single string for HTTP-level refusals ("[API] Invalid API key ..."). */
function messagesOf(answer: GraphQLAnswer): string {
  if (typeof answer.errors === 'string') return answer.errors;
  return (answer.errors ?? []).map((e) => `${e.message}${e.extensions?.code ? ` (${e.extensions.code})` : ''}`).join('; ');
}

function outcomeOf(name: string, answer: GraphQLAnswer): OperationOutcome {
  if (answer.errors) return { ok: false, message: `${name}: ${messagesOf(answer)}` };
  const payload = answer.data?.[name] as { userErrors?: { field?: string[] | null; message: string }[] } | null | undefined;
  if (!payload) return { ok: false, message: `${name}: the shop answered no payload` };
  const errors = payload.userErrors ?? [];
  if (errors.length === 0) return { ok: true };
  return {
    ok: false,
    message: `${name}: ${errors.map((e) => `${e.field?.length ? `${e.field.join('.')}: ` : ''}${e.message}`).join('; ')}`,
  };
}
