import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';

import type { GatewayContext } from '../../context';
import { pageInfo } from './arguments';
import { UserError } from './payload.type';
import { TagChange } from './tag-change.type';
import { requireAdmin, userErrorsOf } from './user-errors';
import {
  WebhookDeadLetter,
  WebhookDeadLetterConnection,
  WebhookDeadLetterEdge,
  WebhookEndpoint,
  WebhookEndpointCreatePayload,
  WebhookEndpointDeletePayload,
  WebhookRedeliverPayload,
} from './webhook.type';

// Every webhook field needs an admin key (requireAdmin): they say where the catalogue's changes are
// sent, and URLs often carry a receiver's token.

@Resolver(() => WebhookDeadLetter)
export class WebhooksResolver {
  @Query(() => [WebhookEndpoint], { description: 'Every webhook endpoint, oldest first. Needs an admin key.' })
  async webhookEndpoints(@Ctx() ctx: GatewayContext): Promise<WebhookEndpoint[]> {
    requireAdmin(ctx);
    return (await ctx.services.webhooks.endpoints()).map(WebhookEndpoint.from);
  }

  @Query(() => WebhookDeadLetterConnection, { description: 'Dead letters of every endpoint, oldest first. Needs an admin key.' })
  async webhookDeadLetters(
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<WebhookDeadLetterConnection> {
    requireAdmin(ctx);
    const page = await ctx.services.webhooks.deadLetters(first, after ?? undefined);
    return Object.assign(new WebhookDeadLetterConnection(), {
      edges: page.edges.map((e) => Object.assign(new WebhookDeadLetterEdge(), { cursor: e.cursor, node: WebhookDeadLetter.from(e.node) })),
      pageInfo: pageInfo(page),
    });
  }

  @FieldResolver(() => TagChange, { nullable: true, description: 'The tag change that was not delivered.' })
  async change(@Root() letter: WebhookDeadLetter, @Ctx() ctx: GatewayContext): Promise<TagChange | null> {
    const edge = await ctx.services.webhooks.changeOf(letter.seq);
    return edge ? TagChange.from(edge) : null;
  }

  @Mutation(() => WebhookEndpointCreatePayload, {
    description:
      'Registers a URL to receive every tag change committed from now on (not those before), each as a POST of JSON signed with ' +
      'the secret: the one given (16 to 256 printable characters) or one made. The secret is returned this once. Needs an admin key.',
  })
  async webhookEndpointCreate(
    @Arg('url') url: string,
    @Arg('secret', () => String, { nullable: true }) secret: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<WebhookEndpointCreatePayload> {
    requireAdmin(ctx);
    const { value, userErrors } = await userErrorsOf(ctx, () => ctx.services.webhooks.createEndpoint(url, secret));
    return Object.assign(new WebhookEndpointCreatePayload(), {
      endpoint: value ? WebhookEndpoint.from(value.endpoint) : null,
      secret: value?.secret ?? null,
      userErrors,
    });
  }

  @Mutation(() => WebhookEndpointDeletePayload, {
    description: 'Deletes an endpoint and its dead letters; nothing more is posted to it. Needs an admin key.',
  })
  async webhookEndpointDelete(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<WebhookEndpointDeletePayload> {
    requireAdmin(ctx);
    const { value, userErrors } = await userErrorsOf(ctx, () => ctx.services.webhooks.deleteEndpoint(id));
    return Object.assign(new WebhookEndpointDeletePayload(), { deletedId: value ?? null, userErrors });
  }

  @Mutation(() => WebhookRedeliverPayload, {
    description:
      'Sends dead letters again, each with a fresh count of attempts and the same event id, before the endpoint’s next change. ' +
      'Ids that name no dead letter are userErrors; the others are queued. Needs an admin key.',
  })
  async webhookRedeliver(@Arg('ids', () => [ID]) ids: string[], @Ctx() ctx: GatewayContext): Promise<WebhookRedeliverPayload> {
    requireAdmin(ctx);
    const { value, userErrors } = await userErrorsOf(ctx, () => ctx.services.webhooks.redeliver(ids));
    return Object.assign(new WebhookRedeliverPayload(), {
      redeliveredIds: value?.ids ?? [],
      userErrors: [...userErrors, ...(value?.problems ?? []).map(UserError.from)],
    });
  }
}
