// The gateway as an Apollo Federation 2 subgraph: the same type-graphql classes and resolvers as the
// standalone schema, printed with their directives (Product's @key) and rebuilt by @apollo/subgraph,
// which adds _service and _entities. Only what composition with a shop's graph needs differs:
// two root fields renamed and Product's copies of the shop's own fields left out.
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { graphql, Kind, OperationTypeNode, parse, visit, type DocumentNode, type GraphQLSchema } from 'graphql';
import { createResolversMap } from 'type-graphql';

import { Product } from './catalogue/product.type';
import type { GatewayContext } from '../context';

/** The Federation version the subgraph links, and the directives it uses from it. */
const FEDERATION_LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])';

/**
 * Root fields renamed in the subgraph. A shop's own subgraph nearly always has `product(id:)` and
 * `products`, and two subgraphs may not both define a root field unless both mark it @shareable,
 * which would ask the shop to change its schema. Under these names they compose with any graph;
 * the shop's `product(id:)` reaches this catalogue's fields through the Product entity anyway.
 */
export const SUBGRAPH_RENAMED_QUERIES: Readonly<Record<string, string>> = {
  product: 'catalogueProduct',
  products: 'catalogueProducts',
};

/**
 * Product fields left out of the subgraph: the catalogue's copies of what the shop's own subgraph
 * owns (a shop's Product nearly always has a title, and two subgraphs may not both resolve a
 * field unless both mark it @shareable, which a copy that can lag the original must not claim).
 * The subgraph contributes what CLIP knows of a product: its images, tags and look-alikes.
 */
export const SUBGRAPH_OMITTED_PRODUCT_FIELDS: readonly string[] = ['title', 'description', 'attributes', 'createdAt', 'updatedAt'];

/** @apollo/subgraph's resolver map (its type is not exported); type-graphql's has the same shape, typed more loosely. */
type SubgraphResolvers = NonNullable<Extract<Parameters<typeof buildSubgraphSchema>[0], { typeDefs: unknown }>['resolvers']>;

/** Product references resolved in one store read per operation (the context's product loader). */
async function resolveProductReference(reference: { id: string }, context: GatewayContext): Promise<Product> {
  const row = await context.products.load(reference.id);
  return row ? Product.from(row) : Product.notStored(reference.id);
}

/** The standalone SDL made into the subgraph's: root fields renamed, Product's copied fields left out. */
function subgraphTypeDefs(document: DocumentNode): DocumentNode {
  return visit(document, {
    // No subscriptions: a router subscribes to a subgraph over WebSocket or HTTP callbacks, which
    // /subgraph does not serve; clients subscribe on /graphql.
    SchemaDefinition(node) {
      return { ...node, operationTypes: node.operationTypes.filter((type) => type.operation !== OperationTypeNode.SUBSCRIPTION) };
    },
    ObjectTypeDefinition(node) {
      if (node.name.value === 'Subscription') return null;
      if (node.name.value === 'Query') {
        return {
          ...node,
          fields: node.fields?.map((field) => {
            const renamed = SUBGRAPH_RENAMED_QUERIES[field.name.value];
            return renamed ? { ...field, name: { kind: Kind.NAME, value: renamed } } : field;
          }),
        };
      }
      if (node.name.value === 'Product') {
        return { ...node, fields: node.fields?.filter((field) => !SUBGRAPH_OMITTED_PRODUCT_FIELDS.includes(field.name.value)) };
      }
      return undefined;
    },
  });
}

/** The federated schema of `standalone` (the schema buildGatewaySchema made): its types and resolvers, with entity resolution. */
export function subgraphSchemaOf(standalone: GraphQLSchema): GraphQLSchema {
  const typeDefs = subgraphTypeDefs(parse(`${FEDERATION_LINK}\n\n${printSchemaWithDirectives(standalone)}`));
  const resolvers = createResolversMap(standalone) as SubgraphResolvers;
  const query = resolvers.Query as Record<string, unknown>;
  for (const [from, to] of Object.entries(SUBGRAPH_RENAMED_QUERIES)) {
    query[to] = query[from];
    delete query[from];
  }
  resolvers.Product = { ...resolvers.Product, __resolveReference: resolveProductReference } as SubgraphResolvers[string];
  delete resolvers.Subscription;
  return buildSubgraphSchema({ typeDefs, resolvers });
}

/** The subgraph's SDL as a router composes it: exactly what `_service { sdl }` answers. */
export async function printSubgraph(schema: GraphQLSchema): Promise<string> {
  const result = await graphql({ schema, source: '{ _service { sdl } }' });
  const sdl = (result.data?._service as { sdl?: unknown } | undefined)?.sdl;
  if (typeof sdl !== 'string') throw new Error(`the subgraph did not print its SDL: ${JSON.stringify(result.errors)}`);
  return sdl;
}
