import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';

import { modelKey } from '../../catalogue';
import type { GatewayContext } from '../../context';
import { pageInfo, storeFilter } from './arguments';
import { ProductConnection, ProductEdge, TagConnection, TagEdge } from './connection.type';
import { CatalogueModels, TaggingJob } from './job.type';
import { ProductFilter, SearchQuery } from './product.input';
import { Product, ProductHit, Tag } from './product.type';
import { Taxonomy } from './taxonomy.type';

function hits(list: { product: Parameters<typeof Product.from>[0]; score: number }[]): ProductHit[] {
  return list.map((h) => Object.assign(new ProductHit(), { product: Product.from(h.product), score: h.score }));
}

@Resolver()
export class CatalogueResolver {
  @Query(() => Product, { nullable: true, description: 'One product by id; null when there is none.' })
  async product(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<Product | null> {
    const [row] = await ctx.services.catalogue.getProducts([id]);
    return row ? Product.from(row) : null;
  }

  @Query(() => ProductConnection, { description: 'Products matching the filter, by id, a page at a time.' })
  async products(
    @Arg('filter', () => ProductFilter, { nullable: true }) filter: ProductFilter | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<ProductConnection> {
    const page = await ctx.services.catalogue.listProducts(storeFilter(filter), first, after ?? undefined);
    return Object.assign(new ProductConnection(), {
      edges: page.edges.map((e) => Object.assign(new ProductEdge(), { cursor: e.cursor, node: Product.from(e.node) })),
      pageInfo: pageInfo(page),
    });
  }

  @Query(() => [ProductHit], {
    description:
      'The products nearest a text, an image or another product by cosine similarity, best first, among those matching the filter.',
  })
  async productSearch(
    @Arg('query', () => SearchQuery) query: SearchQuery,
    @Arg('filter', () => ProductFilter, { nullable: true }) filter: ProductFilter | null,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Ctx() ctx: GatewayContext,
  ): Promise<ProductHit[]> {
    return hits(await ctx.services.catalogue.search(query, storeFilter(filter), first, ctx.signal));
  }

  @Query(() => [ProductHit], {
    description:
      "The products with the highest score for one facet's label, best first. A facet or label the taxonomy does not have " +
      'is an error (BAD_USER_INPUT) naming the known ones, not an empty list.',
  })
  async labelTopProducts(
    @Arg('facet') facet: string,
    @Arg('label') label: string,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Ctx() ctx: GatewayContext,
  ): Promise<ProductHit[]> {
    return hits(await ctx.services.catalogue.labelTopProducts(facet, label, first));
  }

  @Query(() => Taxonomy, { nullable: true, description: 'The current taxonomy; null before the first taxonomySet.' })
  async taxonomy(@Ctx() ctx: GatewayContext): Promise<Taxonomy | null> {
    const row = await ctx.services.catalogue.getTaxonomy();
    return row ? Taxonomy.from(row) : null;
  }

  @Query(() => TagConnection, { description: "Automatic tags scoring under their facet's reviewBelow, by (product, facet, label)." })
  async tagsForReview(
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TagConnection> {
    const page = await ctx.services.catalogue.tagsForReview(first, after ?? undefined);
    return Object.assign(new TagConnection(), {
      edges: page.edges.map((e) => Object.assign(new TagEdge(), { cursor: e.cursor, node: Tag.from(e.node) })),
      pageInfo: pageInfo(page),
    });
  }

  @Query(() => CatalogueModels, {
    description: "Which model's vectors the catalogue uses, the one a model change is building, and this gateway's.",
  })
  async catalogueModels(@Ctx() ctx: GatewayContext): Promise<CatalogueModels> {
    const { active, target, gateway } = await ctx.services.catalogue.models();
    return Object.assign(new CatalogueModels(), {
      active: active && modelKey(active),
      target: target && modelKey(target),
      gateway: modelKey(gateway),
    });
  }

  @Query(() => TaggingJob, { nullable: true, description: 'One tagging job by id, with its progress; null when there is none.' })
  async taggingJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<TaggingJob | null> {
    const row = await ctx.services.catalogue.getTaggingJob(id);
    return row ? TaggingJob.from(row) : null;
  }

  @Query(() => [TaggingJob], { description: 'The newest tagging jobs, newest first, with their progress.' })
  async taggingJobs(@Arg('first', () => Int, { defaultValue: 20 }) first: number, @Ctx() ctx: GatewayContext): Promise<TaggingJob[]> {
    return (await ctx.services.catalogue.listTaggingJobs(first)).map((row) => TaggingJob.from(row));
  }
}
