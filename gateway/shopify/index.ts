/** The shop's webhooks coming in (POST /webhooks/shopify). */
export { retryDelayMs, ShopifyInbox } from './inbox';
export { checkShopifyOptions, DEFAULT_SHOPIFY_OPTIONS, SHOPIFY_VARIABLES, shopifyFromEnv, type ShopifyOptions } from './options';
export { DeliveryProcessor, PRODUCT_TOPICS, type Processed } from './process';
export { PayloadError, productFromPayload, productGid, type MappedProduct, type ShopifyProductPayload } from './product';
export { HMAC_HEADER, signShopifyBody, verifyShopifyHmac } from './verify';
export { SHOPIFY_WEBHOOK_ROUTE, SHOPIFY_WEBHOOKS_OFF, shopifyWebhookHandlers, type WebhookRouteDeps } from './webhook-route';
export { ShopifyWebhooks } from './webhooks';
