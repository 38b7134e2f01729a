import 'reflect-metadata';

import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';

import { CatalogueResolver } from './catalogue/catalogue.resolver';
import { JobSubscriptionResolver } from './catalogue/job-subscription.resolver';
import { ProductsImportResolver } from './catalogue/import.resolver';
import { CatalogueMutationResolver } from './catalogue/mutation.resolver';
import { ProductResolver } from './catalogue/product.resolver';
import { TagChangesResolver } from './catalogue/tag-changes.resolver';
import { WebhooksResolver } from './catalogue/webhooks.resolver';
import { ClassifyResolver } from './classify.resolver';
import { EmbedResolver } from './embed.resolver';
import { ModelResolver } from './model.resolver';
import { SimilarityResolver } from './similarity.resolver';
import { printSubgraph, subgraphSchemaOf } from './subgraph';

// The context is a layer below (gateway/context.ts); RequestLimits is re-exported for config.ts, which reads it from here.
export type { RequestLimits } from '../context';
export { SUBGRAPH_OMITTED_PRODUCT_FIELDS, SUBGRAPH_RENAMED_QUERIES, subgraphSchemaOf } from './subgraph';

const NO_PUB_SUB: PubSub = {
  publish: () => {
    throw new Error('The gateway publishes no topics: its subscriptions follow the store.');
  },
  subscribe: () => {
    throw new Error('The gateway publishes no topics: its subscriptions follow the store.');
  },
};

export function buildGatewaySchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      EmbedResolver,
      ClassifyResolver,
      SimilarityResolver,
      ModelResolver,
      CatalogueResolver,
      ProductResolver,
      CatalogueMutationResolver,
      ProductsImportResolver,
      JobSubscriptionResolver,
      TagChangesResolver,
      WebhooksResolver,
    ],
    // Arguments are checked by the resolvers (with messages naming the argument), not by class-validator.
    validate: false,
    // Every subscription has its own subscribe function (the store is where progress is seen, whichever
    // gateway makes it); type-graphql asks for a publish/subscribe system all the same.
    pubSub: NO_PUB_SUB,
  });
}

/**
 * The same schema as an Apollo Federation 2 subgraph (FEDERATION=true serves it at /subgraph):
 * Product an entity keyed by id, `_service` and `_entities` added, `product` and `products`
 * renamed (SUBGRAPH_RENAMED_QUERIES) and Product's copies of the shop's own fields left out
 * (SUBGRAPH_OMITTED_PRODUCT_FIELDS), so that it composes beside a shop's own subgraph.
 */
export async function buildGatewaySubgraphSchema(): Promise<GraphQLSchema> {
  return subgraphSchemaOf(await buildGatewaySchema());
}

const SCHEMA_DIR = join(__dirname, '..', '..', 'schema');
/** The committed schema files: what clients and routers code against. A test fails when either drifts from the code. */
export const SCHEMA_FILE = join(SCHEMA_DIR, 'schema.graphql');
export const SUBGRAPH_SCHEMA_FILE = join(SCHEMA_DIR, 'subgraph.graphql');

const EMITTED = '# Emitted from the type-graphql classes in gateway/schema by `npm run schema`; do not edit.';

export async function printGatewaySchema(): Promise<string> {
  return `${EMITTED}\n\n${printSchema(await buildGatewaySchema())}\n`;
}

/** The subgraph's SDL as a router composes it: what `_service { sdl }` answers, directives included. */
export async function printGatewaySubgraphSchema(): Promise<string> {
  return `${EMITTED}\n# The Apollo Federation 2 subgraph (FEDERATION=true, served at /subgraph).\n\n${(await printSubgraph(await buildGatewaySubgraphSchema())).trim()}\n`;
}

// `node dist/gateway/schema/index.js schema` (npm run schema): both files into the folder named,
// which from dist/ is not the SCHEMA_DIR this file computes.
if (require.main === module) {
  const dir = process.argv[2] ?? SCHEMA_DIR;
  void (async () => {
    writeFileSync(join(dir, basename(SCHEMA_FILE)), await printGatewaySchema());
    writeFileSync(join(dir, basename(SUBGRAPH_SCHEMA_FILE)), await printGatewaySubgraphSchema());
  })();
}
