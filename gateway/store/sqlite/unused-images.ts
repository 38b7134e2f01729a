import { createHash } from 'node:crypto';

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
 * What it costs: a row of image_refs per image of each product, whose key (refKey) comes from the
 * content hash, so inserted at random places of its index: some 8 to 25 µs an image written or
 * deleted (BENCHMARKS.md 6.2b), against the 50 ms or more of embedding it.
 */

/** Prepares (and keeps) a statement: Connection.sql, or a database's own prepare in a migration. */
export type Sql = (text: string) => Database.Statement;

/**
 * An image's key in image_refs: the first 8 bytes of its hash, as a signed 64-bit integer. An
 * index of 8-byte keys has several times as many entries a page as one of 64-character hex, and its
 * inserts (at random places: the keys are hashes) dirty that many fewer pages. Two images sharing a
 * key (about one chance in 2^64 per pair) would only keep each other from being swept.
 */
export function refKey(hash: string): bigint {
  // A content hash is hex already: its first 16 digits are 8 bytes of it. Anything else is hashed first.
  if (/^[0-9a-f]{16}/i.test(hash)) return BigInt.asIntN(64, BigInt(`0x${hash.slice(0, 16)}`));
  return createHash('sha256').update(hash).digest().readBigInt64BE(0);
}

/** The product (its pk) uses these images from now on. */
export function useImages(sql: Sql, productPk: number, hashes: Iterable<string>): void {
  const use = sql('INSERT OR IGNORE INTO image_refs (key, product_pk) VALUES (?, ?)');
  for (const hash of hashes) use.run(refKey(hash), productPk);
}

/** The product (its pk) no longer uses these images; those no product uses now are noted for the sweep. */
export function releaseImages(sql: Sql, productPk: number, hashes: Iterable<string>): void {
  const release = sql('DELETE FROM image_refs WHERE key = ? AND product_pk = ?');
  const note = sql('INSERT OR IGNORE INTO unused_images (hash, key) VALUES (?, ?)');
  for (const hash of hashes) {
    const key = refKey(hash);
    release.run(key, productPk);
    note.run(hash, key);
  }
}

/** Deletes the vectors (of every model), kept bytes and URL fetches of the noted images no product uses; returns how many. */
export function sweepUnusedImages(sql: Sql): number {
  // Noted when a product let them go; those some product of the same write uses now stay.
  sql('DELETE FROM unused_images WHERE EXISTS (SELECT 1 FROM image_refs r WHERE r.key = unused_images.key)').run();
  const hashes = sql('SELECT hash FROM unused_images').pluck().all() as string[];
  if (hashes.length > 0) {
    // vec0 tables plan `hash IN (...)` as a scan of the whole table: one point delete per hash. Their names are hex digests.
    for (const table of sql('SELECT image_table FROM models').pluck().all() as string[]) {
      const remove = sql(`DELETE FROM ${table} WHERE hash = ?`);
      for (const hash of hashes) remove.run(hash);
    }
    sql('DELETE FROM image_bytes WHERE hash IN (SELECT hash FROM unused_images)').run();
    sql('DELETE FROM fetched_urls WHERE hash IN (SELECT hash FROM unused_images)').run();
  }
  sql('DELETE FROM unused_images').run();
  return hashes.length;
}
