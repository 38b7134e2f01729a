// The soak's tagging jobs: a taggingJobStart(reembed: true) every jobEverySeconds when none runs,
// the running one polled every 2 s, all on the soak's own client and counted in its tally.
import type { Client } from './client';
import { timers } from './processes';
import { progress, sleep } from './progress';
import { TERMINAL, type JobRecord } from './run';
import type { Session } from './session';
import type { Tally } from './stats';
import { QUERIES } from './workload';

export class TaggingJobs {
  readonly jobs: JobRecord[] = [];
  /** New jobs are started while this holds; the running one is polled either way. */
  open = true;
  private busy = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly session: Session,
    private readonly client: Client,
    private readonly tally: Tally,
    /** Seconds since the soak's load began. */
    private readonly elapsedS: () => number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick().catch((error: unknown) => progress(`job tick failed: ${String(error)}`)), 2000);
    timers.add(this.timer);
    void this.tick();
  }

  /** The last job started, if any, has ended (or none was started). */
  get finished(): boolean {
    const last = this.jobs[this.jobs.length - 1];
    return !last?.id || TERMINAL.has(last.status ?? '');
  }

  /** No more ticks; resolves once the one under way, if any, is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.timer) timers.delete(this.timer);
    while (this.busy) await sleep(50);
  }

  private async tick(): Promise<void> {
    const { jobs, client, tally, elapsedS } = this;
    if (this.busy) return;
    this.busy = true;
    try {
      const current = jobs[jobs.length - 1];
      if (current?.id && !TERMINAL.has(current.status ?? '')) {
        current.polls++;
        const o = await this.session.graphql(client, JSON.stringify({ query: QUERIES.job, variables: { id: current.id } }), {
          stats: tally.of('taggingJob'),
        });
        const job = o.data?.taggingJob as Partial<JobRecord> | undefined;
        if (o.ok && job) {
          Object.assign(current, {
            status: job.status,
            total: job.total,
            processed: job.processed,
            failed: job.failed,
            errors: job.errors?.slice(0, 3),
          });
          if (TERMINAL.has(job.status ?? '')) {
            current.finishedAtS = elapsedS();
            progress(`tagging job ${current.id}: ${job.status}, ${job.processed}/${job.total} processed, ${job.failed} failed`);
          }
        }
        return;
      }
      // A job every jobEverySeconds; a start that failed (refused, timed out) is tried again after 5 s.
      const due = !current || elapsedS() - current.startedAtS >= (current.id ? this.session.settings.jobEverySeconds : 5);
      if (!this.open || !due) return;
      const key = `soak-job-${jobs.length}`;
      const record: JobRecord = { key, startedAtS: elapsedS(), polls: 0 };
      jobs.push(record);
      const o = await this.session.graphql(client, JSON.stringify({ query: QUERIES.jobStart, variables: { k: key } }), {
        stats: tally.of('taggingJobStart'),
      });
      const job = (o.data?.taggingJobStart as { job?: { id: string; status: string; total: number } | null } | undefined)?.job;
      if (o.ok && job) Object.assign(record, { id: job.id, status: job.status, total: job.total });
      else record.startProblem = `${o.status} ${o.codes.join(',')} ${o.problem ?? ''}`.trim();
    } finally {
      this.busy = false;
    }
  }
}
