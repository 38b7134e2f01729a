import { Field, ID, Int, ObjectType } from 'type-graphql';

import type { WebhookDeadLetterRow, WebhookEndpointView } from '../../webhooks';
import { PageInfo } from './connection.type';
import { UserError } from './payload.type';

@ObjectType({
  description:
    'A URL that receives every tag change as a signed POST (X-Clip-Gateway-Hmac-Sha256: base64 HMAC-SHA256 of the raw body with ' +
    "the endpoint's secret, as Shopify signs its webhooks), in order, at least once, retried with backoff. Its secret is never shown.",
})
export class WebhookEndpoint {
  @Field(() => ID)
  id!: string;

  @Field()
  url!: string;

  @Field({ description: 'ISO 8601.' })
  createdAt!: string;

  @Field({ description: 'False once the receiver answered 410 Gone: nothing more is posted to it.' })
  enabled!: boolean;

  @Field({
    description:
      'The tagChanges cursor of the last change this endpoint is done with (delivered or dead-lettered): tagChanges(after:) it lists what is to come.',
  })
  deliveredThrough!: string;

  @Field(() => Int, { description: 'Changes not yet delivered, with dead letters queued for redelivery.' })
  pending!: number;

  @Field(() => Int, { description: 'Dead letters of this endpoint not queued for redelivery (see webhookDeadLetters).' })
  deadLetters!: number;

  @Field(() => Int, { description: 'Attempts made so far at the next change.' })
  attempts!: number;

  @Field(() => String, { nullable: true, description: 'When the next change is tried again (ISO 8601); null when at once.' })
  nextAttemptAt!: string | null;

  @Field(() => String, { nullable: true, description: 'What the last failed attempt met; null after a delivery.' })
  lastError!: string | null;

  static from(view: WebhookEndpointView): WebhookEndpoint {
    const { deliveredSeq: _seq, ...fields } = view;
    return Object.assign(new WebhookEndpoint(), fields);
  }
}

@ObjectType({
  description:
    'A tag change an endpoint gave up on after WEBHOOK_MAX_ATTEMPTS attempts; the endpoint went on with the next. webhookRedeliver sends it again.',
})
export class WebhookDeadLetter {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  endpointId!: string;

  @Field({ description: 'The X-Clip-Gateway-Event-Id every attempt carried, and a redelivery carries again.' })
  eventId!: string;

  @Field(() => Int)
  attempts!: number;

  @Field()
  lastError!: string;

  @Field({ description: 'ISO 8601.' })
  deadAt!: string;

  @Field({ description: 'Queued for redelivery and not yet delivered or dead again.' })
  queued!: boolean;

  /** The outbox seq, for the change's own field resolver. */
  seq!: number;

  static from(row: WebhookDeadLetterRow): WebhookDeadLetter {
    return Object.assign(new WebhookDeadLetter(), { ...row, id: String(row.id) });
  }
}

@ObjectType()
export class WebhookDeadLetterEdge {
  @Field()
  cursor!: string;

  @Field(() => WebhookDeadLetter)
  node!: WebhookDeadLetter;
}

@ObjectType({ description: 'Dead letters, oldest first, a page at a time.' })
export class WebhookDeadLetterConnection {
  @Field(() => [WebhookDeadLetterEdge])
  edges!: WebhookDeadLetterEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType()
export class WebhookEndpointCreatePayload {
  @Field(() => WebhookEndpoint, { nullable: true, description: 'Null when userErrors says why none was registered.' })
  endpoint!: WebhookEndpoint | null;

  @Field(() => String, {
    nullable: true,
    description: 'The secret deliveries are signed with: the one given, or one made (32 random bytes, base64url). Shown this once only.',
  })
  secret!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType()
export class WebhookEndpointDeletePayload {
  @Field(() => ID, { nullable: true })
  deletedId!: string | null;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType()
export class WebhookRedeliverPayload {
  @Field(() => [ID], { description: 'The dead letters queued for redelivery.' })
  redeliveredIds!: string[];

  @Field(() => [UserError])
  userErrors!: UserError[];
}
