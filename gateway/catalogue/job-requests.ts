import { ErrorCode } from '../common/errors';
import type { CatalogueStore, JobRow, JobStatus, NewJob, ProductFilter } from '../store';
import { FieldError, storeCall } from './errors';
import { checkFilter, checkFirst, type CatalogueLimits } from './limits';
import type { ModelRoles } from './models';

/** Longest idempotency key. */
const MAX_KEY_LENGTH = 200;
/** Longest filter quoted in a message (its JSON). */
const QUOTED_FILTER_LENGTH = 200;
const ENDED: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * What callers ask of tagging jobs: to make one (a model change included), to read them, and to
 * cancel one. The work itself is the runner's (jobs.ts) and the chunks' (chunks.ts).
 */
export class JobRequests {
  /** Called when a tagging job is made, so that a runner starts on it at once. */
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly store: CatalogueStore,
    private readonly models: ModelRoles,
    private readonly limits: CatalogueLimits,
  ) {}

  /** Calls `listener` whenever a tagging job is made. */
  onJobStarted(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Makes a job that works through the products matching `filter` in the background (see jobs.ts):
   * without `reembed`, re-tags them from their stored vectors; with it, embeds their images again
   * (URLs fetched again, so images changed at the same URL are picked up) and re-tags them. On a
   * gateway whose model is not the catalogue's, `reembed` is a model change instead, over the
   * whole catalogue (see ModelRoles.init). The same idempotency key with the same filter and
   * reembed returns the job it made first; with another filter or reembed it is refused.
   */
  async start(filter: ProductFilter, reembed: boolean, idempotencyKey?: string | null): Promise<JobRow> {
    checkFilter(filter, this.limits);
    if (idempotencyKey !== undefined && idempotencyKey !== null && (idempotencyKey.trim() === '' || idempotencyKey.length > MAX_KEY_LENGTH))
      throw new FieldError(
        ['idempotencyKey'],
        ErrorCode.BAD_USER_INPUT,
        `idempotencyKey must be 1 to ${MAX_KEY_LENGTH} characters, not blank.`,
      );
    const { role, state } = await this.models.role();
    if (reembed && role !== 'active') {
      if (Object.values(filter).some((v) => v !== undefined))
        throw new FieldError(
          ['filter'],
          ErrorCode.BAD_USER_INPUT,
          `filter: this gateway's model ${this.models.key} is not the catalogue's, so reembed is a model change, which covers the whole catalogue; leave filter out.`,
        );
      return this.startModelChange(idempotencyKey);
    }
    // A tagging job is the active model's: gateways serving it take its chunks.
    const model = reembed ? this.models.model : (state.active ?? this.models.model);
    return (await this.create({ filter, reembed, model, idempotencyKey: idempotencyKey ?? null })).job;
  }

  /** Starts a model change to this gateway's model (see ModelRoles.init); refused while a change to another model is under way. */
  async startModelChange(idempotencyKey?: string | null): Promise<JobRow> {
    const { job, created } = await this.create({
      filter: {},
      reembed: true,
      model: this.models.model,
      idempotencyKey: idempotencyKey ?? null,
    });
    if (!created && job.model !== this.models.key && (job.status === 'QUEUED' || job.status === 'RUNNING'))
      throw new FieldError(
        ['reembed'],
        ErrorCode.BAD_USER_INPUT,
        `reembed: a model change to ${job.model} is under way (job ${job.id}); cancel it before changing to ${this.models.key}.`,
      );
    return job;
  }

  get(id: string): Promise<JobRow | undefined> {
    return storeCall(() => this.store.getJob(id));
  }

  /** The newest tagging jobs, newest first. */
  list(first: number): Promise<JobRow[]> {
    checkFirst(first, this.limits);
    return storeCall(() => this.store.listJobs(first));
  }

  /** Cancels a QUEUED or RUNNING job; one that has ended (or ends meanwhile) is BAD_USER_INPUT naming its final status. */
  async cancel(id: string): Promise<JobRow> {
    const notFound = () => new FieldError(['id'], ErrorCode.NOT_FOUND, `id: no tagging job has the id ${JSON.stringify(id)}.`);
    const before = await this.get(id);
    if (!before) throw notFound();
    if (ENDED.includes(before.status)) throw ended(before);
    const job = await storeCall(() => this.store.cancelJob(id));
    if (!job) throw notFound();
    // SUCCEEDED or FAILED between the two reads: the job ended on its own before the cancel reached it.
    if (job.status !== 'CANCELLED') throw ended(job);
    return job;
  }

  /** The store's createJob; a key used before must come with the same request, and listeners hear of a new job. */
  private async create(request: NewJob): Promise<{ job: JobRow; created: boolean }> {
    const made = await storeCall(() => this.store.createJob(request));
    if (!made.created && request.idempotencyKey && made.job.idempotencyKey === request.idempotencyKey) sameRequest(made.job, request);
    if (made.created) for (const listener of this.listeners) listener();
    return made;
  }
}

/** Throws BAD_USER_INPUT naming the key and what differs unless `request` asks for what made `job`. */
function sameRequest(job: JobRow, request: NewJob): void {
  const then: string[] = [];
  const now: string[] = [];
  const [before, after] = [canonical(job.filter), canonical(request.filter)];
  if (before !== after) {
    then.push(`filter ${cut(before)}`);
    now.push(`filter ${cut(after)}`);
  }
  if (job.reembed !== request.reembed) {
    then.push(`reembed ${job.reembed}`);
    now.push(`reembed ${request.reembed}`);
  }
  if (then.length === 0) return;
  throw new FieldError(
    ['idempotencyKey'],
    ErrorCode.BAD_USER_INPUT,
    `idempotencyKey: ${JSON.stringify(request.idempotencyKey)} already started tagging job ${job.id} with ${then.join(' and ')}; this request has ${now.join(' and ')}. A key repeats only the request it was first sent with; use a new key for a new job.`,
  );
}

/** A filter as JSON with its keys sorted: PostgreSQL's jsonb gives a stored filter back with its keys in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function cut(json: string): string {
  return json.length > QUOTED_FILTER_LENGTH ? `${json.slice(0, QUOTED_FILTER_LENGTH)}…` : json;
}

function ended(job: JobRow): FieldError {
  return new FieldError(
    ['id'],
    ErrorCode.BAD_USER_INPUT,
    `id: tagging job ${job.id} has already ended (${job.status}); only a QUEUED or RUNNING job can be cancelled.`,
  );
}
