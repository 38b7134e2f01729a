import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'The CLIP model this gateway serves.' })
export class ModelInfo {
  @Field()
  name!: string;

  @Field(() => Int, { description: 'Embedding dimension.' })
  dim!: number;

  @Field(() => Int, { description: 'Side of the square crop the image tower sees, in pixels.' })
  imageSize!: number;

  @Field(() => Int, { description: 'Longest text in tokens, start and end tokens included.' })
  contextLength!: number;

  @Field(() => Float, { description: 'Multiplier of cosine similarities before the softmax in classify.' })
  logitScale!: number;

  @Field({ description: 'Where inference runs: local, lambda or http.' })
  backend!: string;

  @Field({ description: 'Weights in use: fp32, q8, ...' })
  dtype!: string;

  @Field({ description: 'Execution provider of the model: cpu or cuda.' })
  device!: string;
}
