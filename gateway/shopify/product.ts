// A products/create or products/update payload (the REST product resource Shopify serialises at
// the subscription's API version) as the catalogue's product, the same shape as an import of the
// shop's CSV export gives (see gateway/imports/shopify-product.ts): the handle is the id, images in position order.
import type { ProductInput } from '../catalogue';
import { plainText, shopifyAttributes } from '../imports';

/** The fields of the REST product payload this reads; Shopify sends many more. */
export interface ShopifyProductPayload {
  id: number;
  admin_graphql_api_id?: string;
  handle: string;
  title?: string | null;
  body_html?: string | null;
  vendor?: string | null;
  product_type?: string | null;
  /** Comma-separated. */
  tags?: string | null;
  status?: string | null;
  updated_at?: string | null;
  images?: { id?: number; src: string; position?: number | null }[] | null;
  /** Since API version 2024-07; images are read from `images`, and from here only when a payload has none. */
  media?: { media_content_type?: string; position?: number | null; preview_image?: { src?: string | null } | null }[] | null;
  options?: { name: string; values?: string[] | null; position?: number | null }[] | null;
  /** Since API version 2024-10: the product's taxonomy category, trimmed. */
  category?: { admin_graphql_api_id?: string | null; name?: string | null; full_name?: string | null } | null;
}

/** A payload read: the catalogue's product, and what identifies it in Shopify. */
export interface MappedProduct {
  product: ProductInput & { attributes: Record<string, unknown> };
  /** `gid://shopify/Product/<id>`: kept in the product's attributes as shopifyProductId. */
  shopifyProductId: string;
  /** The payload's updated_at, when it has one: later deliveries of older states are not applied. */
  updatedAt: string | null;
  /** The images beyond the catalogue's limit, left out. */
  imagesLeftOut: number;
}

/** A payload that cannot be read as a product: `message` names the field and the reason. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The GID of a product from the numeric id a payload carries (products/delete carries only that). */
export function productGid(id: number): string {
  return `gid://shopify/Product/${id}`;
}

/** The numeric product id of a payload: a positive whole number, else a PayloadError naming it. */
export function payloadProductId(payload: unknown): number {
  if (!isObject(payload))
    throw new PayloadError(`the body is not a JSON object: it is ${Array.isArray(payload) ? 'an array' : typeof payload}`);
  const { id } = payload;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1)
    throw new PayloadError(`the product's id must be a positive whole number: ${JSON.stringify(id) ?? 'it is missing'}`);
  return id;
}

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/** Image URLs by position (payload order among equals), each once, at most `maxImages`; the count left out. */
function imageUrls(payload: ShopifyProductPayload, maxImages: number): { urls: string[]; leftOut: number } {
  const fromImages = Array.isArray(payload.images)
    ? payload.images.map((image, order) => ({ src: isObject(image) ? text(image.src) : undefined, position: image?.position, order }))
    : [];
  const fromMedia = Array.isArray(payload.media)
    ? payload.media
        .filter((media) => isObject(media) && media.media_content_type === 'IMAGE')
        .map((media, order) => ({ src: text(media.preview_image?.src), position: media.position, order }))
    : [];
  const images = (fromImages.length > 0 ? fromImages : fromMedia).filter((image) => image.src !== undefined);
  const place = (position: unknown) => (typeof position === 'number' && Number.isFinite(position) ? position : Number.MAX_SAFE_INTEGER);
  images.sort((a, b) => place(a.position) - place(b.position) || a.order - b.order);
  const urls = [...new Set(images.map((image) => image.src!))];
  return { urls: urls.slice(0, maxImages), leftOut: Math.max(0, urls.length - maxImages) };
}

/**
 * The catalogue's product from a products/create or products/update payload: id the handle,
 * title, the description as plain text, images by position (at most `maxImages`), and the
 * attributes an import of the CSV export gives (tags, productCategory from the category's full
 * name, type, vendor, status, options), plus shopifyProductId (the product's GID, which
 * products/delete is matched by), shopifyCategoryId (the category's GID) and shopifyUpdatedAt.
 * A payload without an id, a handle or an image is a PayloadError naming what is missing.
 */
export function productFromPayload(payload: unknown, maxImages: number): MappedProduct {
  const id = payloadProductId(payload);
  const p = payload as ShopifyProductPayload;
  const handle = text(p.handle);
  if (!handle)
    throw new PayloadError(`product ${id} has no handle, which the catalogue keeps it by: ${JSON.stringify(p.handle) ?? 'it is missing'}`);
  const { urls, leftOut } = imageUrls(p, maxImages);
  if (!urls.length) throw new PayloadError(`product ${id} (${handle}) has no image: the catalogue keeps products with at least one`);
  const category = isObject(p.category) ? p.category : undefined;
  const options = Array.isArray(p.options)
    ? p.options.filter(isObject).map((option) => ({
        name: text(option.name) ?? '',
        values: Array.isArray(option.values) ? option.values.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : [],
      }))
    : [];
  const shopifyProductId = text(p.admin_graphql_api_id) ?? productGid(id);
  const updatedAt = text(p.updated_at) ?? null;
  const attributes = {
    ...shopifyAttributes({
      tags: typeof p.tags === 'string' ? p.tags : undefined,
      productCategory: text(category?.full_name) ?? text(category?.admin_graphql_api_id),
      type: text(p.product_type),
      vendor: text(p.vendor),
      status: text(p.status),
      options,
    }),
    shopifyProductId,
    ...(text(category?.admin_graphql_api_id) ? { shopifyCategoryId: text(category?.admin_graphql_api_id) } : {}),
    ...(updatedAt ? { shopifyUpdatedAt: updatedAt } : {}),
  };
  const title = text(p.title);
  const description = typeof p.body_html === 'string' ? plainText(p.body_html) : '';
  return {
    product: {
      id: handle,
      ...(title ? { title } : {}),
      ...(description ? { description } : {}),
      images: urls.map((url) => ({ url })),
      attributes,
    },
    shopifyProductId,
    updatedAt,
    imagesLeftOut: leftOut,
  };
}
