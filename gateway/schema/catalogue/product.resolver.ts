import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';

import type { GatewayContext } from '../context';
import { Product, Tag } from './product.type';

@Resolver(() => Product)
export class ProductResolver {
  @FieldResolver(() => [Tag], { description: 'Automatic and manual tags, loaded for all products of the operation at once.' })
  async tags(@Root() product: Product, @Ctx() ctx: GatewayContext): Promise<Tag[]> {
    return (await ctx.tags.load(product.id)).map(Tag.from);
  }
}
