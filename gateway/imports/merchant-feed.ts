// Google Merchant Center product feeds, in the import's products: the text feed (TSV) and the XML
// feeds (RSS 2.0, Atom 1.0). Items sharing an item_group_id become one product with the group's id.
export { readMerchantTsv } from './merchant-tsv';
export { readMerchantXml } from './merchant-xml';
