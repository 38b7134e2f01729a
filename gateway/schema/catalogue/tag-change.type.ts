import { Field, ID, ObjectType } from 'type-graphql';

import type { Edge, TagChangeRow } from '../../catalogue';
import { PageInfo } from './connection.type';
import { TagChangeSource } from './enums';

@ObjectType({
  description:
    "A change of one product's labels in one facet, recorded in the transaction that made it: only when the set of labels " +
    'changed (a score alone changing, or the same image upserted again, records nothing). Deleting a product records none.',
})
export class TagChange {
  @Field(() => ID)
  productId!: string;

  @Field()
  facet!: string;

  @Field(() => [String], { description: 'The labels after the change, sorted; empty when the change removed them.' })
  labels!: string[];

  @Field(() => [String], { description: 'The labels before it, sorted; empty when the facet was first tagged.' })
  previousLabels!: string[];

  @Field(() => TagChangeSource, { description: 'What wrote the change.' })
  source!: TagChangeSource;

  @Field(() => String, {
    nullable: true,
    description: 'The model (name|dtype) of the tags written; null when the write that removed them held no tag.',
  })
  model!: string | null;

  @Field({ description: 'ISO 8601.' })
  changedAt!: string;

  @Field({ description: 'Pass as `after` (to tagChanges or productTagsChanged) to resume right after this change.' })
  cursor!: string;

  static from({ cursor, node }: Edge<TagChangeRow>): TagChange {
    const { seq: _seq, ...change } = node;
    return Object.assign(new TagChange(), { ...change, cursor });
  }
}

@ObjectType()
export class TagChangeEdge {
  @Field()
  cursor!: string;

  @Field(() => TagChange)
  node!: TagChange;
}

@ObjectType({ description: 'Tag changes in the order they were committed, a page at a time.' })
export class TagChangeConnection {
  @Field(() => [TagChangeEdge])
  edges!: TagChangeEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
