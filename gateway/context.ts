import type { ModelDescription } from '../functions/protocol';
import type { GatewayConfig } from './config';
import { ErrorCode, GatewayError } from './errors';
import type { EmbeddingService } from './loaders/embeddings';
import type { MediaKey, MediaLoader } from './loaders/media-loader';

/** What lives as long as the gateway: shared by every request. */
export interface GatewayServices {
  config: GatewayConfig;
  embeddings: EmbeddingService;
  model: ModelDescription;
  backendKind: string;
}

/** What one GraphQL operation sees. */
export interface GatewayContext {
  services: GatewayServices;
  /** Per-operation loader: identical inputs within this operation are computed once. */
  media: MediaLoader;
}

/** Refuses oversized list arguments before any work starts. */
export function checkListSize(name: string, length: number, limit: number): void {
  if (length > limit) {
    throw new GatewayError(ErrorCode.INPUT_TOO_LARGE, `${name} has ${length} items; the limit is ${limit} per request.`);
  }
}

/** The loader key of an input that must set exactly one of its fields. */
export function mediaKeyOf(
  fields: { text?: string | null; url?: string | null; base64?: string | null },
  names: { text?: string; url: string; base64: string },
): MediaKey {
  const set = (Object.keys(fields) as (keyof typeof fields)[]).filter((k) => fields[k] !== undefined && fields[k] !== null);
  const fieldNames = [names.text, names.url, names.base64].filter(Boolean).join(', ');
  if (set.length !== 1) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Set exactly one of ${fieldNames}; ${set.length === 0 ? 'none is set' : `${set.map((k) => names[k]).join(' and ')} are set`}.`,
    );
  }
  if (fields.text !== undefined && fields.text !== null) return { kind: 'text', text: fields.text };
  if (fields.url !== undefined && fields.url !== null) return { kind: 'url', url: fields.url };
  return { kind: 'base64', data: fields.base64! };
}
