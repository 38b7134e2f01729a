import type Database from 'better-sqlite3';

/**
 * Nothing left behind: an image no product uses any more (its products deleted, or their images
 * replaced) loses its vectors of every model, its kept bytes and its URL fetches. Triggers on
 * products keep image_refs (which products use each image) and note in unused_images each image
 * whose last use went (schema.ts); this sweep, run at the end of every write of products inside
 * its transaction, deletes what belongs to those still unused then. Swept at the end, not at once:
 * an image one product lets go while another of the same write takes it on stays.
 */
export function sweepUnusedImages(db: Database.Database): number {
  const unused = `SELECT u.hash FROM unused_images u WHERE NOT EXISTS (SELECT 1 FROM image_refs r WHERE r.hash = u.hash)`;
  const hashes = db.prepare(unused).pluck().all() as string[];
  if (hashes.length > 0) {
    // vec0 tables plan `hash IN (...)` as a scan of the whole table: one point delete per hash. Their names are hex digests.
    for (const table of db.prepare('SELECT image_table FROM models').pluck().all() as string[]) {
      const remove = db.prepare(`DELETE FROM ${table} WHERE hash = ?`);
      for (const hash of hashes) remove.run(hash);
    }
    db.exec(`DELETE FROM image_bytes WHERE hash IN (${unused}); DELETE FROM fetched_urls WHERE hash IN (${unused});`);
  }
  db.exec('DELETE FROM unused_images');
  return hashes.length;
}
