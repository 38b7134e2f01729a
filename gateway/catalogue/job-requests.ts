import { ErrorCode } from '../common/errors';
import type { CatalogueStore, FacetRow, ImportSource, JobRow, JobStatus, NewJob, ProductFilter } from '../store';
import { FieldError, storeCall } from './errors';
import type { JobSignals } from './job-signals';
import { checkFilter, checkFirst, type CatalogueLimits } from './limits';
import type { ModelRoles } from './models';

/** Longest idempotency key. */
const MAX_KEY_LENGTH = 200;
/** Longest filter quoted in a message (its JSON). */
const QUOTED_FILTER_LENGTH = 200;
const ENDED: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** What a job does: re-tags, re-embeds and re-tags, changes the catalogue's model, embeds a taxonomy's prompts and sets it, or imports a file's products. */
export const JOB_KINDS = ['tagging', 'reembedding', 'model_change', 'taxonomy', 'import'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export function jobKind(job: Pick<JobRow, 'taxonomy' | 'changesModel' | 'reembed' | 'importSource'>): JobKind {
  if (job.taxonomy !== null) return 'taxonomy';
  if (job.importSource !== null) return 'import';
  if (job.changesModel) return 'model_change';
  return job.reembed ? 'reembedding' : 'tagging';
}

/**
 * What callers ask of tagging jobs: to make one (a model change included), to read them, and to
 * cancel one. The work itself is the runner's (jobs.ts) and the chunks' (chunks.ts).
 */
export class JobRequests {
  constructor(
    private readonly store: CatalogueStore,
    private readonly models: ModelRoles,
    private readonly limits: CatalogueLimits,
    /** Told of each job made, so that this gateway's runner starts on it at once. */
    private readonly signals: JobSignals,
  ) {}

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
    checkIdempotencyKey(idempotencyKey);
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

  /**
   * Makes a taxonomy job (see store/taxonomy-jobs.ts): `texts`, the prompts the store lacks, are
   * embedded `chunkSize` at a time by the runners of the active model, then `facets` become the
   * next taxonomy version and a re-tagging job is queued. It cancels the taxonomy job still open.
   */
  async startTaxonomy(facets: FacetRow[], texts: string[], chunkSize: number): Promise<JobRow> {
    const { state } = await this.models.role();
    const model = state.active ?? this.models.model;
    return (await this.create({ filter: {}, reembed: false, model, taxonomy: { facets, texts, chunkSize } })).job;
  }

  /**
   * Makes an import job (see store/import-jobs.ts): `entries`, the file's, are upserted `chunkSize`
   * at a time by the runners of the active model. The same idempotency key with the same file
   * (name and format) returns the job it made first.
   */
  async startImport(source: ImportSource, entries: string[], chunkSize: number, idempotencyKey?: string | null): Promise<JobRow> {
    checkIdempotencyKey(idempotencyKey);
    const { state } = await this.models.role();
    const model = state.active ?? this.models.model;
    const request = { filter: {}, reembed: false, model, idempotencyKey: idempotencyKey ?? null, import: { source, entries, chunkSize } };
    return (await this.create(request)).job;
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

  /** The store's createJob; a key used before must come with the same request, and the runner hears of a new job. */
  private async create(request: NewJob): Promise<{ job: JobRow; created: boolean }> {
    const made = await storeCall(() => this.store.createJob(request));
    if (!made.created && request.idempotencyKey && made.job.idempotencyKey === request.idempotencyKey) sameRequest(made.job, request);
    if (made.created) this.signals.work();
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
  const [file, asked] = [sourceOf(job.importSource), sourceOf(request.import?.source ?? null)];
  if (file !== asked) {
    then.push(file);
    now.push(asked);
  }
  if (then.length === 0) return;
  throw new FieldError(
    ['idempotencyKey'],
    ErrorCode.BAD_USER_INPUT,
    `idempotencyKey: ${JSON.stringify(request.idempotencyKey)} already started tagging job ${job.id} with ${then.join(' and ')}; this request has ${now.join(' and ')}. A key repeats only the request it was first sent with; use a new key for a new job.`,
  );
}

/** A job's file as a message names it. */
function sourceOf(source: ImportSource | null): string {
  return source ? `the file ${JSON.stringify(source.file)} (${source.format})` : 'no file to import';
}

function checkIdempotencyKey(idempotencyKey: string | null | undefined): void {
  if (idempotencyKey !== undefined && idempotencyKey !== null && (idempotencyKey.trim() === '' || idempotencyKey.length > MAX_KEY_LENGTH))
    throw new FieldError(
      ['idempotencyKey'],
      ErrorCode.BAD_USER_INPUT,
      `idempotencyKey must be 1 to ${MAX_KEY_LENGTH} characters, not blank.`,
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
