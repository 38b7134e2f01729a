import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType } from 'type-graphql';

import { ImageInput } from '../media.input';

@InputType({ description: "A product to store. Its id is the shop's own: upserting the same id again replaces the product." })
export class ProductInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [ImageInput], {
    description:
      "At least one. The product's search vector is the normalised mean of its images' vectors; an image already stored (same bytes) is not embedded again.",
  })
  images!: ImageInput[];

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'A JSON object to filter on (top-level keys, equality).' })
  attributes?: Record<string, unknown> | null;
}

@InputType({ description: 'One tag a product must have (automatic or manual).' })
export class TagFilter {
  @Field()
  facet!: string;

  @Field()
  label!: string;
}

@InputType({ description: 'Products matching every condition given.' })
export class ProductFilter {
  @Field(() => [ID], { nullable: true })
  ids?: string[] | null;

  @Field(() => [TagFilter], { nullable: true, description: 'Every one must be a tag of the product.' })
  tags?: TagFilter[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Top-level attribute equality: {"brand": "acme"}.' })
  attributes?: Record<string, unknown> | null;
}

@InputType({ description: 'What to search near. Set exactly one field.' })
export class SearchQuery {
  @Field(() => String, { nullable: true, description: 'A text, e.g. "a red sneaker".' })
  text?: string | null;

  @Field(() => ImageInput, { nullable: true })
  image?: ImageInput | null;

  @Field(() => ID, { nullable: true, description: 'Products like this one (itself excluded).' })
  productId?: string | null;
}
