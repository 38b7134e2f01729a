import { modelKey, type JobChunk, type JobError, type ModelState, type VectorModel } from './port';
import type { JobColumns } from './rows';

/** The rules of jobs that do not depend on the engine: which jobs a worker takes, chunks, and how a stuck one ends. */

/** The statuses of a job still to be worked on, as an SQL condition (the same in both dialects). */
export const ACTIVE = `status IN ('QUEUED', 'RUNNING')`;

/**
 * A re-embedding job is worked on by gateways of its own model; a tagging job, by gateways of the
 * active model (the one whose vectors tags come from).
 */
export function takesJob(job: Pick<JobColumns, 'reembed' | 'model'>, active: VectorModel | null, worker: VectorModel): boolean {
  const mine = modelKey(worker);
  return job.reembed ? job.model === mine : active !== null && modelKey(active) === mine;
}

/** Whether a new job with these arguments is a model change: re-embedding with a model that is not the active one. */
export function changesModel(reembed: boolean, model: VectorModel, { active }: ModelState): boolean {
  return reembed && active !== null && modelKey(active) !== modelKey(model);
}

/** A claimed chunk of `job`: the ids cut for it, under this claim's token. */
export function chunkOf(job: JobColumns, claim: string, seq: number, productIds: string[], attempts: number): JobChunk {
  return {
    jobId: job.id,
    seq,
    productIds,
    claim,
    filter: job.filter,
    reembed: job.reembed,
    model: job.model,
    changesModel: job.changes_model,
    attempts,
    // A taxonomy job's chunks hold prompt texts, and an import job's the file's entries, where other jobs' hold product ids.
    texts: null,
    entries: null,
    ...(job.taxonomy ? { productIds: [], texts: productIds } : {}),
    ...(job.import_source ? { productIds: [], entries: productIds } : {}),
  };
}

/** The error a job fails with when one of its chunks was claimed JOB_CHUNK_MAX_ATTEMPTS times and never completed. */
/**
 * Products in a chunk cut from this job: `chunkSize` for a job that embeds images (re-embedding, or
 * a model change embedding the products that lack the new model's vector), `tagChunkSize` for one
 * that only tags from stored vectors, whose products cost some 50 µs each rather than an image's
 * inference, and whose per-chunk claim and completion would otherwise cost more than the tagging.
 */
export function chunkSizeOf(job: Pick<JobColumns, 'reembed' | 'changes_model'>, chunkSize: number, tagChunkSize: number): number {
  return job.reembed || job.changes_model ? chunkSize : tagChunkSize;
}

export function abandonedChunk(seq: number, attempts: number): JobError {
  return { field: null, message: `chunk ${seq} was claimed ${attempts} times without completing; the job stopped.`, code: 'JOB_FAILED' };
}
