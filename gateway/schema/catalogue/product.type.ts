import { GraphQLJSONObject } from 'graphql-scalars';
import { Directive, Field, Float, ID, Int, ObjectType } from 'type-graphql';

import type { ProductRow, TagRow } from '../../catalogue';
import { TagSource } from './enums';

@ObjectType({ description: 'A label of one facet on one product.' })
export class Tag {
  @Field(() => ID)
  productId!: string;

  @Field()
  facet!: string;

  @Field()
  label!: string;

  @Field(() => Float, { description: "Automatic: softmax over the facet's labels of logit scale × similarity. Manual: 1." })
  score!: number;

  @Field(() => Float, { description: "Cosine similarity of the product's vector and the label's prompts." })
  similarity!: number;

  @Field(() => TagSource)
  source!: TagSource;

  @Field()
  needsReview!: boolean;

  @Field({ description: 'The model (name|dtype) whose vectors made it.' })
  model!: string;

  @Field(() => Int)
  taxonomyVersion!: number;

  static from(row: TagRow): Tag {
    return Object.assign(new Tag(), row);
  }
}

@ObjectType({
  description:
    "A product of the catalogue. In a supergraph (FEDERATION) an entity keyed by id that the shop's own subgraph owns; this one adds its images, tags and look-alikes.",
})
// Federation's entity key; only the subgraph schema prints it (gateway/schema/subgraph.ts).
@Directive('@key(fields: "id")')
export class Product {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  title!: string | null;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => Int)
  imageCount!: number;

  @Field(() => [String], {
    nullable: 'items',
    description:
      'Where its images were fetched from, in order; null for an image sent inline as bytes, which has no URL to show ' +
      '(the catalogue keeps its bytes, to embed it again when the model changes, but does not serve them).',
  })
  imageUrls!: (string | null)[];

  @Field(() => GraphQLJSONObject, { nullable: true })
  attributes!: Record<string, unknown> | null;

  @Field({ description: 'ISO 8601.' })
  createdAt!: string;

  @Field({ description: 'ISO 8601.' })
  updatedAt!: string;

  static from(row: ProductRow): Product {
    const { id, title, description, attributes, createdAt, updatedAt, imageHashes, imageUrls } = row;
    return Object.assign(new Product(), {
      id,
      title,
      description,
      attributes,
      createdAt,
      updatedAt,
      imageCount: imageHashes.length,
      imageUrls,
    });
  }

  /**
   * A product the shop's graph knows and this catalogue has not stored (a federation reference):
   * no images, tags or look-alikes, which is what this catalogue knows of it.
   */
  static notStored(id: string): Product {
    return Object.assign(new Product(), { id, title: null, description: null, attributes: null, imageCount: 0, imageUrls: [] });
  }
}

@ObjectType({ description: 'A product and how well it matches: cosine similarity for search, tag score for labels.' })
export class ProductHit {
  @Field(() => Product)
  product!: Product;

  @Field(() => Float)
  score!: number;
}
