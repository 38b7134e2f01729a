import { Arg, Ctx, Query, Resolver } from 'type-graphql';

import { toInputError } from '../common/errors';
import { checkListSize, embedInput, mediaKey } from './arguments';
import type { GatewayContext } from '../context';
import { Embedding } from './embedding.type';
import { MediaInput } from './media.input';

@Resolver()
export class EmbedResolver {
  @Query(() => [Embedding], {
    nullable: 'items',
    description:
      'Embeds texts and images into the shared space, one per input in order. An input that fails is null, with an error at its path.',
  })
  async embed(@Arg('inputs', () => [MediaInput]) inputs: MediaInput[], @Ctx() ctx: GatewayContext): Promise<(Embedding | Error)[]> {
    checkListSize('inputs', inputs.length, ctx.services.limits.maxInputsPerRequest, 'MAX_INPUTS_PER_REQUEST');
    const model = ctx.services.model.info.name;
    return Promise.all(
      inputs.map(async (input, i) => {
        const embedded = await embedInput(ctx.media, mediaKey(input));
        // A failure is returned, not thrown: graphql-js nulls this item alone and reports the error at its path.
        return embedded.ok ? Embedding.of(embedded.vector, model) : toInputError(`inputs[${i}]`, embedded.error);
      }),
    );
  }
}
