import { Args, ArgsType, Ctx, Field, Float, Query, Resolver } from 'type-graphql';

import { dot } from '../../functions/clip';
import { GatewayError, toInputError } from '../common/errors';
import { checkListSize, embedInput, mediaKey } from './arguments';
import type { GatewayContext } from '../context';
import { MediaInput } from './media.input';

@ArgsType()
class SimilarityArgs {
  @Field(() => [MediaInput], { description: 'The rows.' })
  a!: MediaInput[];

  @Field(() => [MediaInput], { description: 'The columns.' })
  b!: MediaInput[];
}

@Resolver()
export class SimilarityResolver {
  @Query(() => [[Float]], {
    nullable: true,
    description:
      'Cosine similarities: one row per input of a, one column per input of b (text-text, image-image and text-image alike). ' +
      'Null when any input fails, with one error naming each failed input.',
  })
  async similarity(@Args() { a, b }: SimilarityArgs, @Ctx() ctx: GatewayContext): Promise<number[][]> {
    const limit = ctx.services.limits.maxInputsPerRequest;
    checkListSize('a', a.length, limit, 'MAX_INPUTS_PER_REQUEST');
    checkListSize('b', b.length, limit, 'MAX_INPUTS_PER_REQUEST');
    const embed = (inputs: MediaInput[], name: string) =>
      Promise.all(
        inputs.map(async (input, i) => {
          const embedded = await embedInput(ctx.media, mediaKey(input));
          return embedded.ok ? embedded.vector : toInputError(`${name}[${i}]`, embedded.error);
        }),
      );
    const [rows, columns] = await Promise.all([embed(a, 'a'), embed(b, 'b')]);
    const failed = [...rows, ...columns].filter((v): v is GatewayError => v instanceof GatewayError);
    if (failed.length > 0) {
      throw new GatewayError(
        failed[0].code,
        `${failed.length} input${failed.length === 1 ? '' : 's'} could not be embedded: ${failed.map((e) => e.message).join(' ')}`,
        { extensions: { failedInputs: failed.map((e) => ({ message: e.message, code: e.code })) } },
      );
    }
    return (rows as Float32Array[]).map((row) => (columns as Float32Array[]).map((column) => dot(row, column)));
  }
}
