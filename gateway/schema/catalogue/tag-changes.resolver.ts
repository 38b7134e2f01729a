import { Arg, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';

import type { Edge, TagChangeRow } from '../../catalogue';
import type { GatewayContext } from '../../context';
import { pageInfo } from './arguments';
import { TagChange, TagChangeConnection, TagChangeEdge } from './tag-change.type';

/** The feed of tag changes, for a shop to bring its own copy of the tags up to date: read a page at a time, or followed live. */
@Resolver()
export class TagChangesResolver {
  @Query(() => TagChangeConnection, {
    description:
      'Tag changes in the order they were committed, after the cursor (from the first without one). Keep the last endCursor ' +
      'to read on from there later: a change is never skipped nor given twice.',
  })
  async tagChanges(
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TagChangeConnection> {
    const page = await ctx.services.catalogue.tagChanges(first, after ?? undefined);
    return Object.assign(new TagChangeConnection(), {
      edges: page.edges.map((e) => Object.assign(new TagChangeEdge(), { cursor: e.cursor, node: TagChange.from(e) })),
      pageInfo: pageInfo(page),
    });
  }

  @Subscription(() => TagChange, {
    description:
      'Every tag change after the cursor, then each one as it is committed, in order and each once; without a cursor, the ' +
      "changes from now on. Resume after a disconnection with the last change's cursor. Over WebSocket on /graphql and " +
      'Server-Sent Events on /graphql/stream, with the same API keys as HTTP.',
    subscribe: ({ args, context }) => {
      const { services, signal } = context as GatewayContext;
      return services.catalogue.followTagChanges((args.after as string | null | undefined) ?? undefined, signal);
    },
  })
  productTagsChanged(@Root() change: Edge<TagChangeRow>, @Arg('after', () => String, { nullable: true }) _after: string | null): TagChange {
    return TagChange.from(change);
  }
}
