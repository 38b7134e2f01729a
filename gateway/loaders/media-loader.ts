import DataLoader from 'dataloader';

import type { Embedded, EmbeddingService } from '../embedding/service';
import type { ImageIntake, UploadValue } from '../intake';

/** One text or one image, however the client sent it. */
export type MediaKey =
  | { kind: 'text'; text: string }
  | { kind: 'url'; url: string }
  | { kind: 'base64'; data: string }
  | { kind: 'upload'; upload: UploadValue };

/** Every key's value is its Embedded, failures included: a load never rejects. */
export type MediaLoader = DataLoader<MediaKey, Embedded, string>;

/**
 * A per-request loader: within one operation, identical inputs (the same text, URL or base64
 * string, wherever they appear; the same uploaded file, however many places the request's map
 * puts it) are fetched, decoded and embedded once. Two uploaded files are two inputs, whatever
 * their names or bytes. Across requests the EmbeddingService's caches, in-flight work and batchers
 * take over. `signal`: the client has gone.
 * An input that fails (its fetch, its bytes, the model) is a failed Embedded in its own slot,
 * never an Error there, so one bad input fails alone and the resolver names it.
 */
export function createMediaLoader(service: Pick<EmbeddingService, 'embed'>, intake: ImageIntake, signal?: AbortSignal): MediaLoader {
  const load = async (key: MediaKey): Promise<Embedded> => {
    switch (key.kind) {
      case 'text':
        return service.embed({ kind: 'text', text: key.text }, signal);
      case 'url':
        return service.embed({ kind: 'image', bytes: await intake.fromUrl(key.url, 'url', signal) }, signal);
      case 'base64':
        return service.embed({ kind: 'image', bytes: intake.fromBase64(key.data) }, signal);
      case 'upload':
        return service.embed({ kind: 'image', bytes: await intake.fromUpload(key.upload, signal) }, signal);
      default: {
        const unreachable: never = key;
        throw new TypeError(`unknown media kind: ${JSON.stringify((unreachable as { kind: unknown }).kind)}`);
      }
    }
  };
  // An upload is known by identity: graphql-upload gives one file one promise, wherever it is mapped.
  const uploads = new WeakMap<UploadValue, number>();
  let uploadsSeen = 0;
  const uploadId = (upload: UploadValue): number => {
    let id = uploads.get(upload);
    if (id === undefined) uploads.set(upload, (id = ++uploadsSeen));
    return id;
  };
  const cacheKey = (key: MediaKey): string => {
    switch (key.kind) {
      case 'text':
        return `text:${key.text}`;
      case 'url':
        return `url:${key.url}`;
      case 'base64':
        return `base64:${key.data}`;
      case 'upload':
        return `upload:${uploadId(key.upload)}`;
    }
  };
  return new DataLoader<MediaKey, Embedded, string>(
    // The intake throws what it refuses (a URL it cannot fetch, base64 it cannot read): kept as values here.
    (keys) => Promise.all(keys.map((key) => load(key).catch((error: unknown): Embedded => ({ ok: false, error })))),
    {
      cacheKeyFn: cacheKey,
      // The shared batcher downstream does the cross-request batching; no cap needed here.
      maxBatchSize: Number.POSITIVE_INFINITY,
    },
  );
}
