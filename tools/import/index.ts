// The formats `npm run catalogue -- import` reads, each a stream of products (entry.ts): the
// project's own (generic.ts) and what shops export (Shopify's product CSV, Google Merchant Center's
// feeds in TSV and XML).
import type { Entry } from './entry';
import { readGenericCsv, readJsonLines } from './generic';
import { readMerchantTsv, readMerchantXml } from './merchant-feed';
import { readShopifyCsv } from './shopify-csv';

export type { Entry, ProductInput } from './entry';

export const FORMATS = ['jsonl', 'csv', 'shopify-csv', 'merchant-tsv', 'merchant-xml'] as const;
export type Format = (typeof FORMATS)[number];

/** The format a file's name implies when none is given: .csv is the project's CSV, anything else JSON Lines. */
export function formatOf(file: string): Format {
  return /\.csv$/i.test(file) ? 'csv' : 'jsonl';
}

/** The file's products in order, read as a stream (files larger than memory are fine). */
export function readProducts(file: string, format: Format = formatOf(file)): AsyncGenerator<Entry> {
  switch (format) {
    case 'csv':
      return readGenericCsv(file);
    case 'jsonl':
      return readJsonLines(file);
    case 'shopify-csv':
      return readShopifyCsv(file);
    case 'merchant-tsv':
      return readMerchantTsv(file);
    case 'merchant-xml':
      return readMerchantXml(file);
  }
}
