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

type Catalogue = Pick<CatalogueService, 'getTaggingJob'>;

/**
 * A tagging job as it is now, then each time its status or counts change, until it ends (the last
 * one given is SUCCEEDED, FAILED or CANCELLED). An unknown id fails with NOT_FOUND. It stops
 * reading as soon as `signal` aborts or the iterator is returned (its subscriber left), even
 * between two reads: an async generator's own return() would wait for its next change, which a
 * job that does not move never makes.
 */
export function followTaggingJob(
  catalogue: Catalogue,
  id: string,
  signal?: AbortSignal,
  intervalMs = FOLLOW_INTERVAL_MS,
): AsyncIterableIterator<JobRow> {
  const stop = new AbortController();
  if (signal?.aborted) stop.abort();
  else signal?.addEventListener('abort', () => stop.abort(), { once: true });
  const changes = changesOf(catalogue, id, stop.signal, intervalMs);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => changes.next(),
    async return() {
      stop.abort();
      return changes.return(undefined);
    },
  };
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

/** Waits `ms`, or less when `stop` aborts (at once when it has already). */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
  });
}
