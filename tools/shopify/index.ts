// The shop's side of the catalogue's tags: Shopify write-back and Merchant Center's supplemental feed.
export {
  SHOPIFY_ADMIN_VARIABLES,
  SHOPIFY_COMMANDS,
  SHOPIFY_USAGE,
  ShopifyUsageError,
  runShopifyCommand,
  shopifyAdminFromEnv,
} from './commands';
export { AdminClient, AdminRefused, AdminUnavailable, adminEndpoint, shopHost, type AdminClientOptions } from './admin-client';
export {
  ADMIN_API_VERSION,
  METAFIELDS_PER_CALL,
  QUERIES,
  coalesce,
  metafieldKey,
  operationsFor,
  tagOf,
  type AdminOperation,
} from './operations';
export { GoogleMapping, defaultMappingFiles } from './google-mapping';
export { SUPPLEMENTAL_COLUMNS, tsvCell, writeSupplementalFeed } from './supplemental-feed';
export { writeBack, type WritebackSummary } from './writeback';
export { labelNamesOf, type LabelName } from './label-names';
