import DataLoader from 'dataloader';

import type { EmbeddingService } from '../embedding/service';
import type { ImageIntake } from '../intake';

/** One text or one image, however the client sent it. */
export type MediaKey = { kind: 'text'; text: string } | { kind: 'url'; url: string } | { kind: 'base64'; data: string };

export type MediaLoader = DataLoader<MediaKey, Float32Array, string>;

/**
 * A per-request loader: within one operation, identical inputs (the same text, URL or base64
 * string, wherever they appear) are fetched, decoded and embedded once. Across requests the
 * EmbeddingService's caches, in-flight work and batchers take over. `signal`: the client has gone.
 */
export function createMediaLoader(service: EmbeddingService, intake: ImageIntake, signal?: AbortSignal): MediaLoader {
  const load = async (key: MediaKey): Promise<Float32Array> => {
    switch (key.kind) {
      case 'text':
        return service.embedText(key.text, signal);
      case 'url':
        return service.embedImage(await intake.fromUrl(key.url, 'url', signal), signal);
      case 'base64':
        return service.embedImage(intake.fromBase64(key.data), signal);
      default: {
        const unreachable: never = key;
        throw new TypeError(`unknown media kind: ${JSON.stringify((unreachable as { kind: unknown }).kind)}`);
      }
    }
  };
  return new DataLoader<MediaKey, Float32Array, string>(
    // DataLoader's contract: one value or Error per key, in order, so one bad input fails alone.
    (keys) =>
      Promise.all(keys.map((key) => load(key).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))))),
    {
      cacheKeyFn: (key) => `${key.kind}:${key.kind === 'text' ? key.text : key.kind === 'url' ? key.url : key.data}`,
      // The shared batcher downstream does the cross-request batching; no cap needed here.
      maxBatchSize: Number.POSITIVE_INFINITY,
    },
  );
}
