import type { TagChangeRow, WebhookDelivery } from '../store';
import { signWebhookBody, SIGNATURE_HEADER } from './sign';

/** The topic of every event: one product's labels in one facet changed. */
export const TAG_CHANGE_TOPIC = 'product_tags/changed';

/** The headers of a delivery, beside the signature. */
export const EVENT_ID_HEADER = 'X-Clip-Gateway-Event-Id';
export const TOPIC_HEADER = 'X-Clip-Gateway-Topic';
export const ATTEMPT_HEADER = 'X-Clip-Gateway-Delivery-Attempt';

/** What a receiver gets: one tag change, with the event's id (the same at every attempt) and its seq in the outbox. */
export interface TagChangeEvent {
  id: string;
  topic: typeof TAG_CHANGE_TOPIC;
  productId: string;
  facet: string;
  previousLabels: string[];
  labels: string[];
  source: TagChangeRow['source'];
  model: string | null;
  changedAt: string;
  seq: number;
}

/** The request of one delivery: the body as the bytes sent (the signature covers exactly them) and its headers. */
export function eventRequest(delivery: WebhookDelivery, change: TagChangeRow): { body: string; headers: Record<string, string> } {
  const event: TagChangeEvent = {
    id: delivery.eventId,
    topic: TAG_CHANGE_TOPIC,
    productId: change.productId,
    facet: change.facet,
    previousLabels: change.previousLabels,
    labels: change.labels,
    source: change.source,
    model: change.model,
    changedAt: change.changedAt,
    seq: change.seq,
  };
  const body = JSON.stringify(event);
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'clip-gateway',
      [SIGNATURE_HEADER]: signWebhookBody(body, delivery.secret),
      [EVENT_ID_HEADER]: delivery.eventId,
      [TOPIC_HEADER]: TAG_CHANGE_TOPIC,
      [ATTEMPT_HEADER]: String(delivery.attempt),
    },
  };
}
