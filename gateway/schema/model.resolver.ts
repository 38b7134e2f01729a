import { Ctx, Query, Resolver } from 'type-graphql';

import type { GatewayContext } from '../context';
import { BackendTier, ModelInfo } from './model-info.type';

@Resolver()
export class ModelResolver {
  @Query(() => ModelInfo, { description: 'The model served, its sizes and where it runs.' })
  model(@Ctx() ctx: GatewayContext): ModelInfo {
    const { info } = ctx.services.model;
    const status = ctx.services.backendStatus();
    const serving = status.tiers.find((tier) => tier.role === status.serving);
    return Object.assign(new ModelInfo(), {
      name: info.name,
      dim: info.dim,
      imageSize: info.imageSize,
      contextLength: info.contextLength,
      logitScale: info.logitScale,
      backend: serving?.kind ?? status.tiers[0].kind,
      dtype: info.dtype,
      device: serving?.device ?? info.device,
      tiers: status.tiers.map((tier) =>
        Object.assign(new BackendTier(), {
          role: tier.role,
          backend: tier.kind,
          state: tier.state,
          device: tier.device,
          serving: tier === serving,
        }),
      ),
    });
  }
}
