/**
 * The tagging job runner: every gateway runs one. It polls the store for work and does one chunk
 * at a time: claim a chunk (a transaction in the store), compute its products' automatic tags from
 * their stored vectors with the current taxonomy (a re-embedding job embeds their images first; a
 * taxonomy job's chunk is label prompts to embed instead, see taxonomy-jobs.ts, and an import job's
 * a file's products to upsert, see import-jobs.ts), and complete it
 * (the vectors, the tags, the chunk done and the job's counts in one transaction). It claims only
 * work its gateway's model can do: re-embedding for that model, tagging (and a taxonomy's prompts)
 * while it is the catalogue's active model. The job lives in the store, not here: a gateway killed in the
 * middle of a chunk loses nothing, because the chunk stays claimed until its lease runs out and is
 * then handed to the next claimer, and its tags were either all written with the chunk's completion
 * or not at all.
 */
import { check, nonNegativeInt, positiveInt, timeoutMs, type EnvReader } from '../../functions/options';
import type { Logger } from '../common/log';
import { PollingLoop, workerName } from '../common/polling';
import type { CatalogueStore, JobRow } from '../store';
import type { CatalogueService } from './service';

export interface JobRunnerOptions {
  /** Products per chunk of a job that embeds images (env JOB_CHUNK_SIZE). Default 100. */
  chunkSize: number;
  /**
   * Products per chunk of a job that only tags from stored vectors, such as the re-tagging after a
   * taxonomy change (env JOB_TAG_CHUNK_SIZE). Default 2000: ~0.1 s of tagging and one transaction
   * of ~30 ms of SQLite's write lock a chunk; at 100 a chunk the claims and completions made
   * re-tagging 20,000 products 2.5× slower than tagging them.
   */
  tagChunkSize: number;
  /**
   * How long a claim holds before another gateway may take the chunk over (env JOB_LEASE_MS),
   * in ms: longer than a chunk ever takes. Default 60000.
   */
  leaseMs: number;
  /** How often an idle runner looks for work, in ms (env JOB_POLL_MS). Default 1000. */
  pollMs: number;
  /** Pause between two chunks, in ms, leaving the database to requests (env JOB_PAUSE_MS). Default 0. */
  pauseMs: number;
}

export const DEFAULT_JOB_RUNNER_OPTIONS: JobRunnerOptions = {
  chunkSize: 100,
  tagChunkSize: 2000,
  leaseMs: 60_000,
  pollMs: 1_000,
  pauseMs: 0,
};

/** The runner's options from JOB_CHUNK_SIZE, JOB_TAG_CHUNK_SIZE, JOB_LEASE_MS, JOB_POLL_MS and JOB_PAUSE_MS. */
export function jobRunnerFromEnv(read: EnvReader): JobRunnerOptions {
  const base = DEFAULT_JOB_RUNNER_OPTIONS;
  return {
    chunkSize: read.get('JOB_CHUNK_SIZE', positiveInt, base.chunkSize),
    tagChunkSize: read.get('JOB_TAG_CHUNK_SIZE', positiveInt, base.tagChunkSize),
    leaseMs: read.get('JOB_LEASE_MS', timeoutMs, base.leaseMs),
    pollMs: read.get('JOB_POLL_MS', timeoutMs, base.pollMs),
    pauseMs: read.get('JOB_PAUSE_MS', nonNegativeInt, base.pauseMs),
  };
}

export class TaggingJobRunner {
  /** This runner's name in the chunks it claims: host, process and a random suffix. */
  readonly worker = workerName();
  private readonly options: JobRunnerOptions;
  private readonly loop: PollingLoop;
  private lastReclaim = 0;

  constructor(
    private readonly store: CatalogueStore,
    private readonly catalogue: CatalogueService,
    options: Partial<JobRunnerOptions> = {},
    private readonly log: Logger = () => undefined,
  ) {
    const o = { ...DEFAULT_JOB_RUNNER_OPTIONS, ...options };
    check('chunkSize', o.chunkSize, positiveInt);
    check('tagChunkSize', o.tagChunkSize, positiveInt);
    check('leaseMs', o.leaseMs, timeoutMs);
    check('pollMs', o.pollMs, timeoutMs);
    check('pauseMs', o.pauseMs, nonNegativeInt);
    this.options = o;
    this.loop = new PollingLoop(() => this.step(), o.pollMs);
  }

  start(): void {
    this.loop.start();
  }

  /** Looks for work now instead of at the next poll (a job was just made), or as soon as the step under way ends. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops polling and waits for the chunk in hand to complete. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One chunk if there is one; the wait before the next step: the pause after a chunk, else a poll. */
  private async step(): Promise<number> {
    let next = this.options.pollMs;
    try {
      if (await this.once()) next = this.options.pauseMs;
    } catch (error) {
      // The chunk stays claimed; after its lease another claim (maybe this runner's) takes it over.
      this.log('tagging job: a chunk failed and will be retried after its lease', error);
    }
    // Whoever waits on a job here reads it again now rather than at its next look at the store.
    this.catalogue.jobProgressed();
    return next;
  }

  /** Reclaims stale chunks (at most once a poll), then claims and does one chunk. True when it did one. */
  async once(): Promise<boolean> {
    const now = Date.now();
    if (now - this.lastReclaim >= this.options.pollMs) {
      this.lastReclaim = now;
      const released = await this.store.reclaimStaleJobChunks(new Date(now - this.options.leaseMs).toISOString());
      if (released > 0) this.log(`tagging job: ${released} chunk(s) whose claim outlived its lease are available again`);
    }
    const chunk = await this.store.claimJobChunk(this.worker, this.options.chunkSize, this.catalogue.model, this.options.tagChunkSize);
    if (!chunk) return false;
    const outcome = chunk.texts
      ? await this.catalogue.embedPromptChunk(chunk)
      : chunk.entries
        ? await this.catalogue.importChunk(chunk)
        : chunk.reembed
          ? await this.catalogue.embedChunk(chunk)
          : await this.catalogue.tagChunk(chunk.productIds);
    await this.store.completeJobChunk(chunk, outcome);
    return true;
  }
}

/** Seconds left at the rate so far (products done since the job started); null unless RUNNING with some done. */
export function etaSeconds(job: JobRow, now: Date = new Date()): number | null {
  if (job.status !== 'RUNNING' || job.startedAt === null) return null;
  const done = job.processed + job.failed;
  const elapsed = (now.getTime() - Date.parse(job.startedAt)) / 1000;
  if (done === 0 || elapsed <= 0) return null;
  return Math.max(0, job.total - done) / (done / elapsed);
}
