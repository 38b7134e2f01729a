import { createHash } from 'node:crypto';

import { ErrorCode, GatewayError } from '../common/errors';
import type { ImageIntake } from '../intake';
import type { CatalogueStore, FetchedUrl, VectorModel } from '../store';
import type { Embedder } from './embedder';
import { failure, FieldError, fieldName, storeCall } from './errors';

/** One image as a caller gives it: exactly one of the two. */
export interface ImageSource {
  url?: string | null;
  base64?: string | null;
}

/** An image of an upsert, read: its bytes and their hash, where it came from, and the fetch to record. */
export interface ReadImage {
  /** Null only for a URL its server said is unchanged (HTTP 304) since a fetch whose vector is stored. */
  bytes: Uint8Array | null;
  /** SHA-256 (hex) of the bytes: the image's identity in the store. */
  hash: string;
  /** Null for an image given inline. */
  url: string | null;
  fetched?: FetchedUrl;
}

/** The content hash of an image: computed once per image read, then passed along with its bytes. */
function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Image bytes in, hashes and vectors out: reads an image however the caller gave it (a URL
 * fetched, conditionally when its last fetch has a stored vector; base64 decoded), hashes it once,
 * and embeds each distinct image once, unless its vector of this gateway's model is stored.
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

  /** One image of an upsert read, from its URL (see fetchUrl) or its base64. */
  async read(image: ImageSource, field: string[], revalidate: Map<string, FetchedUrl>, signal?: AbortSignal): Promise<ReadImage> {
    if (image.url && !image.base64) return { ...(await this.fetchUrl(image.url, [...field, 'url'], revalidate, signal)), url: image.url };
    const bytes = await this.bytesOf(image, field, signal);
    return { bytes, hash: sha256(bytes), url: null, fetched: undefined };
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

  /** The bytes of an image given as exactly one of url and base64 (a search query's). */
  async bytesOf(image: ImageSource, field: string[], signal?: AbortSignal): Promise<Uint8Array> {
    const url = image.url ?? undefined;
    const base64 = image.base64 ?? undefined;
    if ((url === undefined) === (base64 === undefined)) {
      throw new FieldError(
        field,
        ErrorCode.BAD_USER_INPUT,
        `${fieldName(field)}: set exactly one of url, base64; ${url === undefined ? 'none is set' : 'url and base64 are set'}.`,
      );
    }
    if (url !== undefined) {
      try {
        return await this.intake.fromUrl(url, fieldName([...field, 'url']), signal);
      } catch (error) {
        throw failure([...field, 'url'], error);
      }
    }
    try {
      return this.intake.fromBase64(base64!);
    } catch (error) {
      throw failure([...field, 'base64'], error);
    }
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
