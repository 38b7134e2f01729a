import { ErrorCode, GatewayError } from '../common/errors';
import type { JobRow, JobStatus } from '../store';
import { FOLLOW_INTERVAL_MS, pause, stoppable } from './follow';
import type { CatalogueService } from './service';

/** The states a job does not leave. */
const ENDED: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

type Catalogue = Pick<CatalogueService, 'getTaggingJob'>;

/**
 * A tagging job as it is now, then each time its status or counts change, until it ends (the last
 * one given is SUCCEEDED, FAILED or CANCELLED). An unknown id fails with NOT_FOUND. Read every
 * FOLLOW_INTERVAL_MS: jobs are run by whichever gateway claims their chunks, so the store, not
 * this process, is where progress is seen. It stops reading as soon as `signal` aborts or the
 * iterator is returned (its subscriber left), even between two reads (see stoppable).
 */
export function followTaggingJob(
  catalogue: Catalogue,
  id: string,
  signal?: AbortSignal,
  intervalMs = FOLLOW_INTERVAL_MS,
): AsyncIterableIterator<JobRow> {
  return stoppable(signal, (stop) => changesOf(catalogue, id, stop, intervalMs));
}

async function* changesOf(catalogue: Catalogue, id: string, stop: AbortSignal, intervalMs: number): AsyncGenerator<JobRow, undefined> {
  let seen: string | undefined;
  while (!stop.aborted) {
    const job = await catalogue.getTaggingJob(id);
    if (!job) throw new GatewayError(ErrorCode.NOT_FOUND, `No tagging job has the id ${JSON.stringify(id)}.`);
    const state = `${job.status} ${job.total} ${job.processed} ${job.failed}`;
    if (state !== seen) {
      seen = state;
      yield job;
    }
    if (ENDED.includes(job.status)) return undefined;
    await pause(intervalMs, stop);
  }
  return undefined;
}
