import 'reflect-metadata';

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';

import { CatalogueResolver } from './catalogue/catalogue.resolver';
import { CatalogueMutationResolver } from './catalogue/mutation.resolver';
import { ProductResolver } from './catalogue/product.resolver';
import { ClassifyResolver } from './classify.resolver';
import { EmbedResolver } from './embed.resolver';
import { ModelResolver } from './model.resolver';
import { SimilarityResolver } from './similarity.resolver';

export type { GatewayContext, GatewayServices, RequestLimits, TagLoader } from './context';

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
    ],
    // Arguments are checked by the resolvers (with messages naming the argument), not by class-validator.
    validate: false,
  });
}

/** The committed schema file: what clients code against. A test fails when it drifts from the code. */
export const SCHEMA_FILE = join(__dirname, '..', '..', 'schema', 'schema.graphql');

export async function printGatewaySchema(): Promise<string> {
  return `# Emitted from the type-graphql classes in gateway/schema by \`npm run schema\`; do not edit.\n\n${printSchema(await buildGatewaySchema())}\n`;
}

if (require.main === module) {
  void printGatewaySchema().then((text) => writeFileSync(process.argv[2] ?? SCHEMA_FILE, text));
}
