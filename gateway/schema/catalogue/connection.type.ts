import { Directive, Field, ObjectType } from 'type-graphql';

import { Product, Tag } from './product.type';

@ObjectType()
// In the supergraph, a shop's subgraph may have a PageInfo of its own: value types shared by subgraphs must be @shareable in each.
@Directive('@shareable')
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page; null when the page is empty.' })
  endCursor!: string | null;
}

@ObjectType()
export class ProductEdge {
  @Field()
  cursor!: string;

  @Field(() => Product)
  node!: Product;
}

@ObjectType({ description: 'Products by id, a page at a time.' })
export class ProductConnection {
  @Field(() => [ProductEdge])
  edges!: ProductEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType()
export class TagEdge {
  @Field()
  cursor!: string;

  @Field(() => Tag)
  node!: Tag;
}

@ObjectType({ description: 'Tags by (product, facet, label), a page at a time.' })
export class TagConnection {
  @Field(() => [TagEdge])
  edges!: TagEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
