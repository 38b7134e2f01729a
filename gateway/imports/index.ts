// The product files a shop's catalogue comes in, each read as a stream of products (entry.ts): the
// project's own formats (generic.ts) and what shops export (Shopify's product CSV, Google Merchant
// Center's feeds in TSV and XML). `npm run catalogue -- import` reads them from disk and sends them
// to a gateway; the `productsImport` mutation reads an uploaded one into an import job.
import type { Readable } from 'node:stream';

import type { Entry } from './entry';
import { readGenericCsv, readJsonLines } from './generic';
import { readMerchantTsv, readMerchantXml } from './merchant-feed';
import { readShopifyCsv } from './shopify-csv';

export { NotAProductFile, type Entry, type ProductInput } from './entry';
export { plainText, SHOPIFY_MAX_IMAGES, shopifyAttributes, type ShopifyFields } from './shopify-product';

export const FORMATS = ['jsonl', 'csv', 'shopify-csv', 'merchant-tsv', 'merchant-xml'] as const;
export type Format = (typeof FORMATS)[number];

/** The format a file's name implies when none is given: .csv is the project's CSV, anything else JSON Lines. */
export function formatOf(file: string): Format {
  return /\.csv$/i.test(file) ? 'csv' : 'jsonl';
}

/**
 * The products of a file's bytes, in order, read as they arrive (files larger than memory are
 * fine); `name` is how messages name the file. A file that is not of `format` as a whole throws
 * NotAProductFile; a line that cannot be read is an entry of its own (`ok: false`).
 */
export function readProducts(input: Readable, name: string, format: Format = formatOf(name)): AsyncGenerator<Entry> {
  switch (format) {
    case 'csv':
      return readGenericCsv(input);
    case 'jsonl':
      return readJsonLines(input);
    case 'shopify-csv':
      return readShopifyCsv(input, name);
    case 'merchant-tsv':
      return readMerchantTsv(input, name);
    case 'merchant-xml':
      return readMerchantXml(input);
  }
}
