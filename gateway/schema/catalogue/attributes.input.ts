import { Field, Float, InputType } from 'type-graphql';

@InputType({
  description:
    "A TREE facet over Shopify's taxonomy: its categories' visual attributes (colour, pattern, material, neckline, sleeve length, ...; never size or age) as facets of their own, each named by the attribute's handle (`color`), labelled with its values' ids (`gid://shopify/TaxonomyValue/1`), and scored only for products whose category has it, once their category is known.",
})
export class FacetAttributesInput {
  @Field(() => [String], {
    nullable: true,
    description:
      'The attributes wanted, by handle (`color`, `pattern`, `fabric`, `neckline`, ...). Default: every visual attribute some category of the tree has.',
  })
  only?: string[] | null;

  @Field(() => Float, { nullable: true, description: 'Automatic attribute tags scoring under this (0 to 1) are marked for review.' })
  reviewBelow?: number | null;
}
