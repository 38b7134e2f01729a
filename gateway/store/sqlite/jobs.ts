import { randomUUID } from 'node:crypto';

import { check, positiveInt } from '../../../functions/options';
import { checkAutoTags, checkProductsWrite, checkVectorModel } from '../checks';
import { abandonedChunk, ACTIVE, changesModel, chunkOf, chunkSizeOf, takesJob } from '../jobs';
import { checkModelChangeFilter, modelChangeFailure } from '../model-change';
import { JOB_CHUNK_MAX_ATTEMPTS, JOB_MAX_ERRORS, modelKey } from '../port';
import type { ChunkOutcome, ImportJob, JobChunk, JobError, JobRow, NewJob, TaxonomyJob, VectorModel } from '../port';
import type { JobColumns } from '../rows';
import { where } from '../filter';
import { Part } from '../composed';
import type { Connection } from './connection';
import { filterConditions } from './filters';
import type { Models } from './models';
import type { Products } from './products';
import { jobColumns, jobOfSql, productParams, type JobSqlRow } from './rows';
import type { Tags } from './tags';
import { chunksOf } from '../label-vectors';
import { checkTaxonomyJob, taxonomyJobFailure } from '../taxonomy-jobs';
import { checkImportJob } from '../import-jobs';

/**
 * Jobs as rows, cut into chunks of product ids as they go. Every method is one transaction; a
 * claim is BEGIN IMMEDIATE, so the write lock is held from its first read and two claimers take
 * turns.
 */
export class Jobs extends Part<Connection, { models: Models; products: Products; tags: Tags }> {
  async createJob(job: NewJob): Promise<{ job: JobRow; created: boolean }> {
    checkVectorModel(job.model);
    const key = job.idempotencyKey ?? null;
    const model = modelKey(job.model);
    const taxonomy = job.taxonomy && checkTaxonomyJob(job);
    const imported = job.import && checkImportJob(job);
    return this.c.run('createJob', 'write', () => {
      if (key !== null) {
        const existing = this.c.sql('SELECT * FROM jobs WHERE idempotency_key = ?').get(key) as JobSqlRow | undefined;
        if (existing) return { job: jobOfSql(existing), created: false };
      }
      if (taxonomy) return { job: jobOfSql(this.row(this.insertTaxonomyJob(taxonomy, model, key))!), created: true };
      if (imported) return { job: jobOfSql(this.row(this.insertImportJob(imported, model, key))!), created: true };
      const change = changesModel(job.reembed, job.model, this.uses.models.modelState());
      const { sql, params } = filterConditions(job.filter);
      if (change) {
        checkModelChangeFilter(job.filter);
        const open = this.c.sql(`SELECT * FROM jobs WHERE changes_model = 1 AND ${ACTIVE}`).get() as JobSqlRow | undefined;
        if (open) return { job: jobOfSql(open), created: false };
        const lacking = this.uses.models.lacksVector(model);
        if (lacking) sql.push(lacking);
      }
      const total = this.c
        .sql(`SELECT count(*) FROM products p ${where(sql)}`)
        .pluck()
        .get(...params) as number;
      const id = randomUUID();
      this.c
        .sql(
          `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, idempotency_key, created_at)
         VALUES (?, 'QUEUED', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, total, JSON.stringify(job.filter), job.reembed ? 1 : 0, model, change ? 1 : 0, key, this.c.now().toISOString());
      if (change) this.uses.models.setTarget(job.model);
      return { job: jobOfSql(this.row(id)!), created: true };
    });
  }

  /**
   * A taxonomy job (see taxonomy-jobs.ts), its chunks cut now, inside the caller's transaction; the
   * taxonomy jobs still open are cancelled. Returns its id.
   */
  private insertTaxonomyJob(taxonomy: TaxonomyJob, model: string, key: string | null): string {
    const now = this.c.now().toISOString();
    this.c.sql(`UPDATE jobs SET status = 'CANCELLED', finished_at = ? WHERE taxonomy IS NOT NULL AND ${ACTIVE}`).run(now);
    const base = this.c.sql('SELECT coalesce(max(version), 0) FROM taxonomies').pluck().get() as number;
    const id = randomUUID();
    this.c
      .sql(
        `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, idempotency_key, exhausted, taxonomy, base_version, created_at)
         VALUES (?, 'QUEUED', ?, '{}', 0, ?, 0, ?, 1, ?, ?, ?)`,
      )
      .run(id, taxonomy.texts.length, model, key, JSON.stringify(taxonomy.facets), base, now);
    const chunk = this.c.sql("INSERT INTO job_chunks (job_id, seq, product_ids, status, attempts) VALUES (?, ?, ?, 'pending', 0)");
    chunksOf(taxonomy.texts, taxonomy.chunkSize).forEach((texts, i) => chunk.run(id, i + 1, JSON.stringify(texts)));
    return id;
  }

  /** An import job (see import-jobs.ts), its chunks cut now from the file's entries, inside the caller's transaction. Returns its id. */
  private insertImportJob(imported: ImportJob, model: string, key: string | null): string {
    const id = randomUUID();
    this.c
      .sql(
        `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, idempotency_key, exhausted, import_source, created_at)
         VALUES (?, 'QUEUED', ?, '{}', 0, ?, 0, ?, 1, ?, ?)`,
      )
      .run(id, imported.entries.length, model, key, JSON.stringify(imported.source), this.c.now().toISOString());
    const chunk = this.c.sql("INSERT INTO job_chunks (job_id, seq, product_ids, status, attempts) VALUES (?, ?, ?, 'pending', 0)");
    chunksOf(imported.entries, imported.chunkSize).forEach((entries, i) => chunk.run(id, i + 1, JSON.stringify(entries)));
    return id;
  }

  async getJob(id: string): Promise<JobRow | undefined> {
    return this.c.run('getJob', 'read', () => {
      const row = this.row(id);
      return row && jobOfSql(row);
    });
  }

  private row(id: string): JobSqlRow | undefined {
    return this.c.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobSqlRow | undefined;
  }

  async listJobs(first: number): Promise<JobRow[]> {
    return this.c.run('listJobs', 'read', () =>
      (this.c.sql('SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?').all(first) as JobSqlRow[]).map(jobOfSql),
    );
  }

  async cancelJob(id: string): Promise<JobRow | undefined> {
    return this.c.run('cancelJob', 'write', () => {
      const cancelled = this.c
        .sql(`UPDATE jobs SET status = 'CANCELLED', finished_at = ? WHERE id = ? AND ${ACTIVE} RETURNING changes_model`)
        .pluck()
        .get(this.c.now().toISOString(), id) as number | undefined;
      // A model change given up: no model is being built any more.
      if (cancelled === 1) this.uses.models.setTarget(null);
      const row = this.row(id);
      return row && jobOfSql(row);
    });
  }

  async claimJobChunk(worker: string, chunkSize: number, model: VectorModel, tagChunkSize = chunkSize): Promise<JobChunk | undefined> {
    check('chunkSize', chunkSize, positiveInt);
    check('tagChunkSize', tagChunkSize, positiveInt);
    checkVectorModel(model);
    return this.c.run('claimJobChunk', 'write', () => {
      const now = this.c.now().toISOString();
      const jobs = this.c.sql(`SELECT * FROM jobs INDEXED BY jobs_active WHERE ${ACTIVE} ORDER BY created_at, id`).all() as JobSqlRow[];
      const { active } = this.uses.models.modelState();
      // The oldest job with work for this model; one that ends while looking (succeeded, failed) or whose last chunks are claimed by others is passed.
      for (const row of jobs) {
        const job = jobColumns(row);
        if (!takesJob(job, active, model)) continue;
        const claimed = this.claimIn(job, worker, chunkSizeOf(job, chunkSize, tagChunkSize), now);
        if (claimed) return claimed;
      }
      return undefined;
    });
  }

  private claimIn(job: JobColumns, worker: string, chunkSize: number, now: string): JobChunk | undefined {
    const token = randomUUID();
    const start = () =>
      this.c.sql("UPDATE jobs SET status = 'RUNNING', started_at = coalesce(started_at, ?) WHERE id = ?").run(now, job.id);
    const released = this.c
      .sql(
        `SELECT seq, product_ids, attempts FROM job_chunks INDEXED BY job_chunks_open_of_job
         WHERE job_id = ? AND status <> 'done' AND status = 'pending' ORDER BY seq LIMIT 1`,
      )
      .get(job.id) as { seq: number; product_ids: string; attempts: number } | undefined;
    if (released) {
      if (released.attempts >= JOB_CHUNK_MAX_ATTEMPTS) {
        this.failJob(job, abandonedChunk(released.seq, released.attempts), now);
        return undefined;
      }
      this.c
        .sql(
          "UPDATE job_chunks SET status = 'claimed', claim_token = ?, claimed_by = ?, claimed_at = ?, attempts = attempts + 1 WHERE job_id = ? AND seq = ?",
        )
        .run(token, worker, now, job.id, released.seq);
      start();
      return chunkOf(job, token, released.seq, JSON.parse(released.product_ids) as string[], released.attempts + 1);
    }
    if (!job.exhausted) {
      const { sql, params } = filterConditions(job.filter);
      if (job.cursor !== null) {
        sql.push('p.id > ?');
        params.push(job.cursor);
      }
      const lacking = job.changes_model ? this.uses.models.lacksVector(job.model) : undefined;
      if (lacking) sql.push(lacking);
      const ids = this.c
        .sql(`SELECT p.id FROM products p ${where(sql)} ORDER BY p.id LIMIT ?`)
        .pluck()
        .all(...params, chunkSize + 1) as string[];
      const cut = ids.slice(0, chunkSize);
      this.c
        .sql('UPDATE jobs SET cursor = ?, exhausted = ? WHERE id = ?')
        .run(cut.length > 0 ? cut[cut.length - 1] : job.cursor, ids.length <= chunkSize ? 1 : 0, job.id);
      if (cut.length > 0) {
        const seq = (this.c.sql('SELECT coalesce(max(seq), 0) + 1 FROM job_chunks WHERE job_id = ?').pluck().get(job.id) as number) ?? 1;
        this.c
          .sql(
            "INSERT INTO job_chunks (job_id, seq, product_ids, status, claim_token, claimed_by, claimed_at, attempts) VALUES (?, ?, ?, 'claimed', ?, ?, ?, 1)",
          )
          .run(job.id, seq, JSON.stringify(cut), token, worker, now);
        start();
        return chunkOf(job, token, seq, cut, 1);
      }
    }
    // Nothing left to cut: the job is done once no chunk is left undone (claimed ones finish elsewhere).
    if (this.openChunks(job.id) === 0 && this.finish(job.id, now) === 'again') {
      return this.claimIn(jobColumns(this.row(job.id)!), worker, chunkSize, now);
    }
    return undefined; // done, or its last chunks are claimed by others
  }

  private openChunks(jobId: string): number {
    return this.c
      .sql("SELECT count(*) FROM job_chunks INDEXED BY job_chunks_open_of_job WHERE job_id = ? AND status <> 'done'")
      .pluck()
      .get(jobId) as number;
  }

  /**
   * Ends a job with nothing left to cut and no chunk undone. A tagging or refreshing job has
   * SUCCEEDED. A model change FAILED if it cannot switch over (see modelChangeFailure); goes
   * 'again' over products still without a vector if some were added meanwhile; or else switches
   * over: its model becomes the active one, and a tagging job re-tags every product with it.
   */
  private finish(jobId: string, now: string): 'done' | 'again' {
    const job = jobColumns(this.row(jobId)!);
    const succeed = () =>
      this.c
        .sql("UPDATE jobs SET status = 'SUCCEEDED', started_at = coalesce(started_at, ?), finished_at = ? WHERE id = ?")
        .run(now, now, jobId);
    if (job.taxonomy) {
      this.setTaxonomyOf(job, now, succeed);
      return 'done';
    }
    if (!job.changes_model) {
      succeed();
      return 'done';
    }
    const failure = modelChangeFailure(job, this.uses.models.modelState());
    if (failure) {
      this.failJob(job, failure, now);
      return 'done';
    }
    const lacking = this.uses.models.lacksVector(job.model);
    const all = this.c.sql('SELECT count(*) FROM products').pluck().get() as number;
    const left = lacking ? (this.c.sql(`SELECT count(*) FROM products p WHERE ${lacking}`).pluck().get() as number) : all;
    if (left > 0) {
      this.c.sql('UPDATE jobs SET cursor = NULL, exhausted = 0, total = total + ? WHERE id = ?').run(left, jobId);
      return 'again';
    }
    this.c.sql('UPDATE catalogue_state SET active = target, target = NULL WHERE id = 1').run();
    succeed();
    this.c
      .sql(
        `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, created_at) VALUES (?, 'QUEUED', ?, '{}', 0, ?, 0, ?)`,
      )
      .run(randomUUID(), all, job.model, now);
    return 'done';
  }

  /** A taxonomy job's end: its taxonomy becomes the next version and a tagging job re-tags every product, or it fails (see taxonomyJobFailure). */
  private setTaxonomyOf(job: JobColumns, now: string, succeed: () => void): void {
    const current = this.c.sql('SELECT coalesce(max(version), 0) FROM taxonomies').pluck().get() as number;
    const failure = taxonomyJobFailure(job.failed, job.base_version ?? 0, current);
    if (failure) return this.failJob(job, failure, now);
    this.c.sql('INSERT INTO taxonomies (version, facets, created_at) VALUES (?, ?, ?)').run(current + 1, JSON.stringify(job.taxonomy), now);
    succeed();
    const all = this.c.sql('SELECT count(*) FROM products').pluck().get() as number;
    this.c
      .sql(
        `INSERT INTO jobs (id, status, total, filter, reembed, model, changes_model, created_at) VALUES (?, 'QUEUED', ?, '{}', 0, ?, 0, ?)`,
      )
      .run(randomUUID(), all, job.model, now);
  }

  private failJob(job: JobColumns, error: JobError, now: string): void {
    const errors = job.errors.concat(error).slice(-JOB_MAX_ERRORS);
    this.c.sql("UPDATE jobs SET status = 'FAILED', errors = ?, finished_at = ? WHERE id = ?").run(JSON.stringify(errors), now, job.id);
  }

  async completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean> {
    checkAutoTags(outcome.productIds, outcome.tags);
    const { write } = outcome;
    if (write) checkProductsWrite(write);
    const rows = write ? productParams(write.products) : [];
    return this.c.run('completeJobChunk', 'write', () => {
      const row = this.row(chunk.jobId);
      const current = this.c.sql('SELECT status, claim_token FROM job_chunks WHERE job_id = ? AND seq = ?').get(chunk.jobId, chunk.seq) as
        { status: string; claim_token: string | null } | undefined;
      if (!row || row.status !== 'RUNNING' || current?.status !== 'claimed' || current.claim_token !== chunk.claim) return false;
      const job = jobColumns(row);
      if (write) this.uses.products.writeWithVectors(write, rows);
      this.uses.tags.writeAutoTags(new Set(outcome.productIds), outcome.tags, 'job');
      this.c.sql("UPDATE job_chunks SET status = 'done', claim_token = NULL WHERE job_id = ? AND seq = ?").run(chunk.jobId, chunk.seq);
      // Products added while the job runs are in its later chunks: total grows with them, so that processed never passes it.
      this.c
        .sql(
          'UPDATE jobs SET processed = processed + ?, failed = failed + ?, total = max(total, processed + failed + ?), errors = ? WHERE id = ?',
        )
        .run(
          outcome.processed,
          outcome.failed,
          outcome.processed + outcome.failed,
          JSON.stringify(job.errors.concat(outcome.errors).slice(0, JOB_MAX_ERRORS)),
          chunk.jobId,
        );
      if (job.exhausted && this.openChunks(chunk.jobId) === 0) this.finish(chunk.jobId, this.c.now().toISOString());
      return true;
    });
  }

  async reclaimStaleJobChunks(claimedBefore: string): Promise<number> {
    return this.c.run('reclaimStaleJobChunks', 'write', () => {
      const result = this.c
        .sql("UPDATE job_chunks SET status = 'pending', claim_token = NULL, claimed_by = NULL WHERE status = 'claimed' AND claimed_at < ?")
        .run(claimedBefore);
      return result.changes;
    });
  }
}
