import GraphQLUpload from 'graphql-upload/GraphQLUpload.js';
import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';

import type { GatewayContext } from '../../context';
import { streamUpload, type UploadedFile } from '../../intake';
import { ImportFormat } from './enums';
import { TaggingJob, TaggingJobPayload } from './job.type';
import { requireAdmin, userErrorsOf } from './user-errors';

@Resolver()
export class ProductsImportResolver {
  @Mutation(() => TaggingJobPayload, {
    description:
      "Imports a product file (a shop's export: Shopify's product CSV, a Merchant Center feed) in the background: the file is " +
      'read in this request, which answers with an IMPORT job; the job runners upsert its products a chunk at a time as ' +
      'productsUpsert does (images fetched and embedded, tags set), and any gateway takes over the chunks of one that stops. ' +
      "An image the gateway cannot decode (GIF, BMP, TIFF) is left out and reported in the job's errors with its line; the " +
      'rest of its product is imported. A file that is not of its format is a user error naming file. The same idempotencyKey ' +
      'with the same file name and format returns the job it started first. Needs an admin key; the file is sent as a GraphQL ' +
      'multipart request, up to CATALOGUE_MAX_IMPORT_BYTES.',
  })
  async productsImport(
    // type-graphql awaits an argument's promise: the Upload scalar's value arrives as the file itself.
    @Arg('file', () => GraphQLUpload, { description: 'The file, as a part of the multipart request.' }) file: UploadedFile,
    @Arg('format', () => ImportFormat) format: ImportFormat,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TaggingJobPayload> {
    requireAdmin(ctx);
    const { catalogue } = ctx.services;
    const limit = { maxBytes: catalogue.limits.maxImportBytes, variable: 'CATALOGUE_MAX_IMPORT_BYTES' };
    const open = async () => {
      const { filename, stream } = await streamUpload(file, limit, ctx.signal);
      return { name: filename, stream };
    };
    const { value, userErrors } = await userErrorsOf(ctx, () => catalogue.startImportJob(open, format, idempotencyKey));
    return Object.assign(new TaggingJobPayload(), { job: value ? TaggingJob.from(value) : null, userErrors });
  }
}
