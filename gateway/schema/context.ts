import type DataLoader from 'dataloader';

import type { ModelDescription } from '../../functions/clip';
import type { BackendStatus } from '../backends';
import type { Credentials } from '../common/auth';
import type { CatalogueService } from '../catalogue';
import type { EmbeddingService } from '../embedding/service';
import type { MediaLoader } from '../loaders/media-loader';
import type { ProductRow, TagRow } from '../store/port';

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
}

/** Per-operation loader of products' tags: one store call for all products an operation resolves. */
export type TagLoader = DataLoader<string, TagRow[]>;

/** Per-operation loader of stored products by id (null: none stored): one store call for every reference an operation resolves. */
export type ProductLoader = DataLoader<string, ProductRow | null>;

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
