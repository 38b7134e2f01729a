import { Args, ArgsType, Ctx, Field, Int, Query, Resolver } from 'type-graphql';

import { classifierInputProblem, DEFAULT_TEMPLATES, LabelEmbeddingError, ZeroShotClassifier } from '../../functions/clip';
import { ErrorCode, GatewayError, toInputError } from '../common/errors';
import { checkListSize, embedInput, imageKey } from './arguments';
import { Classification } from './classification.type';
import type { GatewayContext } from '../context';
import { ImageInput } from './media.input';

@ArgsType()
class ClassifyArgs {
  @Field(() => [ImageInput], { description: 'The images to classify.' })
  images!: ImageInput[];

  @Field(() => [String], {
    description:
      'Candidate labels, e.g. ["dog", "cat", "red sneaker"]. Each label may appear once (compared after trimming spaces): ' +
      'a repeated label would split its probability with its twin, so it is refused with BAD_USER_INPUT.',
  })
  labels!: string[];

  @Field(() => [String], {
    nullable: true,
    description: `Prompt templates with {} for the label. Default ${JSON.stringify(DEFAULT_TEMPLATES)}.`,
  })
  templates?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'Return only the best topK labels.' })
  topK?: number | null;
}

@Resolver()
export class ClassifyResolver {
  @Query(() => [Classification], {
    nullable: 'items',
    description:
      'Zero-shot classification: each image against the labels, one result per image in order. Each label becomes a prompt per template ' +
      '("{}" is replaced by the label); several templates are averaged (prompt ensembling). An image that fails is null, with an error at its path.',
  })
  async classify(
    @Args() { images, labels, templates, topK }: ClassifyArgs,
    @Ctx() ctx: GatewayContext,
  ): Promise<(Classification | Error)[]> {
    const { limits, model } = ctx.services;
    const prompts = templates ?? DEFAULT_TEMPLATES;
    checkListSize('images', images.length, limits.maxInputsPerRequest, 'MAX_INPUTS_PER_REQUEST');
    checkListSize('labels', labels.length, limits.maxLabels, 'MAX_LABELS');
    checkListSize('templates', prompts.length, limits.maxTemplates, 'MAX_TEMPLATES');
    const problem = classifierInputProblem(labels, prompts);
    if (problem) throw new GatewayError(ErrorCode.BAD_USER_INPUT, problem);
    if (topK !== null && topK !== undefined && topK < 1)
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, `topK must be at least 1: ${topK}.`);

    // Labels first: without them no image can be scored, so their failure fails the field.
    const embedPrompt = async (text: string): Promise<Float32Array> => {
      const prompt = await ctx.media.load({ kind: 'text', text });
      // The classifier's contract: a prompt's failure rejects, and fails its label (LabelEmbeddingError).
      if (!prompt.ok) throw prompt.error;
      return prompt.vector;
    };
    let classifier: ZeroShotClassifier;
    try {
      classifier = await ZeroShotClassifier.create(labels, embedPrompt, { templates: prompts, logitScale: model.info.logitScale });
    } catch (error) {
      if (error instanceof LabelEmbeddingError) throw toInputError(`labels[${error.index}]`, error.cause);
      throw error;
    }
    return Promise.all(
      images.map(async (image, i) => {
        const embedded = await embedInput(ctx.media, imageKey(image));
        if (!embedded.ok) return toInputError(`images[${i}]`, embedded.error);
        return Object.assign(new Classification(), { labels: classifier.classify(embedded.vector, topK ?? labels.length) });
      }),
    );
  }
}
