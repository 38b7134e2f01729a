import type { ModelDescription } from '../functions/clip';
import type { BackendStatus } from './backends';
import type { CatalogueService } from './catalogue';
import type { AuthDecision, Credentials } from './common/auth';
import type { EmbeddingService } from './embedding/service';
import type { ProductLoader, TagLoader } from './loaders/catalogue-loaders';
import type { MediaLoader } from './loaders/media-loader';
import type { WebhookService } from './webhooks';

/** Limits on one request's arguments, checked before any work starts. */
export interface RequestLimits {
  /** Most inputs in one list argument. */
  maxInputsPerRequest: number;
  /** Most labels in one classify. */
  maxLabels: number;
  /** Most templates in one classify. */
  maxTemplates: number;
}

/** What lives as long as the gateway: shared by every request. */
export interface GatewayServices {
  limits: RequestLimits;
  embeddings: EmbeddingService;
  model: ModelDescription;
  /** Where inference runs now: which tier serves, and each tier's state. */
  backendStatus(): BackendStatus;
  /** The product catalogue. */
  catalogue: CatalogueService;
  /** Webhook endpoints and their dead letters (delivering is the gateway's worker). */
  webhooks: WebhookService;
  /** Whether credentials may run admin operations (webhook endpoints, file imports): an admin key, or loopback without keys. */
  authorizeAdmin(credentials: Credentials): AuthDecision;
  /**
   * Logs an internal failure that reaches the client only as an INTERNAL_SERVER_ERROR userError
   * (GraphQL errors are logged when they are formatted; userErrors are data and would pass unseen).
   */
  logInternal(error: unknown): void;
}

/** What one GraphQL operation sees. */
export interface GatewayContext {
  services: GatewayServices;
  /** Per-operation loader: identical inputs within this operation are computed once. */
  media: MediaLoader;
  tags: TagLoader;
  products: ProductLoader;
  /** Aborted when the client has gone. */
  signal?: AbortSignal;
  /** What the client presented: its API key, and whether it is on this machine. Checked before the operation runs. */
  credentials: Credentials;
}
