/**
 * The PostgreSQL tables' rows come out decoded (jsonb as objects, text[] as arrays, booleans), so
 * the port's rows are made from them as they are (see ../rows.ts); only the columns read differ.
 */
export const PRODUCT_COLUMNS = 'p.id, p.title, p.description, p.attributes, p.image_hashes, p.image_urls, p.created_at, p.updated_at';
