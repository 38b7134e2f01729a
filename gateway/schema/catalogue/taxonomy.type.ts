import { Field, Float, Int, ObjectType } from 'type-graphql';

import type { TaxonomyRow } from '../../catalogue';
import { FacetMode } from './enums';

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
      facets: row.facets.map((f) => Object.assign(new Facet(), f)),
    });
  }
}
