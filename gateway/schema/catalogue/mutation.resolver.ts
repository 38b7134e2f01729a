import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';

import { taxonomyProblems } from '../../catalogue';
import type { GatewayContext } from '../../context';
import { storeFilter } from './arguments';
import { FacetInput } from './facet.input';
import { TaggingJob, TaggingJobPayload, TaxonomySetPayload } from './job.type';
import { ProductsDeletePayload, ProductsUpsertPayload, ProductTagsSetPayload, UserError } from './payload.type';
import { ProductFilter, ProductInput } from './product.input';
import { Product } from './product.type';
import { userErrorOf, userErrorsOf } from './user-errors';

@Resolver()
export class CatalogueMutationResolver {
  @Mutation(() => TaxonomySetPayload, {
    description:
      'Sets the facets as the next taxonomy version through a TAXONOMY job: the job runners embed the label prompts the ' +
      'catalogue does not hold yet (never this request), then set the taxonomy and queue a TAGGING job re-tagging every ' +
      'product from its stored vector (no image is embedded again). Manual tags are kept. A taxonomySet made while another ' +
      "one's job is open cancels that job.",
  })
  async taxonomySet(
    @Arg('facets', () => [FacetInput]) facets: FacetInput[],
    @Arg('wait', () => Boolean, {
      nullable: true,
      defaultValue: true,
      description:
        'Follow the job and its re-tagging until both end, or until the deadline of the request nears: taxonomy is then the ' +
        "version set, or null with the job to follow (a failed job's errors are userErrors). False: answer at once with the job.",
    })
    wait: boolean | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TaxonomySetPayload> {
    const { catalogue } = ctx.services;
    const problems = taxonomyProblems(facets, catalogue.limits);
    if (problems.length > 0) return TaxonomySetPayload.from(undefined, problems.map(UserError.from));
    const { value, userErrors } = await userErrorsOf(ctx, () => catalogue.changeTaxonomy(facets, wait !== false, ctx.signal));
    ctx.tags.clearAll();
    return TaxonomySetPayload.from(value, userErrors);
  }

  @Mutation(() => ProductsUpsertPayload, {
    description:
      'Stores products by id, with their vectors and automatic tags. A product that fails is null, with its userErrors; the others are stored.',
  })
  async productsUpsert(
    @Arg('products', () => [ProductInput]) products: ProductInput[],
    @Ctx() ctx: GatewayContext,
  ): Promise<ProductsUpsertPayload> {
    const { value: results, userErrors } = await userErrorsOf(ctx, () => ctx.services.catalogue.upsertProducts(products, ctx.signal));
    const payload = new ProductsUpsertPayload();
    payload.products = (results ?? products.map(() => ({ ok: false as const }))).map((r) => {
      if (!r.ok) return null;
      ctx.tags.clear(r.product.id);
      return Product.from(r.product);
    });
    payload.userErrors = [...userErrors, ...(results ?? []).flatMap((r) => (r.ok ? [] : [userErrorOf(r.error, ctx)]))];
    return payload;
  }

  @Mutation(() => ProductsDeletePayload, { description: 'Deletes products with their tags and vectors.' })
  async productsDelete(@Arg('ids', () => [ID]) ids: string[], @Ctx() ctx: GatewayContext): Promise<ProductsDeletePayload> {
    const { value, userErrors } = await userErrorsOf(ctx, () => ctx.services.catalogue.deleteProducts(ids));
    for (const id of value ?? []) ctx.tags.clear(id);
    return Object.assign(new ProductsDeletePayload(), { deletedIds: value ?? [], userErrors });
  }

  @Mutation(() => ProductTagsSetPayload, {
    description:
      "Sets the manual tags of one product's facet (an empty list removes them). Manual tags score 1 and are never replaced by automatic tagging.",
  })
  async productTagsSet(
    @Arg('productId', () => ID) productId: string,
    @Arg('facet') facet: string,
    @Arg('labels', () => [String]) labels: string[],
    @Ctx() ctx: GatewayContext,
  ): Promise<ProductTagsSetPayload> {
    const { value, userErrors } = await userErrorsOf(ctx, () => ctx.services.catalogue.setManualTags(productId, facet, labels));
    ctx.tags.clear(productId);
    return Object.assign(new ProductTagsSetPayload(), { product: value ? Product.from(value) : null, userErrors });
  }

  @Mutation(() => TaggingJobPayload, {
    description:
      'Starts a background job re-tagging the products matching the filter from their stored vectors with the current taxonomy ' +
      '(no image is embedded again). The same idempotencyKey with the same filter and reembed returns the job it started first; ' +
      'with another filter or reembed it is a user error naming the job. Poll taggingJob for progress.',
  })
  async taggingJobStart(
    @Arg('filter', () => ProductFilter, { nullable: true }) filter: ProductFilter | null,
    @Arg('reembed', () => Boolean, {
      nullable: true,
      defaultValue: false,
      description:
        'Embed the images again first, fetching URLs again (images replaced at the same URL are picked up). On a gateway whose ' +
        "model is not the catalogue's (see catalogueModels), this is a model change over the whole catalogue: leave filter out.",
    })
    reembed: boolean | null,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TaggingJobPayload> {
    const { value, userErrors } = await userErrorsOf(ctx, () =>
      ctx.services.catalogue.startTaggingJob(storeFilter(filter), reembed === true, idempotencyKey),
    );
    return Object.assign(new TaggingJobPayload(), { job: value ? TaggingJob.from(value) : null, userErrors });
  }

  @Mutation(() => TaggingJobPayload, {
    description:
      'Cancels a queued or running tagging job; products of chunks already done keep their new tags. ' +
      'A job that has already ended (SUCCEEDED, FAILED, CANCELLED) is a user error naming its final status.',
  })
  async taggingJobCancel(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<TaggingJobPayload> {
    const { value, userErrors } = await userErrorsOf(ctx, () => ctx.services.catalogue.cancelTaggingJob(id));
    return Object.assign(new TaggingJobPayload(), { job: value ? TaggingJob.from(value) : null, userErrors });
  }
}
