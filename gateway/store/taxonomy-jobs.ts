import { check, positiveInt } from '../../functions/options';
import type { JobError, NewJob, TaxonomyJob } from './port';

/**
 * Taxonomy jobs: a taxonomy whose label prompts are not all embedded yet is not set inside the
 * request that sends it. It waits in a job of the store, whose chunks are the prompts to embed
 * (cut once, when the job is made), claimed and completed like any job's, by any gateway of the
 * job's model; total and processed count prompts. When the last chunk is done the store, in that
 * transaction, makes the facets the next taxonomy version and queues a tagging job over every
 * product, as a model change switches over: a gateway killed on the way loses nothing, and the old
 * taxonomy tags products until the new one is complete.
 *
 * The latest request wins: making a taxonomy job cancels the taxonomy jobs still open, and a job
 * whose taxonomy was overtaken by a version set since it was made (a small taxonomy set inside its
 * request) fails rather than set an older one over it.
 */

/** The error code of a taxonomy job that ended without setting its taxonomy. */
export const TAXONOMY_NOT_SET = 'TAXONOMY_NOT_SET';

/** Checks a taxonomy job before its transaction: it covers no products, and its texts and chunk size are sound. */
export function checkTaxonomyJob(job: NewJob): TaxonomyJob {
  const taxonomy = job.taxonomy!;
  if (job.reembed) throw new TypeError('a taxonomy job embeds prompts, not images: reembed must be false');
  if (Object.values(job.filter).some((value) => value !== undefined))
    throw new TypeError('a taxonomy job covers no products: filter must be {}');
  if (!Array.isArray(taxonomy.facets)) throw new TypeError('taxonomy.facets must be an array of facets');
  if (!Array.isArray(taxonomy.texts)) throw new TypeError('taxonomy.texts must be an array of strings');
  taxonomy.texts.forEach((text, i) => {
    if (typeof text !== 'string') throw new TypeError(`taxonomy.texts[${i}] must be a string, got ${typeof text}`);
  });
  check('taxonomy.chunkSize', taxonomy.chunkSize, positiveInt);
  return { facets: taxonomy.facets, texts: [...new Set(taxonomy.texts)], chunkSize: taxonomy.chunkSize };
}

/**
 * Why a taxonomy job whose chunks are all done cannot set its taxonomy, or undefined when it can:
 * some prompts failed, or another version was set since the job was made (`baseVersion`, the
 * version then; `currentVersion`, now).
 */
export function taxonomyJobFailure(failed: number, baseVersion: number, currentVersion: number): JobError | undefined {
  if (failed > 0)
    return {
      field: null,
      message: `${failed} prompt(s) could not be embedded, so the taxonomy was not set; set it again to retry (prompts embedded meanwhile are kept and not embedded again).`,
      code: TAXONOMY_NOT_SET,
    };
  if (currentVersion !== baseVersion)
    return {
      field: null,
      message: `taxonomy version ${currentVersion} was set after this job was made (on version ${baseVersion}), so this job's taxonomy was not set over it.`,
      code: TAXONOMY_NOT_SET,
    };
  return undefined;
}
