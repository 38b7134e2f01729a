import { deadlineOf } from '../common/deadline';
import { ErrorCode, GatewayError } from '../common/errors';
import { TAXONOMY_NOT_SET, type CatalogueStore, type JobError, type JobRow, type JobStatus, type TaxonomyRow } from '../store';
import { FieldError, storeCall } from './errors';
import { FOLLOW_INTERVAL_MS } from './follow';
import type { JobSignals } from './job-signals';

/** What a taxonomy change had come to when its caller stopped waiting. */
export interface TaxonomyChange {
  /** The taxonomy job, as last read. */
  job: JobRow;
  /** The re-tagging job it queued when it set the taxonomy, as last read; undefined before then. */
  retagging?: JobRow;
  /** The taxonomy it set; undefined while it is not set yet, and when it never will be (see errors). */
  taxonomy?: TaxonomyRow;
  /** Why it will never be set: the job's errors when it FAILED, or its cancellation. Empty otherwise. */
  errors: JobError[];
}

const ENDED: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** What waiting leaves of a request's time for its answer: 1 s, or a fifth of a shorter time. */
const ANSWER_MARGIN_MS = 1_000;
const ANSWER_MARGIN_SHARE = 0.2;

/** Jobs read, newest first, to find the re-tagging a taxonomy job queued: made in its last transaction, it is among the newest. */
const RECENT_JOBS = 20;

/**
 * Follows a taxonomy job, and the re-tagging it queues, for a caller that waits for them: the
 * caller itself does no work, it reads the jobs again each time this gateway's runner did a step
 * (JobSignals), or every FOLLOW_INTERVAL_MS for the work of other gateways.
 */
export class TaxonomyWaits {
  constructor(
    private readonly store: CatalogueStore,
    private readonly signals: JobSignals,
  ) {}

  /**
   * Waits until the job has ended and, when it set the taxonomy, its re-tagging too; or until the
   * deadline `signal` carries (common/deadline.ts) is near, leaving time to answer; or until
   * `signal` aborts. Without a deadline it waits as long as the work takes.
   */
  async follow(job: JobRow, signal?: AbortSignal): Promise<TaxonomyChange> {
    const deadline = deadlineOf(signal);
    const until = deadline === undefined ? Infinity : deadline - Math.min(ANSWER_MARGIN_MS, (deadline - Date.now()) * ANSWER_MARGIN_SHARE);
    const stop = new AbortController();
    const abort = () => stop.abort();
    if (signal?.aborted) stop.abort();
    else signal?.addEventListener('abort', abort, { once: true });
    let retagging: JobRow | undefined;
    let woken = false;
    try {
      for (;;) {
        // Asked before reading, so that a step of the runner made while reading is not missed.
        const progress = this.signals.next(Math.min(FOLLOW_INTERVAL_MS, until - Date.now()), stop.signal);
        job = (await this.read(job.id)) ?? job;
        if (retagging) retagging = (await this.read(retagging.id)) ?? retagging;
        else if (job.status === 'SUCCEEDED') retagging = await this.retaggingOf(job);
        if (settled(job, retagging) || stop.signal.aborted || Date.now() >= until) break;
        if (retagging?.status === 'QUEUED' && !woken) {
          // Queued by a claim that found no prompt to embed: the runner would look again only at its next poll.
          woken = true;
          this.signals.work();
        }
        await progress;
      }
    } finally {
      stop.abort();
      signal?.removeEventListener('abort', abort);
    }
    return this.outcome(job, retagging);
  }

  /** The job as it is now, with the taxonomy it set or why it will not set one. */
  async outcome(job: JobRow, retagging?: JobRow): Promise<TaxonomyChange> {
    if (job.status === 'SUCCEEDED') {
      const taxonomy = await storeCall(() => this.store.getTaxonomy());
      return { job, retagging, taxonomy, errors: [] };
    }
    if (job.status === 'FAILED') return { job, retagging, errors: job.errors };
    if (job.status === 'CANCELLED')
      return {
        job,
        retagging,
        errors: [
          {
            field: null,
            code: TAXONOMY_NOT_SET,
            message: `taxonomy job ${job.id} was cancelled before its prompts were all embedded (a later taxonomySet replaces an open one, as taggingJobCancel ends one), so its taxonomy was not set.`,
          },
        ],
      };
    return { job, retagging, errors: [] };
  }

  private read(id: string): Promise<JobRow | undefined> {
    return storeCall(() => this.store.getJob(id));
  }

  /** The tagging job of every product the store queued in the transaction that ended `job` (so made at its finishedAt). */
  private async retaggingOf(job: JobRow): Promise<JobRow | undefined> {
    const recent = await storeCall(() => this.store.listJobs(RECENT_JOBS));
    return recent.find(
      (j) => j.taxonomy === null && !j.reembed && !j.changesModel && j.model === job.model && j.createdAt === job.finishedAt,
    );
  }
}

/** Nothing more to wait for: the job ended, and a re-tagging it queued (if found) ended too. */
function settled(job: JobRow, retagging: JobRow | undefined): boolean {
  if (!ENDED.includes(job.status)) return false;
  return job.status !== 'SUCCEEDED' || retagging === undefined || ENDED.includes(retagging.status);
}

/**
 * The taxonomy a change set, for callers that need it set (or an error): a job that failed is the
 * first of its errors that names a field (a prompt names its facet and label), else its first; one
 * still running when the wait ended is DEADLINE_EXCEEDED naming the job to follow.
 */
export function taxonomySet(change: TaxonomyChange): TaxonomyRow {
  if (change.taxonomy) return change.taxonomy;
  const error = change.errors.find((e) => e.field !== null) ?? change.errors[0];
  if (error) {
    const known = (Object.values(ErrorCode) as string[]).includes(error.code);
    throw new FieldError(error.field ?? ['facets'], known ? (error.code as ErrorCode) : ErrorCode.BAD_USER_INPUT, error.message);
  }
  throw new GatewayError(
    ErrorCode.DEADLINE_EXCEEDED,
    `The taxonomy was not set before the request's deadline; taxonomy job ${change.job.id} goes on (follow it with taggingJob).`,
  );
}
