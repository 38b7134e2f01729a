// A stand-in for a shop's Admin GraphQL API (Shopify cannot run here): a real HTTP server on loopback
// answering POST /admin/api/{version}/graphql.json by executing the request's own query text with
// graphql-js against a subset of the Admin schema, its types and fields named and typed as in
// Shopify's 2025-10 schema. Products are kept in memory so that tests assert the shop's final state.
//
// What it reproduces, from answers captured from real shops (2025-01, for the errors):
// - X-Shopify-Access-Token checked: HTTP 401 `{"errors":"[API] Invalid API key or access token
//   (unrecognized login or wrong password)"}` otherwise;
// - productUpdate / tagsAdd / tagsRemove on an unknown product: userErrors [{ field: ["id"],
//   message: "Product does not exist" }] with product/node null;
// - productUpdate with a category GID the taxonomy lacks: a top-level error "Invalid
//   product_taxonomy_node_id" (extensions.code INVALID_PRODUCT_TAXONOMY_NODE_ID), data.productUpdate null;
// - metafieldsSet with more than 25: userErrors [{ field: ["metafields"], message: "Exceeded the
//   maximum metafields input limit of 25.", code: LESS_THAN_OR_EQUAL_TO }], metafields null, nothing
//   set; an unknown owner: field ["metafields", i, "ownerId"], "Owner does not exist.", INVALID_VALUE;
//   atomic: any error sets nothing;
// - tags as Shopify keeps them: split at commas, trimmed, one per case-insensitive spelling, sorted;
// - the cost-based throttle: a bucket of `maximumAvailable` points refilled at `restoreRate` a second,
//   each answer's extensions.cost, and `Throttled` (THROTTLED) when a request costs more than is left.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { buildSchema, execute, GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';

export const STAND_IN_TOKEN = 'shpat_stand_in_token';

const SCHEMA = `
interface Node { id: ID! }
interface DisplayableError { field: [String!] message: String! }
type UserError implements DisplayableError { field: [String!] message: String! }
enum MetafieldsSetUserErrorCode { CAPABILITY_VIOLATION STALE_OBJECT INVALID_COMPARE_DIGEST INVALID_TYPE INVALID_VALUE
  APP_NOT_AUTHORIZED INCLUSION TAKEN PRESENT BLANK TOO_LONG TOO_SHORT LESS_THAN_OR_EQUAL_TO INVALID INTERNAL_ERROR }
type MetafieldsSetUserError implements DisplayableError { code: MetafieldsSetUserErrorCode elementIndex: Int field: [String!] message: String! }
type TaxonomyCategory implements Node { id: ID! name: String! fullName: String! }
type Metafield implements Node { id: ID! namespace: String! key: String! type: String! value: String! }
type MetafieldConnection { nodes: [Metafield!]! }
type Product implements Node {
  id: ID! handle: String! title: String! tags: [String!]! category: TaxonomyCategory
  metafield(namespace: String, key: String!): Metafield
  metafields(namespace: String, first: Int): MetafieldConnection!
}
input ProductIdentifierInput { id: ID handle: String }
input ProductUpdateInput { id: ID title: String handle: String tags: [String!] category: ID }
input MetafieldsSetInput { ownerId: ID! namespace: String key: String! value: String! compareDigest: String type: String }
input MetafieldIdentifierInput { ownerId: ID! namespace: String! key: String! }
type MetafieldIdentifier { key: String! namespace: String! ownerId: ID! }
type ProductUpdatePayload { product: Product userErrors: [UserError!]! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type TagsRemovePayload { node: Node userErrors: [UserError!]! }
type MetafieldsSetPayload { metafields: [Metafield!] userErrors: [MetafieldsSetUserError!]! }
type MetafieldsDeletePayload { deletedMetafields: [MetafieldIdentifier] userErrors: [UserError!]! }
type Query {
  product(id: ID!): Product
  productByIdentifier(identifier: ProductIdentifierInput!): Product
  productByHandle(handle: String!): Product @deprecated(reason: "Use \`productByIdentifier\` instead.")
}
type Mutation {
  productUpdate(product: ProductUpdateInput): ProductUpdatePayload
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
  metafieldsSet(metafields: [MetafieldsSetInput!]!): MetafieldsSetPayload
  metafieldsDelete(metafields: [MetafieldIdentifierInput!]!): MetafieldsDeletePayload
}`;

export interface ShopMetafield {
  namespace: string;
  key: string;
  type: string;
  value: string;
}

export interface ShopProduct {
  id: string;
  handle: string;
  title: string;
  tags: string[];
  /** The category GID, or null. */
  category: string | null;
  /** By `namespace.key`. */
  metafields: Map<string, ShopMetafield>;
}

export interface StandInOptions {
  /** The token it accepts (default STAND_IN_TOKEN). */
  token?: string;
  /** The API version of its path (default 2025-10). */
  version?: string;
  /** The shop's products: a handle each, the GID made up when not given. */
  products?: { handle: string; id?: string; tags?: string[] }[];
  /** The cost bucket (default Shopify's standard 2000 points, 100 a second). */
  bucket?: { maximumAvailable: number; restoreRate: number };
  /** Answer this many requests first with HTTP 429 and Retry-After: 1 (default 0). */
  tooManyRequests?: number;
}

/** Shopify's tags: comma-split, trimmed, one per case-insensitive spelling, sorted without case. */
export function normalizeTags(tags: string[]): string[] {
  const seen = new Map<string, string>();
  for (const tag of tags.flatMap((t) => t.split(',')).map((t) => t.trim()))
    if (tag !== '' && !seen.has(tag.toLowerCase())) seen.set(tag.toLowerCase(), tag);
  return [...seen.values()].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
}

/** Every category GID of Shopify's 2025-08 taxonomy, with its full name, from the repository's copy. */
function taxonomyCategories(): Map<string, string> {
  const file = join(__dirname, '..', '..', 'taxonomies', 'shopify-2025-08', 'categories.txt');
  const categories = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^(gid:\/\/shopify\/TaxonomyCategory\/\S+)\s*:\s*(.+)$/.exec(line.trim());
    if (match) categories.set(match[1], match[2]);
  }
  return categories;
}

export class ShopifyAdminStandIn {
  readonly products = new Map<string, ShopProduct>();
  /** Every request answered past the token check: its operation's name and variables. */
  readonly requests: { operation: string; variables: Record<string, unknown>; throttled: boolean }[] = [];
  /** Mutations executed (a throttled one is not). */
  mutations = 0;
  /** Requests answered HTTP 429. */
  tooManyAnswered = 0;
  private server?: Server;
  private readonly schema: GraphQLSchema = buildSchema(SCHEMA);
  private readonly categories = taxonomyCategories();
  private readonly token: string;
  private readonly version: string;
  private readonly bucket: { maximumAvailable: number; restoreRate: number; available: number; at: number };
  private tooManyRequests: number;
  private throttleNext = 0;
  private holding?: { after: number; reached: () => void; held: ServerResponse[] };
  private nextId = 8_100_000_000_001;

  constructor(options: StandInOptions = {}) {
    this.token = options.token ?? STAND_IN_TOKEN;
    this.version = options.version ?? '2025-10';
    const bucket = options.bucket ?? { maximumAvailable: 2000, restoreRate: 100 };
    this.bucket = { ...bucket, available: bucket.maximumAvailable, at: Date.now() };
    this.tooManyRequests = options.tooManyRequests ?? 0;
    for (const product of options.products ?? []) this.addProduct(product.handle, product.id, product.tags);
  }

  addProduct(handle: string, id = `gid://shopify/Product/${this.nextId++}`, tags: string[] = []): ShopProduct {
    const product: ShopProduct = { id, handle, title: handle, tags: normalizeTags(tags), category: null, metafields: new Map() };
    this.products.set(id, product);
    return product;
  }

  byHandle(handle: string): ShopProduct | undefined {
    return [...this.products.values()].find((p) => p.handle === handle);
  }

  /** The Admin GraphQL endpoint, once started. */
  get endpoint(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}/admin/api/${this.version}/graphql.json`;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const response of this.holding?.held ?? []) response.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /**
   * From now on, once `mutations` mutations have been executed, every request is held unanswered (as a
   * shop that stopped answering, or a client killed while waiting); resolves when the first is held.
   */
  holdAfter(mutations: number): Promise<void> {
    return new Promise((resolve) => (this.holding = { after: mutations, reached: resolve, held: [] }));
  }

  /** Stops holding requests (those held stay unanswered). */
  release(): void {
    if (this.holding) this.holding.after = Number.POSITIVE_INFINITY;
  }

  /** Answers the next `requests` requests Throttled, as when other apps have drained the shop's bucket. */
  throttle(requests: number): void {
    this.throttleNext = requests;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'POST' || request.url !== `/admin/api/${this.version}/graphql.json`) return answer(404, { errors: 'Not Found' });
    if (request.headers['x-shopify-access-token'] !== this.token)
      return answer(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    if (this.holding && this.mutations >= this.holding.after) {
      this.holding.held.push(response);
      return this.holding.reached();
    }
    if (this.tooManyRequests > 0) {
      this.tooManyRequests--;
      this.tooManyAnswered++;
      return answer(
        429,
        { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' },
        { 'retry-after': '1.0' },
      );
    }
    let body: { query?: string; variables?: Record<string, unknown> };
    let document: DocumentNode;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      document = parse(body.query ?? '');
    } catch (error) {
      return answer(200, { errors: [{ message: (error as Error).message }] });
    }
    const problems = validate(this.schema, document);
    if (problems.length > 0) return answer(200, { errors: problems.map((p) => p.toJSON()) });
    const definition = document.definitions.find((d) => d.kind === 'OperationDefinition');
    const mutation = definition?.kind === 'OperationDefinition' && definition.operation === 'mutation';
    const operation = (definition?.kind === 'OperationDefinition' && definition.name?.value) || 'anonymous';
    const requestedQueryCost = mutation ? 10 : 1;
    const throttleStatus = this.refill();
    if (this.throttleNext > 0) {
      this.throttleNext--;
      throttleStatus.currentlyAvailable = 0;
    }
    if (throttleStatus.currentlyAvailable < requestedQueryCost) {
      this.requests.push({ operation, variables: body.variables ?? {}, throttled: true });
      return answer(200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: { cost: { requestedQueryCost, actualQueryCost: null, throttleStatus } },
      });
    }
    this.bucket.available -= requestedQueryCost;
    this.requests.push({ operation, variables: body.variables ?? {}, throttled: false });
    if (mutation) this.mutations++;
    const result = await execute({ schema: this.schema, document, rootValue: this.root(), variableValues: body.variables ?? {} });
    answer(200, {
      ...(result.errors ? { errors: result.errors.map((e) => e.toJSON()) } : {}),
      data: result.data ?? null,
      extensions: { cost: { requestedQueryCost, actualQueryCost: requestedQueryCost, throttleStatus: this.refill() } },
    });
  }

  private refill() {
    const now = Date.now();
    const { maximumAvailable, restoreRate } = this.bucket;
    this.bucket.available = Math.min(maximumAvailable, this.bucket.available + ((now - this.bucket.at) / 1000) * restoreRate);
    this.bucket.at = now;
    return { maximumAvailable, currentlyAvailable: Math.floor(this.bucket.available), restoreRate };
  }

  /** A product as the schema's Product type resolves it. */
  private view(product: ShopProduct | undefined) {
    if (!product) return null;
    const metafield = (m: ShopMetafield) => ({ id: `gid://shopify/Metafield/${m.namespace}.${m.key}`, ...m });
    return {
      __typename: 'Product',
      id: product.id,
      handle: product.handle,
      title: product.title,
      tags: product.tags,
      category: product.category
        ? {
            id: product.category,
            name: this.categories.get(product.category)!.split(' > ').at(-1),
            fullName: this.categories.get(product.category),
          }
        : null,
      metafield: ({ namespace, key }: { namespace?: string; key: string }) => {
        const found = product.metafields.get(`${namespace ?? ''}.${key}`);
        return found ? metafield(found) : null;
      },
      metafields: ({ namespace }: { namespace?: string }) => ({
        nodes: [...product.metafields.values()].filter((m) => namespace === undefined || m.namespace === namespace).map(metafield),
      }),
    };
  }

  private root() {
    const missing = { field: ['id'], message: 'Product does not exist' };
    return {
      product: ({ id }: { id: string }) => this.view(this.products.get(id)),
      productByIdentifier: ({ identifier }: { identifier: { id?: string; handle?: string } }) =>
        this.view(identifier.id !== undefined ? this.products.get(identifier.id) : this.byHandle(identifier.handle ?? '')),
      productByHandle: ({ handle }: { handle: string }) => this.view(this.byHandle(handle)),
      productUpdate: ({
        product: input,
      }: {
        product?: { id?: string; title?: string; handle?: string; tags?: string[]; category?: string | null };
      }) => {
        const product = input?.id !== undefined ? this.products.get(input.id) : undefined;
        if (!input || !product) return { product: null, userErrors: [missing] };
        if (input.category !== undefined && input.category !== null && !this.categories.has(input.category))
          throw new GraphQLError('Invalid product_taxonomy_node_id', { extensions: { code: 'INVALID_PRODUCT_TAXONOMY_NODE_ID' } });
        if (input.category !== undefined) product.category = input.category;
        if (input.tags !== undefined) product.tags = normalizeTags(input.tags);
        if (input.title !== undefined) product.title = input.title;
        if (input.handle !== undefined) product.handle = input.handle;
        return { product: this.view(product), userErrors: [] };
      },
      tagsAdd: ({ id, tags }: { id: string; tags: string[] }) => {
        const product = this.products.get(id);
        if (!product) return { node: null, userErrors: [missing] };
        product.tags = normalizeTags([...product.tags, ...tags]);
        return { node: this.view(product), userErrors: [] };
      },
      tagsRemove: ({ id, tags }: { id: string; tags: string[] }) => {
        const product = this.products.get(id);
        if (!product) return { node: null, userErrors: [missing] };
        const gone = new Set(normalizeTags(tags).map((t) => t.toLowerCase()));
        product.tags = product.tags.filter((t) => !gone.has(t.toLowerCase()));
        return { node: this.view(product), userErrors: [] };
      },
      metafieldsSet: ({ metafields }: { metafields: (ShopMetafield & { ownerId: string; type?: string })[] }) => {
        if (metafields.length > 25)
          return {
            metafields: null,
            userErrors: [
              {
                field: ['metafields'],
                message: 'Exceeded the maximum metafields input limit of 25.',
                code: 'LESS_THAN_OR_EQUAL_TO',
                elementIndex: null,
              },
            ],
          };
        const userErrors = metafields.flatMap((m, i): { field: string[]; message: string; code: string; elementIndex: null }[] => {
          if (!this.products.has(m.ownerId))
            return [
              { field: ['metafields', String(i), 'ownerId'], message: 'Owner does not exist.', code: 'INVALID_VALUE', elementIndex: null },
            ];
          if (m.type === 'list.single_line_text_field' && !isStringList(m.value))
            // The stand-in's own wording: no capture of this error from a real shop was at hand.
            return [
              {
                field: ['metafields', String(i), 'value'],
                message: 'Value must be a JSON list of strings.',
                code: 'INVALID_VALUE',
                elementIndex: null,
              },
            ];
          return [];
        });
        if (userErrors.length > 0) return { metafields: [], userErrors };
        const set = metafields.map((m) => {
          const stored = { namespace: m.namespace ?? 'app', key: m.key, type: m.type ?? 'single_line_text_field', value: m.value };
          this.products.get(m.ownerId)!.metafields.set(`${stored.namespace}.${stored.key}`, stored);
          return { id: `gid://shopify/Metafield/${stored.namespace}.${stored.key}`, ...stored };
        });
        return { metafields: set, userErrors: [] };
      },
      metafieldsDelete: ({ metafields }: { metafields: { ownerId: string; namespace: string; key: string }[] }) => ({
        deletedMetafields: metafields.map((m) => (this.products.get(m.ownerId)?.metafields.delete(`${m.namespace}.${m.key}`) ? m : null)),
        userErrors: [],
      }),
    };
  }
}

function isStringList(value: string): boolean {
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string');
  } catch {
    return false;
  }
}

/** A stand-in started on an ephemeral loopback port. */
export async function startShopifyAdmin(options: StandInOptions = {}): Promise<ShopifyAdminStandIn> {
  return new ShopifyAdminStandIn(options).start();
}
