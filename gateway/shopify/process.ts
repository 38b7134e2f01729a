// What one delivery of the shop's webhooks does to the catalogue: products/create and
// products/update upsert the product (as an import of the shop's export would), products/delete
// deletes it, anything else is ignored. Applying a delivery twice gives what applying it once did:
// the inbox may hand it out again after a crash.
import { isDeepStrictEqual } from 'node:util';

import {
  UNDECODABLE_IMAGE_CODES,
  upsertLeavingOutUndecodable,
  type CatalogueService,
  type ProductInput,
  type ProductRow,
} from '../catalogue';
import type { InboundOutcome, InboundWebhookRow } from '../store';
import { PayloadError, payloadProductId, productFromPayload, productGid } from './product';

/** The topics that change the catalogue; any other delivery is recorded as ignored. */
export const PRODUCT_TOPICS = ['products/create', 'products/update', 'products/delete'] as const;

/** What came of one attempt: an outcome, or a reason to try again later (the failure may pass). */
export type Processed = { outcome: InboundOutcome; message: string | null } | { retry: string };

/** Codes of a product the catalogue will never take as it is: trying again cannot help. */
const REFUSED = new Set(['BAD_USER_INPUT', 'INPUT_TOO_LARGE', ...UNDECODABLE_IMAGE_CODES]);

/** Most products one Shopify product id may be kept under (a handle renamed leaves its old product behind until the next update). */
const MAX_BY_GID = 10;

/** The same stored product as the input would make: nothing to write. */
function unchanged(row: ProductRow, input: ProductInput): boolean {
  return (
    row.title === (input.title ?? null) &&
    row.description === (input.description ?? null) &&
    isDeepStrictEqual(row.attributes ?? {}, input.attributes ?? {}) &&
    isDeepStrictEqual(
      row.imageUrls,
      input.images.map((image) => image.url),
    )
  );
}

export class DeliveryProcessor {
  constructor(private readonly catalogue: CatalogueService) {}

  async process(delivery: Pick<InboundWebhookRow, 'topic' | 'body'>, signal?: AbortSignal): Promise<Processed> {
    if (!(PRODUCT_TOPICS as readonly string[]).includes(delivery.topic))
      return { outcome: 'ignored', message: `the topic ${delivery.topic} is not one the gateway handles (${PRODUCT_TOPICS.join(', ')})` };
    let payload: unknown;
    try {
      payload = JSON.parse(delivery.body);
    } catch (error) {
      return { outcome: 'failed', message: `the body is not valid JSON: ${(error as Error).message}` };
    }
    try {
      return delivery.topic === 'products/delete' ? await this.delete(payload) : await this.upsert(payload, signal);
    } catch (error) {
      if (error instanceof PayloadError) return { outcome: 'failed', message: error.message };
      throw error;
    }
  }

  /** products/delete carries only the numeric id: the products kept with its GID are deleted. */
  private async delete(payload: unknown): Promise<Processed> {
    const gid = productGid(payloadProductId(payload));
    const kept = await this.byGid(gid);
    if (kept.length === 0) return { outcome: 'ignored', message: `no product of the catalogue has shopifyProductId ${gid}` };
    const deleted = await this.catalogue.deleteProducts(kept.map((p) => p.id));
    return { outcome: 'deleted', message: `deleted ${deleted.map((id) => JSON.stringify(id)).join(', ')} (${gid})` };
  }

  /**
   * Stores the product unless it holds exactly this already or holds a later state of it. Its
   * images are read as any upsert reads them: a URL fetched before is revalidated (a 304 costs no
   * download, decode or embedding), so an update that changed only tags, category or metafields
   * (the echo of the gateway's own write-back among them) embeds nothing, and its product vector
   * and automatic tags come out the same: the outbox records no change, and nothing goes back.
   */
  private async upsert(payload: unknown, signal?: AbortSignal): Promise<Processed> {
    const mapped = productFromPayload(payload, this.catalogue.limits.maxImagesPerProduct);
    const { product, shopifyProductId } = mapped;
    const [byHandle] = await this.catalogue.getProducts([product.id]);
    const byGid = await this.byGid(shopifyProductId);
    // Shopify does not promise order: a delivery older than the state kept is not applied over it.
    const keptAt = (byHandle ?? byGid[0])?.attributes?.shopifyUpdatedAt;
    if (typeof keptAt === 'string' && mapped.updatedAt && Date.parse(keptAt) > Date.parse(mapped.updatedAt))
      return {
        outcome: 'ignored',
        message: `the catalogue holds a later state of ${product.id} (updated_at ${keptAt} > ${mapped.updatedAt})`,
      };
    if (byHandle && unchanged(byHandle, product)) return { outcome: 'unchanged', message: null };
    const notes =
      mapped.imagesLeftOut > 0 ? [`${mapped.imagesLeftOut} image(s) beyond the catalogue's ${product.images.length} left out`] : [];
    const stored = await this.store(product, notes, signal);
    if ('retry' in stored || stored.outcome !== 'stored') return stored;
    // A renamed handle: the product is now kept under its new handle only.
    const renamed = byGid.filter((p) => p.id !== product.id).map((p) => p.id);
    if (renamed.length) {
      await this.catalogue.deleteProducts(renamed);
      notes.push(`its earlier handle ${renamed.map((id) => JSON.stringify(id)).join(', ')} deleted`);
    }
    return { outcome: 'stored', message: notes.length ? notes.join('; ') : null };
  }

  /** The products kept with this shopifyProductId. */
  private async byGid(shopifyProductId: string): Promise<ProductRow[]> {
    return (await this.catalogue.listProducts({ attributes: { shopifyProductId } }, MAX_BY_GID)).edges.map((edge) => edge.node);
  }

  /** Upserts one product; an image the gateway cannot decode is left out and the rest stored, as an import does. */
  private async store(product: ProductInput, notes: string[], signal?: AbortSignal): Promise<Processed> {
    const [result] = await upsertLeavingOutUndecodable((inputs) => this.catalogue.upsertProducts(inputs, signal), [product]);
    for (const left of result.leftOut) notes.push(`left out ${left.url}: ${left.message}`);
    if (result.ok) return { outcome: 'stored', message: null };
    if (REFUSED.has(result.error.code)) return { outcome: 'failed', message: [...notes, result.error.message].join('; ') };
    return { retry: result.error.message };
  }
}
