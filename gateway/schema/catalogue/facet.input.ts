import { Field, Float, InputType } from 'type-graphql';

import { FacetAttributesInput } from './attributes.input';
import { FacetMode } from './enums';
import { TaxonomyTreeInput } from './tree.input';

@InputType({ description: 'One facet of the taxonomy: a set of labels products are tagged with.' })
export class FacetInput {
  @Field({ description: 'Unique in the taxonomy, e.g. "colour".' })
  name!: string;

  @Field(() => [String], {
    nullable: true,
    description:
      'SINGLE and MULTI: unique in the facet, e.g. ["red", "green"]. A TREE facet\'s are its taxonomy\'s ids (give tree instead).',
  })
  labels?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Prompt templates with {} for the label, averaged. Default ["a photo of a {}."].' })
  templates?: string[] | null;

  @Field(() => FacetMode, { defaultValue: FacetMode.SINGLE })
  mode!: FacetMode;

  @Field(() => Float, { nullable: true, description: 'MULTI only: the least score a label needs (0 to 1). Default 1 / number of labels.' })
  threshold?: number | null;

  @Field(() => Float, { nullable: true, description: 'Automatic tags scoring under this (0 to 1) are marked for review.' })
  reviewBelow?: number | null;

  @Field(() => TaxonomyTreeInput, { nullable: true, description: "TREE only: the taxonomy whose categories are the facet's labels." })
  tree?: TaxonomyTreeInput | null;

  @Field(() => FacetAttributesInput, {
    nullable: true,
    description: "TREE only, over Shopify's taxonomy: its categories' visual attributes as facets of their own, gated by category.",
  })
  attributes?: FacetAttributesInput | null;
}
