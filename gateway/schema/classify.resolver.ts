import { Args, ArgsType, Ctx, Field, Int, Query, Resolver } from 'type-graphql';

import { meanUnitVector, zeroShot } from '../../functions/clip';
import { checkListSize, mediaKeyOf, type GatewayContext } from '../context';
import { ErrorCode, GatewayError, toInputError } from '../errors';
import { Classification } from './classification.type';
import { ImageInput } from './media.input';

export const DEFAULT_TEMPLATES = ['a photo of a {}.'];

@ArgsType()
class ClassifyArgs {
  @Field(() => [ImageInput], { description: 'The images to classify.' })
  images!: ImageInput[];

  @Field(() => [String], { description: 'Candidate labels, e.g. ["dog", "cat", "red sneaker"].' })
  labels!: string[];

  @Field(() => [String], { nullable: true, description: 'Prompt templates with {} for the label. Default ["a photo of a {}."].' })
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
    const { config, model } = ctx.services;
    checkListSize('images', images.length, config.maxInputsPerRequest);
    checkListSize('labels', labels.length, config.maxLabels);
    const prompts = templates ?? DEFAULT_TEMPLATES;
    checkListSize('templates', prompts.length, config.maxTemplates);
    if (labels.length === 0) throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'labels is empty; give at least one label.');
    if (prompts.length === 0)
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'templates is empty; omit it for the default or give at least one.');
    prompts.forEach((t, i) => {
      if (!t.includes('{}'))
        throw new GatewayError(
          ErrorCode.BAD_USER_INPUT,
          `templates[${i}] has no {} to put the label in: ${JSON.stringify(t.slice(0, 100))}.`,
        );
    });
    labels.forEach((label, i) => {
      if (label.trim() === '') throw new GatewayError(ErrorCode.BAD_USER_INPUT, `labels[${i}] is empty.`);
    });
    if (topK !== null && topK !== undefined && topK < 1)
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, `topK must be at least 1: ${topK}.`);

    // Labels first: without them no image can be scored, so their failure fails the field.
    const labelVectors = await Promise.all(
      labels.map(async (label, i) => {
        try {
          const vectors = await Promise.all(prompts.map((t) => ctx.media.load({ kind: 'text', text: t.replaceAll('{}', label) })));
          return meanUnitVector(vectors);
        } catch (error) {
          throw toInputError(`labels[${i}]`, error);
        }
      }),
    );
    return Promise.all(
      images.map(async (image, i) => {
        try {
          const vector = await ctx.media.load(mediaKeyOf({ url: image.url, base64: image.base64 }, { url: 'url', base64: 'base64' }));
          const scores = zeroShot(vector, labelVectors, model.info.logitScale).slice(0, topK ?? labels.length);
          return Object.assign(new Classification(), {
            labels: scores.map((s) => ({ label: labels[s.index], score: s.score, similarity: s.similarity })),
          });
        } catch (error) {
          return toInputError(`images[${i}]`, error);
        }
      }),
    );
  }
}
