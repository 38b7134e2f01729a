// Image intake: the bytes of an image, however the client sent it. Nothing here decodes pixels.
import { decodeBase64Image } from './base64';
import { createConditionalImageFetcher, type ConditionalFetch, type FetchImageOptions, type UrlValidators } from './fetch-image';
import { readUpload, type UploadValue } from './upload';

export {
  ALLOW_NETWORKS,
  DEFAULT_FETCH_IMAGE_OPTIONS,
  type ConditionalFetch,
  type FetchImageOptions,
  type UrlValidators,
} from './fetch-image';
export { streamUpload, type UploadedFile, type UploadLimit, type UploadValue } from './upload';

export interface ImageIntake {
  /** Fetches an image URL; failures name `input`. `signal`: the client has gone. */
  fromUrl(url: string, input: string, signal?: AbortSignal): Promise<Uint8Array>;
  /** Fetches an image URL unless the server says the version `known` identifies is still current (HTTP 304). */
  fromUrlIfChanged(url: string, input: string, known: UrlValidators | undefined, signal?: AbortSignal): Promise<ConditionalFetch>;
  /** Decodes base64 or a data: URI; throws a GatewayError saying what is wrong. */
  fromBase64(value: string): Uint8Array;
  /**
   * Reads a file of a GraphQL multipart request as it arrives, refusing it (INPUT_TOO_LARGE) as soon
   * as it passes maxBytes; rejects with a GatewayError saying what is wrong. `signal`: the client has gone.
   */
  fromUpload(upload: UploadValue, signal?: AbortSignal): Promise<Uint8Array>;
}

export interface ImageIntakeOptions {
  /** Largest image accepted, in bytes, however it comes. */
  maxBytes: number;
  /** URL fetching: deadline, redirects, admitted networks. */
  fetch: Omit<FetchImageOptions, 'maxBytes'>;
}

/** The intake with its options checked once, here. */
export function createImageIntake(options: ImageIntakeOptions): ImageIntake {
  const fetchImage = createConditionalImageFetcher({ ...options.fetch, maxBytes: options.maxBytes });
  return {
    fromUrl: async (url, input, signal) => ((await fetchImage(url, input, undefined, signal)) as { bytes: Uint8Array }).bytes,
    fromUrlIfChanged: fetchImage,
    fromBase64: (value) => decodeBase64Image(value, options.maxBytes),
    fromUpload: (upload, signal) => readUpload(upload, options.maxBytes, signal),
  };
}
