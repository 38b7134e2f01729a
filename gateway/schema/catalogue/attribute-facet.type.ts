import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'The categories whose products a gated facet (an attribute facet) tags.' })
export class FacetGate {
  @Field({ description: 'The TREE facet whose categories they are.' })
  facet!: string;

  @Field(() => [String], { description: "The categories' ids (labels of that facet) that have the attribute." })
  categories!: string[];
}

@ObjectType({ description: 'The Shopify attribute an attribute facet scores.' })
export class FacetAttribute {
  @Field({ description: '`gid://shopify/TaxonomyAttribute/1`.' })
  id!: string;

  @Field({ description: '`color`.' })
  handle!: string;

  @Field({ description: '`Color`.' })
  name!: string;
}
