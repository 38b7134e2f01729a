import { ErrorCode, GatewayError } from '../common/errors';
import type { JobRow, JobStatus } from '../store';
import type { CatalogueService } from './service';

/** The states a job does not leave. */
const ENDED: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * How often a follower reads its job: often enough for a progress bar, one row read each time.
 * Jobs are run by whichever gateway claims their chunks, so the store, not this process, is where
 * progress is seen.
 */
export const FOLLOW_INTERVAL_MS = 250;

/**
 * A tagging job as it is now, then each time its status or counts change, until it ends (the last
 * one yielded is SUCCEEDED, FAILED or CANCELLED). Stops early when `signal` aborts (the
 * subscriber left). An unknown id fails with NOT_FOUND.
 */
export async function* followTaggingJob(
  catalogue: Pick<CatalogueService, 'getTaggingJob'>,
  id: string,
  signal?: AbortSignal,
  intervalMs = FOLLOW_INTERVAL_MS,
): AsyncGenerator<JobRow> {
  let seen: string | undefined;
  while (!signal?.aborted) {
    const job = await catalogue.getTaggingJob(id);
    if (!job) throw new GatewayError(ErrorCode.NOT_FOUND, `No tagging job has the id ${JSON.stringify(id)}.`);
    const state = `${job.status} ${job.total} ${job.processed} ${job.failed}`;
    if (state !== seen) {
      seen = state;
      yield job;
    }
    if (ENDED.includes(job.status)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, intervalMs);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
