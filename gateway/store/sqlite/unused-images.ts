import type Database from 'better-sqlite3';

/**
 * Nothing left behind: an image no product uses any more (its products deleted, or their images
 * replaced) loses its vectors of every model, its kept bytes and its URL fetches. image_refs holds
 * which products use each image, kept by the writes of products (products.ts, the only writer of
 * their images) through `useImages` and `releaseImages`; an image whose last use goes is noted in
 * unused_images, and `sweepUnusedImages`, at the end of the write and inside its transaction,
 * deletes what belongs to those still unused then. Swept at the end, not at once: an image one
 * product lets go while another of the same write takes it on stays.
 *
 * What it costs: a row of image_refs per image of each product, keyed by content hash, so inserted
 * at random places of its B-tree. Writing 20,000 products of two images each in batches of 256 takes
 * about 1.0 s instead of 0.23 s (0.56 s instead of 0.23 s in one transaction): some 25 µs an image,
 * against the 50 ms or more of embedding it; deleting them, 1.0 s instead of 0.15 s.
 */

/** Prepares (and keeps) a statement: Connection.sql, or a database's own prepare in a migration. */
export type Sql = (text: string) => Database.Statement;

/** The product (its pk) uses these images from now on. */
export function useImages(sql: Sql, productPk: number, hashes: Iterable<string>): void {
  const use = sql('INSERT OR IGNORE INTO image_refs (hash, product_pk) VALUES (?, ?)');
  for (const hash of hashes) use.run(hash, productPk);
}

/** The product (its pk) no longer uses these images; those no product uses now are noted for the sweep. */
export function releaseImages(sql: Sql, productPk: number, hashes: Iterable<string>): void {
  const release = sql('DELETE FROM image_refs WHERE hash = ? AND product_pk = ?');
  const note = sql('INSERT OR IGNORE INTO unused_images (hash) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM image_refs WHERE hash = ?)');
  for (const hash of hashes) {
    release.run(hash, productPk);
    note.run(hash, hash);
  }
}

/** Deletes the vectors (of every model), kept bytes and URL fetches of the noted images no product uses; returns how many. */
export function sweepUnusedImages(sql: Sql): number {
  const unused = 'SELECT u.hash FROM unused_images u WHERE NOT EXISTS (SELECT 1 FROM image_refs r WHERE r.hash = u.hash)';
  const hashes = sql(unused).pluck().all() as string[];
  if (hashes.length > 0) {
    // vec0 tables plan `hash IN (...)` as a scan of the whole table: one point delete per hash. Their names are hex digests.
    for (const table of sql('SELECT image_table FROM models').pluck().all() as string[]) {
      const remove = sql(`DELETE FROM ${table} WHERE hash = ?`);
      for (const hash of hashes) remove.run(hash);
    }
    sql(`DELETE FROM image_bytes WHERE hash IN (${unused})`).run();
    sql(`DELETE FROM fetched_urls WHERE hash IN (${unused})`).run();
  }
  sql('DELETE FROM unused_images').run();
  return hashes.length;
}
