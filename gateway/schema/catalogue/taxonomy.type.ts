import { Field, Float, Int, ObjectType } from 'type-graphql';

import type { TaxonomyRow } from '../../catalogue';
import { FacetAttribute, FacetGate } from './attribute-facet.type';
import { FacetMode } from './enums';

@ObjectType({ description: "A TREE facet's taxonomy: where it came from and how it tags." })
export class FacetTree {
  @Field({ description: "A bundled taxonomy's name (`shopify-2025-08`), or `text` for one given inline." })
  source!: string;

  @Field({ description: '`shopify` or `google`.' })
  format!: string;

  @Field(() => String, { nullable: true, description: 'The id of the subtree taken; null for the whole taxonomy.' })
  root!: string | null;

  @Field(() => Int, { nullable: true, description: 'Levels kept; null for all.' })
  depth!: number | null;

  @Field(() => Int, { description: "Its categories (the facet's labels are their ids)." })
  categories!: number;

  @Field(() => Int)
  beamWidth!: number;

  @Field(() => String, { nullable: true })
  contextTemplate!: string | null;
}

@ObjectType()
export class Facet {
  @Field()
  name!: string;

  @Field(() => [String])
  labels!: string[];

  @Field(() => [String])
  templates!: string[];

  @Field(() => FacetMode)
  mode!: FacetMode;

  @Field(() => Float, { nullable: true })
  threshold!: number | null;

  @Field(() => Float, { nullable: true })
  reviewBelow!: number | null;

  @Field(() => FacetTree, { nullable: true, description: 'TREE facets: their taxonomy.' })
  tree!: FacetTree | null;

  @Field(() => [String], {
    nullable: true,
    description: "Each label's name, in label order, where the labels are ids (an attribute facet's values).",
  })
  labelNames!: string[] | null;

  @Field(() => FacetGate, {
    nullable: true,
    description: 'A facet gated by category (an attribute facet): the categories whose products it tags.',
  })
  under!: FacetGate | null;

  @Field(() => FacetAttribute, { nullable: true, description: "An attribute facet: Shopify's attribute it scores." })
  attribute!: FacetAttribute | null;
}

@ObjectType({ description: 'The facets products are tagged with. Each taxonomySet makes the next version.' })
export class Taxonomy {
  @Field(() => Int)
  version!: number;

  @Field(() => [Facet])
  facets!: Facet[];

  @Field({ description: 'ISO 8601.' })
  createdAt!: string;

  static from(row: TaxonomyRow): Taxonomy {
    return Object.assign(new Taxonomy(), {
      version: row.version,
      createdAt: row.createdAt,
      facets: row.facets.map(({ tree, ...f }) =>
        Object.assign(new Facet(), {
          ...f,
          labelNames: f.labelNames ?? null,
          under: f.under ?? null,
          attribute: f.attribute ?? null,
          tree: tree ? Object.assign(new FacetTree(), { ...tree, nodes: undefined, categories: tree.nodes.length }) : null,
        }),
      ),
    });
  }
}
