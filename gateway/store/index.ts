/** The catalogue store: the port's types and the adapters' openers. */
export * from './port';
export type { CatalogueStore, LabelVectorStore } from './catalogue-store';
export { TAXONOMY_NOT_SET } from './taxonomy-jobs';
export { HnswGraph, indexRootOf, openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite';
export { openConfiguredStore } from './open';
export { storeFromEnv, type MilvusIndexConfig, type StoreConfig } from './from-env';
export { MilvusIndexedStore, type MilvusIndexOptions } from './milvus/indexed-store';
export { MilvusVectors, type MilvusVectorsOptions } from './milvus/client';
export { DEFAULT_POSTGRES_STORE_OPTIONS, openPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres';
export {
  webhookEventId,
  type WebhookDeadLetterRow,
  type WebhookDelivery,
  type WebhookEndpointRow,
  type WebhookOutcome,
  type WebhookStore,
} from './webhooks';
export {
  INBOUND_OUTCOMES,
  INBOUND_STATUSES,
  type InboundOutcome,
  type InboundResult,
  type InboundStatus,
  type InboundStore,
  type InboundWebhookRow,
  type NewInboundWebhook,
} from './inbound';
