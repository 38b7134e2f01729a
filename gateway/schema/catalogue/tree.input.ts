import { Field, InputType, Int } from 'type-graphql';

import { TAXONOMY_FORMATS, type TaxonomyFormat } from '../../catalogue';
import { graphqlEnum } from '../enum';

export const TaxonomyFormatEnum = graphqlEnum('TaxonomyFormat', Object.keys(TAXONOMY_FORMATS) as TaxonomyFormat[], {
  description: 'The published formats a taxonomy file comes in.',
  valuesConfig: {
    SHOPIFY: { description: "Shopify's categories.txt: `gid://shopify/TaxonomyCategory/aa-1-13-8 : A > B > C > D`, one a line." },
    GOOGLE: { description: "Google's taxonomy-with-ids: `212 - A > B > C`, one a line." },
  },
});

@InputType({
  description:
    "A TREE facet's taxonomy: a bundled one by name, or a taxonomy file's text; whole, or a part of it (root, depth). Its categories' ids are the facet's labels.",
})
export class TaxonomyTreeInput {
  @Field(() => String, { nullable: true, description: 'A taxonomy the gateway ships: `shopify-2025-08` or `google-2021-09-21`.' })
  bundled?: string | null;

  @Field(() => String, { nullable: true, description: "A taxonomy file's whole text, in `format`." })
  text?: string | null;

  @Field(() => TaxonomyFormatEnum, { nullable: true, description: 'With text: the format it is in.' })
  format?: TaxonomyFormat | null;

  @Field(() => String, {
    nullable: true,
    description: 'Keep the subtree of this category only: its id (Shopify: the GID or its short form, `aa-1`; Google: the number).',
  })
  root?: string | null;

  @Field(() => Int, { nullable: true, description: 'Keep this many levels from the top (1: the top only).' })
  depth?: number | null;

  @Field(() => Int, { nullable: true, description: 'Candidates kept at each level while tagging. Default 5.' })
  beamWidth?: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'How a category is named with its parent in its prompts, with {name} and {parent}. Default "{name}, a kind of {parent}"; null for names alone.',
  })
  contextTemplate?: string | null;
}
