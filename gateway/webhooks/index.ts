/** Outbound webhooks: the outbox's tag changes, signed and delivered at least once to registered endpoints. */
export { WebhookDeliveries, type DeliveryOutcome, type WebhookDeliveriesDeps } from './deliveries';
export { ATTEMPT_HEADER, EVENT_ID_HEADER, TAG_CHANGE_TOPIC, TOPIC_HEADER, type TagChangeEvent } from './event';
export { registerWebhookMetrics } from './metrics';
export { checkWebhookOptions, DEFAULT_WEBHOOK_OPTIONS, WEBHOOK_VARIABLES, webhooksFromEnv, type WebhookOptions } from './options';
export { newWebhookSecret, SIGNATURE_HEADER, signWebhookBody, verifyWebhookSignature } from './sign';
export { WebhookService, webhookUrlProblem, type WebhookEndpointView } from './service';
export type { WebhookDeadLetterRow, WebhookEndpointRow } from '../store';
