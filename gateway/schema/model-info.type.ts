import { Field, Float, Int, ObjectType } from 'type-graphql';

import { TIER_ROLES, TIER_STATES, type TierRole, type TierState } from '../backends/backend';
import { graphqlEnum } from './enum';

/** Values are the backends': the enum's names are what clients read. */
export const BackendTierRole = graphqlEnum('BackendTierRole', TIER_ROLES, {
  valuesConfig: {
    PRIMARY: { description: 'Where batches go first: the only backend, or a GPU tier that may scale to zero.' },
    SPILLOVER: { description: 'Serves while the primary is cold or failing (the CPU function, or CLIP in the gateway).' },
  },
});

export const BackendTierState = graphqlEnum('BackendTierState', TIER_STATES, {
  description: 'What a backend was doing when the gateway last called it.',
  valuesConfig: {
    WARM: { description: 'Answered its last call.' },
    COLD: { description: 'No capacity: scaled to zero, or its copies are starting (minutes on a GPU tier).' },
    UNKNOWN: { description: 'Has not answered yet, or failed since it last answered.' },
    FAILING: { description: 'Refuses calls (its circuit is open), or serves another model than the gateway.' },
  },
});

@ObjectType({ description: 'One backend inference can run on, and its state as the gateway last saw it.' })
export class BackendTier {
  @Field(() => BackendTierRole)
  role!: TierRole;

  @Field({ description: 'local, lambda, http or sagemaker.' })
  backend!: string;

  @Field(() => BackendTierState)
  state!: TierState;

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
