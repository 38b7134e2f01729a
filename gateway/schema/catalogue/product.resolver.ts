import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';

import type { GatewayContext } from '../../context';
import { Product, Tag } from './product.type';

@Resolver(() => Product)
export class ProductResolver {
  @FieldResolver(() => [Tag], { description: 'Automatic and manual tags, loaded for all products of the operation at once.' })
  async tags(@Root() product: Product, @Ctx() ctx: GatewayContext): Promise<Tag[]> {
    return (await ctx.tags.load(product.id)).map(Tag.from);
  }

  @FieldResolver(() => [Product], {
    description:
      "The products that look most like this one (nearest by the catalogue's image vectors, itself excluded), best first; none when the catalogue has no vector for it.",
  })
  async similar(
    @Root() product: Product,
    @Arg('first', () => Int, { defaultValue: 10 }) first: number,
    @Ctx() ctx: GatewayContext,
  ): Promise<Product[]> {
    return (await ctx.services.catalogue.similarProducts(product.id, first)).map((hit) => Product.from(hit.product));
  }
}
