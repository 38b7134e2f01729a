import { Ctx, Query, Resolver } from 'type-graphql';

import type { GatewayContext } from './context';
import { ModelInfo } from './model-info.type';

@Resolver()
export class ModelResolver {
  @Query(() => ModelInfo, { description: 'The model served, its sizes and where it runs.' })
  model(@Ctx() ctx: GatewayContext): ModelInfo {
    const { info } = ctx.services.model;
    return Object.assign(new ModelInfo(), {
      name: info.name,
      dim: info.dim,
      imageSize: info.imageSize,
      contextLength: info.contextLength,
      logitScale: info.logitScale,
      backend: ctx.services.backendKind,
      dtype: info.dtype,
      device: info.device,
    });
  }
}
