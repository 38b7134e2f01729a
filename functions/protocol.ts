/**
 * What a CLIP function is asked and what it answers: the contract between the gateway and every
 * place CLIP runs (a worker thread, a Lambda function, an HTTP service). These are the in-memory
 * shapes; transports that cannot carry typed arrays encode them.
 */
import type { ClipErrorCode, ClipModel, ClipModelInfo, ImagePreprocessSpec } from './clip';

export type EmbedRequest =
  | { kind: 'text'; texts: string[] }
  /** uint8 RGB crops, cropHeight × cropWidth × 3 bytes each, as the gateway makes them. */
  | { kind: 'crops'; crops: Uint8Array[] }
  /** Encoded JPEG/PNG/WebP images, for direct callers; the function decodes them. */
  | { kind: 'images'; images: Uint8Array[] };

export type EmbedRequestKind = EmbedRequest['kind'];

/** One per input, in input order. */
export type EmbedItem = { ok: true; vector: Float32Array } | { ok: false; code: ClipErrorCode; message: string };

/** What a caller needs to know to prepare inputs for a function and to interpret its vectors. */
export interface ModelDescription {
  info: ClipModelInfo;
  preprocess: ImagePreprocessSpec;
}

export function describeModel(model: ClipModel): ModelDescription {
  return { info: model.info, preprocess: model.spec.image };
}

/** Runs one request on a loaded model: the whole of a function's work, whatever the transport. */
export async function runEmbedRequest(model: ClipModel, request: EmbedRequest): Promise<EmbedItem[]> {
  const results = await (() => {
    switch (request.kind) {
      case 'text':
        return model.embedTexts(request.texts);
      case 'crops':
        return model.embedCrops(request.crops);
      case 'images':
        return model.embedImages(request.images);
      default:
        throw new TypeError(`unknown request kind: ${(request as { kind: unknown }).kind}`);
    }
  })();
  return results.map((r) => (r.ok ? r : { ok: false, code: r.error.code, message: r.error.message }));
}
