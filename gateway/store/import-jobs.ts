import { check, positiveInt } from '../../functions/options';
import type { ImportJob, NewJob } from './port';

/**
 * Import jobs: a product file uploaded to the gateway is read inside its request (so that a file
 * that is not of its format is refused there) and waits in a job whose chunks are the file's
 * entries, cut once when the job is made, in file order. Any gateway of the job's model claims them
 * and upserts their products; total and processed count the file's entries. A gateway killed with
 * a chunk in hand loses nothing: the chunk is claimed again after its lease and its products
 * upserted again, which stores the same products (images already stored are not embedded again).
 * The store holds the entries as opaque strings: what they mean is the catalogue's.
 */

/** Checks an import job before its transaction: it covers no products of the store, and its entries and chunk size are sound. */
export function checkImportJob(job: NewJob): ImportJob {
  const imported = job.import!;
  if (job.taxonomy) throw new TypeError('a job imports a file or sets a taxonomy, not both');
  if (job.reembed) throw new TypeError('an import job upserts products from its file: reembed must be false');
  if (Object.values(job.filter).some((value) => value !== undefined))
    throw new TypeError('an import job covers no stored products: filter must be {}');
  const { source, entries } = imported;
  if (typeof source?.file !== 'string' || typeof source.format !== 'string')
    throw new TypeError('import.source must be { file: string, format: string }');
  if (!Array.isArray(entries)) throw new TypeError('import.entries must be an array of strings');
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string') throw new TypeError(`import.entries[${i}] must be a string, got ${typeof entry}`);
  });
  check('import.chunkSize', imported.chunkSize, positiveInt);
  return { source: { file: source.file, format: source.format }, entries, chunkSize: imported.chunkSize };
}
