import { Field, Float, ObjectType } from 'type-graphql';

@ObjectType({ description: "One label's result for one image." })
export class LabelScore {
  @Field()
  label!: string;

  @Field(() => Float, { description: 'Probability among the given labels: softmax of logit scale × similarity.' })
  score!: number;

  @Field(() => Float, { description: 'Cosine similarity between the image and the label prompt(s).' })
  similarity!: number;
}

@ObjectType({ description: 'Zero-shot classification of one image.' })
export class Classification {
  @Field(() => [LabelScore], { description: 'Labels by score, best first (cut to topK when given).' })
  labels!: LabelScore[];
}
