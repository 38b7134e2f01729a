import type { FieldError } from './errors';
import type { ProductInput, UpsertResult } from './ingest';

/** Codes of an image the gateway cannot decode: a format it does not take (GIF, BMP, TIFF) or a broken file. */
export const UNDECODABLE_IMAGE_CODES: ReadonlySet<string> = new Set(['UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_DECODE_FAILED']);

/** An image a product was stored without: its place in the product's images as given, its URL, and why. */
export interface LeftOutImage {
  index: number;
  url?: string;
  code: string;
  /** The decoder's reason, with no batch position (`products[3].images[1]`) before it. */
  message: string;
}

export type UpsertedLeavingOut = UpsertResult & { leftOut: LeftOutImage[] };

/** The image an upsert error is about when it is one the gateway cannot decode, else -1. */
function undecodableImage(error: FieldError): number {
  return error.field[2] === 'images' && UNDECODABLE_IMAGE_CODES.has(error.code) ? Number(error.field[3]) : -1;
}

/** An upsert error's message without the batch position it starts with (`products[3].`): a position in a batch means nothing in a file. */
export function reasonOf(error: FieldError): string {
  return error.message.replace(/^products\[\d+\]\.?/, '') || error.message;
}

/**
 * Upserts products as `upsert` does; a product whose only fault is an image the gateway cannot
 * decode goes again without it, as many times as it has such images, and is stored with the rest
 * (`leftOut` says which were left out). A product with no image left fails with its last one's
 * error. What shops export allows images the gateway does not take: one of them is no reason to
 * lose the product.
 */
export async function upsertLeavingOutUndecodable(
  upsert: (inputs: ProductInput[]) => Promise<UpsertResult[]>,
  inputs: readonly ProductInput[],
): Promise<UpsertedLeavingOut[]> {
  const results = new Array<UpsertedLeavingOut>(inputs.length);
  type Pending = { at: number; input: ProductInput; positions: number[]; leftOut: LeftOutImage[] };
  let pending: Pending[] = inputs.map((input, at) => ({ at, input, positions: input.images.map((_, i) => i), leftOut: [] }));
  while (pending.length > 0) {
    const outcomes = await upsert(pending.map((p) => p.input));
    const again: Pending[] = [];
    outcomes.forEach((outcome, k) => {
      const p = pending[k];
      const index = outcome.ok ? -1 : undecodableImage(outcome.error);
      if (outcome.ok || index < 0 || p.input.images.length <= 1) {
        results[p.at] = { ...outcome, leftOut: p.leftOut };
        return;
      }
      const keep = (_: unknown, i: number) => i !== index;
      again.push({
        at: p.at,
        input: { ...p.input, images: p.input.images.filter(keep) },
        positions: p.positions.filter(keep),
        leftOut: [
          ...p.leftOut,
          {
            index: p.positions[index],
            url: p.input.images[index].url ?? undefined,
            code: outcome.error.code,
            message: reasonOf(outcome.error).replace(/^images\[\d+\](\.\w+)?:\s*/, ''),
          },
        ],
      });
    });
    pending = again;
  }
  return results;
}
