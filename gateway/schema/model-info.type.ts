import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'One backend inference can run on, and its state as the gateway last saw it.' })
export class BackendTier {
  @Field({ description: 'primary, or spillover (serves while the primary is cold).' })
  role!: string;

  @Field({ description: 'local, lambda, http or sagemaker.' })
  backend!: string;

  @Field({
    description:
      'warm (answered its last call), cold (no capacity: scaled to zero or starting), unknown (not answered yet, or failed since), failing (refuses calls, or serves another model).',
  })
  state!: string;

  @Field({ nullable: true, description: 'Execution provider it reported (cpu or cuda); null until it has described its model.' })
  device?: string;

  @Field({ description: 'Whether new batches go to this backend now.' })
  serving!: boolean;
}

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

  @Field({ description: 'Where inference runs now: local, lambda, http or sagemaker (with two tiers, the one that serves).' })
  backend!: string;

  @Field({ description: 'Weights in use: fp32, q8, ...' })
  dtype!: string;

  @Field({ description: 'Execution provider of the model where it runs now: cpu or cuda.' })
  device!: string;

  @Field(() => [BackendTier], {
    description: 'The backends inference can run on, primary first: one, or a GPU primary and the spillover that serves while it is cold.',
  })
  tiers!: BackendTier[];
}
