import { createHash } from 'node:crypto';

import { ErrorCode, GatewayError } from '../common/errors';
import type { ImageIntake, UploadValue } from '../intake';
import type { CatalogueStore, FetchedUrl, VectorModel } from '../store';
import type { Embedder } from './embedder';
import { failure, FieldError, fieldName, storeCall } from './errors';

/** One image as a caller gives it: exactly one of the three. */
export interface ImageSource {
  url?: string | null;
  base64?: string | null;
  /** A file of a GraphQL multipart request. */
  file?: UploadValue | null;
}

/** The fields of ImageSource, in the order messages name them. */
const SOURCE_FIELDS = ['url', 'base64', 'file'] as const;
export type ImageSourceField = (typeof SOURCE_FIELDS)[number];

/** An image of an upsert, read: its bytes and their hash, where it came from, and the fetch to record. */
export interface ReadImage {
  /** Null only for a URL its server said is unchanged (HTTP 304) since a fetch whose vector is stored. */
  bytes: Uint8Array | null;
  /** SHA-256 (hex) of the bytes: the image's identity in the store. */
  hash: string;
  /** Null for an image given inline. */
  url: string | null;
  /** The field it was given in: where its failures are reported. */
  source: ImageSourceField;
  fetched?: FetchedUrl;
}

/** The content hash of an image: computed once per image read, then passed along with its bytes. */
function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Image bytes in, hashes and vectors out: reads an image however the caller gave it (a URL
 * fetched, conditionally when its last fetch has a stored vector; base64 decoded; an uploaded file
 * read as it arrives), hashes it once, and embeds each distinct image once, unless its vector of
 * this gateway's model is stored.
 */
export class Images {
  constructor(
    private readonly store: CatalogueStore,
    private readonly embeddings: Embedder,
    private readonly intake: ImageIntake,
    private readonly model: VectorModel,
  ) {}

  /**
   * Each distinct image's vector once: a stored one as it is, the others embedded, concurrent asks
   * for one hash sharing one embedding. Bytes may be null only for a hash with a stored vector.
   */
  embedOnce(stored: Map<string, Float32Array>, signal?: AbortSignal): (hash: string, bytes: Uint8Array | null) => Promise<Float32Array> {
    const embedded = new Map<string, Promise<Float32Array>>();
    return (hash, bytes) => {
      const known = stored.get(hash);
      if (known) return Promise.resolve(known);
      let pending = embedded.get(hash);
      if (!pending) {
        // Image vectors are never deleted, so a hash found with a vector a moment ago still has it.
        if (!bytes)
          return Promise.reject(new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, `the vector of image ${hash} is no longer stored.`));
        pending = this.embeddings.embedImage(bytes, signal, hash);
        pending.catch(() => undefined);
        embedded.set(hash, pending);
      }
      return pending;
    };
  }

  /** The last fetches of these URLs that may be revalidated (see revalidatable). */
  async lastFetches(urls: string[]): Promise<Map<string, FetchedUrl>> {
    return this.revalidatable(await storeCall(() => this.store.getFetchedUrls(urls)));
  }

  /** One image of an upsert read, from its URL (see fetchUrl), its base64 or its file. */
  async read(image: ImageSource, field: string[], revalidate: Map<string, FetchedUrl>, signal?: AbortSignal): Promise<ReadImage> {
    const source = this.sourceOf(image, field);
    if (source === 'url') return { ...(await this.fetchUrl(image.url!, [...field, 'url'], revalidate, signal)), url: image.url!, source };
    const bytes = await this.bytesOf(image, field, signal);
    return { bytes, hash: sha256(bytes), url: null, source, fetched: undefined };
  }

  /**
   * An image URL's hash and bytes; only its hash (bytes null) when its server answers a conditional
   * request (HTTP 304) saying it still holds what it held at the last fetch, whose vector is stored:
   * such an image is neither downloaded, nor decoded, nor embedded again. `fetched` is the fetch to
   * record for next time.
   */
  async fetchUrl(
    url: string,
    field: string[],
    revalidate: Map<string, FetchedUrl>,
    signal?: AbortSignal,
  ): Promise<{ hash: string; bytes: Uint8Array | null; fetched?: FetchedUrl }> {
    const known = revalidate.get(url);
    try {
      const result = await this.intake.fromUrlIfChanged(url, fieldName(field), known, signal);
      if (!result.modified) return { hash: known!.hash, bytes: null };
      const hash = sha256(result.bytes);
      return { hash, bytes: result.bytes, fetched: { url, hash, ...result.validators } };
    } catch (error) {
      throw failure(field, error);
    }
  }

  /** The bytes of an image given as exactly one of url, base64 and file (a search query's). */
  async bytesOf(image: ImageSource, field: string[], signal?: AbortSignal): Promise<Uint8Array> {
    const source = this.sourceOf(image, field);
    try {
      switch (source) {
        case 'url':
          return await this.intake.fromUrl(image.url!, fieldName([...field, 'url']), signal);
        case 'base64':
          return this.intake.fromBase64(image.base64!);
        case 'file':
          return await this.intake.fromUpload(image.file!, signal);
      }
    } catch (error) {
      throw failure([...field, source], error);
    }
  }

  /** Which one field of the image is set, or a FieldError naming `field` when not exactly one is. */
  private sourceOf(image: ImageSource, field: string[]): ImageSourceField {
    const set = SOURCE_FIELDS.filter((name) => image[name] !== undefined && image[name] !== null);
    if (set.length !== 1) {
      throw new FieldError(
        field,
        ErrorCode.BAD_USER_INPUT,
        `${fieldName(field)}: set exactly one of ${SOURCE_FIELDS.join(', ')}; ${set.length === 0 ? 'none is set' : `${set.join(' and ')} are set`}.`,
      );
    }
    return set[0];
  }

  /** The last fetches whose content has a stored vector of this model and whose server sent validators: these may be revalidated. */
  private async revalidatable(lastFetches: Map<string, FetchedUrl>): Promise<Map<string, FetchedUrl>> {
    const candidates = [...lastFetches.values()].filter((f) => f.etag !== null || f.lastModified !== null);
    if (candidates.length === 0) return new Map();
    const vectors = await storeCall(() =>
      this.store.getImageVectors(
        this.model,
        candidates.map((f) => f.hash),
      ),
    );
    return new Map(candidates.filter((f) => vectors.has(f.hash)).map((f) => [f.url, f]));
  }
}
