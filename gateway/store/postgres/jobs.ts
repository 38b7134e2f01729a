import { randomUUID } from 'node:crypto';

import type { PoolClient } from 'pg';

import { check, positiveInt } from '../../../functions/options';
import { checkAutoTags, checkProductsWrite, checkVectorModel } from '../checks';
import { where } from '../filter';
import { abandonedChunk, ACTIVE, changesModel, chunkOf, chunkSizeOf, takesJob } from '../jobs';
import { checkModelChangeFilter, modelChangeFailure } from '../model-change';
import { JOB_CHUNK_MAX_ATTEMPTS, JOB_MAX_ERRORS, modelKey } from '../port';
import type { ChunkOutcome, ImportJob, JobChunk, JobError, JobRow, NewJob, TaxonomyJob, VectorModel } from '../port';
import { jobOf, type JobColumns } from '../rows';
import { Part } from '../composed';
import type { Connection } from './connection';
import { filterConditions, Params } from './filters';
import type { Models } from './models';
import type { Products } from './products';
import { MAX_DIM } from './schema';
import type { Tags } from './tags';
import { chunksOf } from '../label-vectors';
import { checkTaxonomyJob, taxonomyJobFailure } from '../taxonomy-jobs';
import { checkImportJob } from '../import-jobs';
import type { ModelTable, Vectors } from './vectors';

/**
 * Jobs as rows, cut into chunks of product ids as they go, shared by every gateway on the database:
 * row locks (`FOR UPDATE SKIP LOCKED`) keep two claimers from taking the same work.
 */
export class Jobs extends Part<Connection, { models: Models; products: Products; tags: Tags; vectors: Vectors }> {
  async createJob(job: NewJob): Promise<{ job: JobRow; created: boolean }> {
    checkVectorModel(job.model, MAX_DIM);
    const n = this.c.names;
    const key = job.idempotencyKey ?? null;
    const model = modelKey(job.model);
    const taxonomy = job.taxonomy && checkTaxonomyJob(job);
    const imported = job.import && checkImportJob(job);
    return this.c.transaction(async (client) => {
      if (taxonomy || imported) {
        const existing =
          key === null ? undefined : (await client.query<JobColumns>(`SELECT * FROM ${n.jobs} WHERE idempotency_key = $1`, [key])).rows[0];
        if (existing) return { job: jobOf(existing), created: false };
        const made = taxonomy
          ? await this.insertTaxonomyJob(client, taxonomy, model, key)
          : await this.insertImportJob(client, imported!, model, key);
        return { job: jobOf(made), created: true };
      }
      // Locked for a re-embedding job: two model changes made at once take turns, and the second finds the first.
      const change = changesModel(job.reembed, job.model, await this.uses.models.modelState(client, job.reembed));
      const params = new Params();
      const conditions = filterConditions(job.filter, params, { idColumn: 'p.id', attributesColumn: 'p.attributes', tags: n.tags });
      if (change) {
        checkModelChangeFilter(job.filter);
        const lacking = await this.uses.models.lacksVector(client, model);
        if (lacking) conditions.push(lacking);
      }
      const total = `(SELECT count(*) FROM ${n.products} p ${where(conditions)})`;
      // Two creates with one key at once: the second waits for the first's row, then inserts nothing.
      const inserted = await client.query<JobColumns>(
        `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, idempotency_key, created_at)
         VALUES (${params.add(randomUUID())}, 'QUEUED', ${total}, ${params.add(JSON.stringify(job.filter))}::jsonb,
                 ${params.add(job.reembed)}, ${params.add(model)}, ${params.add(change)}, ${params.add(key)},
                 ${params.add(new Date().toISOString())})
         ON CONFLICT DO NOTHING RETURNING *`,
        params.values,
      );
      if (inserted.rows[0]) {
        if (change) await this.uses.models.setTarget(client, job.model);
        return { job: jobOf(inserted.rows[0]), created: true };
      }
      const existing =
        key === null ? undefined : (await client.query<JobColumns>(`SELECT * FROM ${n.jobs} WHERE idempotency_key = $1`, [key])).rows[0];
      const open = async () => (await client.query<JobColumns>(`SELECT * FROM ${n.jobs} WHERE changes_model AND ${ACTIVE}`)).rows[0];
      return { job: jobOf(existing ?? (await open())), created: false };
    });
  }

  /**
   * A taxonomy job (see taxonomy-jobs.ts), its chunks cut now, inside the caller's transaction; the
   * taxonomy jobs still open are cancelled.
   */
  private async insertTaxonomyJob(client: PoolClient, taxonomy: TaxonomyJob, model: string, key: string | null): Promise<JobColumns> {
    const n = this.c.names;
    const now = new Date().toISOString();
    await client.query(`UPDATE ${n.jobs} SET status = 'CANCELLED', finished_at = $1 WHERE taxonomy IS NOT NULL AND ${ACTIVE}`, [now]);
    const id = randomUUID();
    const job = (
      await client.query<JobColumns>(
        `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, idempotency_key, exhausted, taxonomy, base_version, created_at)
         SELECT $1, 'QUEUED', $2, '{}'::jsonb, false, $3, false, $4, true, $5::jsonb, coalesce(max(version), 0), $6 FROM ${n.taxonomies}
         RETURNING *`,
        [id, taxonomy.texts.length, model, key, JSON.stringify(taxonomy.facets), now],
      )
    ).rows[0];
    await this.insertChunks(client, id, chunksOf(taxonomy.texts, taxonomy.chunkSize));
    return job;
  }

  /**
   * An import job (see import-jobs.ts), its chunks cut now from the file's entries, inside the
   * caller's transaction.
   */
  private async insertImportJob(client: PoolClient, imported: ImportJob, model: string, key: string | null): Promise<JobColumns> {
    const n = this.c.names;
    const id = randomUUID();
    const job = (
      await client.query<JobColumns>(
        `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, idempotency_key, exhausted, import_source, created_at)
         VALUES ($1, 'QUEUED', $2, '{}'::jsonb, false, $3, false, $4, true, $5::jsonb, $6)
         RETURNING *`,
        [id, imported.entries.length, model, key, JSON.stringify(imported.source), new Date().toISOString()],
      )
    ).rows[0];
    await this.insertChunks(client, id, chunksOf(imported.entries, imported.chunkSize));
    return job;
  }

  /** A job's chunks, cut when it is made (a taxonomy's prompts, a file's entries), pending: all in one statement, however many (a large shop's file is thousands). */
  private async insertChunks(client: PoolClient, jobId: string, chunks: string[][]): Promise<void> {
    await client.query(
      `INSERT INTO ${this.c.names.jobChunks} (job_id, seq, product_ids, status, attempts)
       SELECT $1, chunk.seq, ARRAY(SELECT e FROM jsonb_array_elements_text(chunk.items) WITH ORDINALITY AS t(e, i) ORDER BY i), 'pending', 0
       FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS chunk(items, seq)`,
      [jobId, JSON.stringify(chunks)],
    );
  }

  async getJob(id: string): Promise<JobRow | undefined> {
    const [row] = await this.c.rows<JobColumns>(`SELECT * FROM ${this.c.names.jobs} WHERE id = $1`, [id]);
    return row && jobOf(row);
  }

  async listJobs(first: number): Promise<JobRow[]> {
    const rows = await this.c.rows<JobColumns>(`SELECT * FROM ${this.c.names.jobs} ORDER BY created_at DESC, id DESC LIMIT $1`, [first]);
    return rows.map(jobOf);
  }

  async cancelJob(id: string): Promise<JobRow | undefined> {
    const jobs = this.c.names.jobs;
    const row = await this.c.transaction(async (client) => {
      const cancelled = await client.query<{ changes_model: boolean }>(
        `UPDATE ${jobs} SET status = 'CANCELLED', finished_at = $2 WHERE id = $1 AND ${ACTIVE} RETURNING changes_model`,
        [id, new Date().toISOString()],
      );
      // A model change given up: no model is being built any more.
      if (cancelled.rows[0]?.changes_model) await this.uses.models.setTarget(client, null);
      return (await client.query<JobColumns>(`SELECT * FROM ${jobs} WHERE id = $1`, [id])).rows[0];
    });
    return row && jobOf(row);
  }

  /**
   * One transaction, job by job from the oldest: a released chunk (`FOR UPDATE SKIP LOCKED`: one
   * another claimer is taking is passed, never waited for), else a new chunk cut from the job's
   * cursor under the job's row lock (`FOR UPDATE SKIP LOCKED`: while another gateway cuts from
   * this job, this one looks at the next job, or finds nothing and polls again).
   */
  async claimJobChunk(worker: string, chunkSize: number, model: VectorModel, tagChunkSize = chunkSize): Promise<JobChunk | undefined> {
    check('chunkSize', chunkSize, positiveInt);
    check('tagChunkSize', tagChunkSize, positiveInt);
    checkVectorModel(model, MAX_DIM);
    return this.c.transaction(async (client) => {
      const now = new Date().toISOString();
      const { active } = await this.uses.models.modelState(client);
      const jobs = (await client.query<JobColumns>(`SELECT * FROM ${this.c.names.jobs} WHERE ${ACTIVE} ORDER BY created_at, id`)).rows;
      for (const job of jobs) {
        if (!takesJob(job, active, model)) continue;
        const claimed = await this.claimIn(client, job, worker, chunkSizeOf(job, chunkSize, tagChunkSize), now);
        if (claimed) return claimed;
      }
      return undefined;
    });
  }

  private async claimIn(
    client: PoolClient,
    job: JobColumns,
    worker: string,
    chunkSize: number,
    now: string,
  ): Promise<JobChunk | undefined> {
    const n = this.c.names;
    const token = randomUUID();
    const start = () =>
      client.query(`UPDATE ${n.jobs} SET status = 'RUNNING', started_at = coalesce(started_at, $2) WHERE id = $1 AND status = 'QUEUED'`, [
        job.id,
        now,
      ]);
    const released = (
      await client.query<{ seq: number; product_ids: string[]; attempts: number }>(
        `SELECT seq, product_ids, attempts FROM ${n.jobChunks} WHERE job_id = $1 AND status <> 'done' AND status = 'pending'
         ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [job.id],
      )
    ).rows[0];
    if (released) {
      if (released.attempts >= JOB_CHUNK_MAX_ATTEMPTS) {
        await this.failJob(client, job.id, now, abandonedChunk(released.seq, released.attempts));
        return undefined;
      }
      await client.query(
        `UPDATE ${n.jobChunks} SET status = 'claimed', claim_token = $3, claimed_by = $4, claimed_at = $5, attempts = attempts + 1
         WHERE job_id = $1 AND seq = $2`,
        [job.id, released.seq, token, worker, now],
      );
      await start();
      return chunkOf(job, token, released.seq, released.product_ids, released.attempts + 1);
    }
    const locked = (
      await client.query<{ cursor: string | null; exhausted: boolean }>(
        `SELECT cursor, exhausted FROM ${n.jobs} WHERE id = $1 AND ${ACTIVE} FOR UPDATE SKIP LOCKED`,
        [job.id],
      )
    ).rows[0];
    if (!locked) return undefined;
    if (!locked.exhausted) {
      const params = new Params();
      const conditions = filterConditions(job.filter, params, { idColumn: 'p.id', attributesColumn: 'p.attributes', tags: n.tags });
      if (locked.cursor !== null) conditions.push(`p.id > ${params.add(locked.cursor)}`);
      const lacking = job.changes_model ? await this.uses.models.lacksVector(client, job.model) : undefined;
      if (lacking) conditions.push(lacking);
      const ids = (
        await client.query<{ id: string }>(
          `SELECT p.id FROM ${n.products} p ${where(conditions)} ORDER BY p.id LIMIT ${params.add(chunkSize + 1)}`,
          params.values,
        )
      ).rows.map((r) => r.id);
      const cut = ids.slice(0, chunkSize);
      await client.query(`UPDATE ${n.jobs} SET cursor = $2, exhausted = $3 WHERE id = $1`, [
        job.id,
        cut.length > 0 ? cut[cut.length - 1] : locked.cursor,
        ids.length <= chunkSize,
      ]);
      if (cut.length > 0) {
        const seq = (
          await client.query<{ seq: number }>(
            `INSERT INTO ${n.jobChunks} (job_id, seq, product_ids, status, claim_token, claimed_by, claimed_at, attempts)
             SELECT $1, coalesce(max(seq), 0) + 1, $2::text[], 'claimed', $3, $4, $5, 1 FROM ${n.jobChunks} WHERE job_id = $1
             RETURNING seq`,
            [job.id, cut, token, worker, now],
          )
        ).rows[0].seq;
        await start();
        return chunkOf(job, token, seq, cut, 1);
      }
    }
    // Nothing left to cut: done once no chunk is left undone (chunks claimed by others finish there).
    if ((await this.finishIfDone(client, job.id, now)) === 'again') {
      const again = (await client.query<JobColumns>(`SELECT * FROM ${n.jobs} WHERE id = $1`, [job.id])).rows[0];
      return this.claimIn(client, again, worker, chunkSize, now);
    }
    return undefined;
  }

  private async failJob(client: PoolClient, jobId: string, now: string, error: JobError): Promise<void> {
    await client.query(
      `UPDATE ${this.c.names.jobs} SET status = 'FAILED', finished_at = $2, errors = errors || $3::jsonb WHERE id = $1 AND ${ACTIVE}`,
      [jobId, now, JSON.stringify([error])],
    );
  }

  /**
   * Ends a job with nothing left to cut and no chunk undone ('open' when it has either). A tagging
   * or refreshing job has SUCCEEDED. A model change FAILED if it cannot switch over (see
   * modelChangeFailure); goes 'again' over products still without a vector if some were added
   * meanwhile; or else switches over: its model becomes the active one, and a tagging job re-tags
   * every product with it. The caller holds the job's row lock.
   */
  private async finishIfDone(client: PoolClient, jobId: string, now: string): Promise<'done' | 'again' | 'open'> {
    const n = this.c.names;
    const job = (
      await client.query<JobColumns>(
        `SELECT * FROM ${n.jobs} WHERE id = $1 AND ${ACTIVE} AND exhausted
           AND NOT EXISTS (SELECT 1 FROM ${n.jobChunks} WHERE job_id = $1 AND status <> 'done')`,
        [jobId],
      )
    ).rows[0];
    if (!job) return 'open';
    const succeed = () =>
      client.query(`UPDATE ${n.jobs} SET status = 'SUCCEEDED', started_at = coalesce(started_at, $2), finished_at = $2 WHERE id = $1`, [
        jobId,
        now,
      ]);
    if (job.taxonomy) {
      await this.setTaxonomyOf(client, job, now, succeed);
      return 'done';
    }
    if (!job.changes_model) {
      await succeed();
      return 'done';
    }
    const failure = modelChangeFailure(job, await this.uses.models.modelState(client, true));
    if (failure) {
      await this.failJob(client, jobId, now, failure);
      return 'done';
    }
    const lacking = await this.uses.models.lacksVector(client, job.model);
    const count = async (condition: string[]) =>
      Number((await client.query<{ c: string }>(`SELECT count(*) AS c FROM ${n.products} p ${where(condition)}`)).rows[0].c);
    const all = await count([]);
    const left = lacking ? await count([lacking]) : all;
    if (left > 0) {
      await client.query(`UPDATE ${n.jobs} SET cursor = NULL, exhausted = false, total = total + $2 WHERE id = $1`, [jobId, left]);
      return 'again';
    }
    await client.query(`UPDATE ${n.catalogueState} SET active = target, target = NULL WHERE id = 1`);
    await succeed();
    await client.query(
      `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, created_at)
       VALUES ($1, 'QUEUED', $2, '{}'::jsonb, false, $3, false, $4)`,
      [randomUUID(), all, job.model, now],
    );
    return 'done';
  }

  /** A taxonomy job's end: its taxonomy becomes the next version and a tagging job re-tags every product, or it fails (see taxonomyJobFailure). */
  private async setTaxonomyOf(client: PoolClient, job: JobColumns, now: string, succeed: () => Promise<unknown>): Promise<void> {
    const n = this.c.names;
    // As setTaxonomy does: two versions set at once get n and n + 1.
    await client.query(`LOCK TABLE ${n.taxonomies} IN EXCLUSIVE MODE`);
    const current = (await client.query<{ v: number }>(`SELECT coalesce(max(version), 0) AS v FROM ${n.taxonomies}`)).rows[0].v;
    const failure = taxonomyJobFailure(job.failed, job.base_version ?? 0, current);
    if (failure) return this.failJob(client, job.id, now, failure);
    await client.query(`INSERT INTO ${n.taxonomies} (version, facets, created_at) VALUES ($1, $2::jsonb, $3)`, [
      current + 1,
      JSON.stringify(job.taxonomy),
      now,
    ]);
    await succeed();
    await client.query(
      `INSERT INTO ${n.jobs} (id, status, total, filter, reembed, model, changes_model, created_at)
       SELECT $1, 'QUEUED', count(*), '{}'::jsonb, false, $2, false, $3 FROM ${n.products}`,
      [randomUUID(), job.model, now],
    );
  }

  async completeJobChunk(chunk: JobChunk, outcome: ChunkOutcome): Promise<boolean> {
    const n = this.c.names;
    checkAutoTags(outcome.productIds, outcome.tags);
    const { write } = outcome;
    if (write) checkProductsWrite(write, MAX_DIM);
    let made: ModelTable | undefined;
    const completed = await this.c.transaction(async (client) => {
      // The job's row first, then the chunk's: the order claimJobChunk never reverses while waiting.
      const job = (await client.query<JobColumns>(`SELECT status, errors FROM ${n.jobs} WHERE id = $1 FOR UPDATE`, [chunk.jobId])).rows[0];
      const current = (
        await client.query<{ status: string; claim_token: string | null }>(
          `SELECT status, claim_token FROM ${n.jobChunks} WHERE job_id = $1 AND seq = $2 FOR UPDATE`,
          [chunk.jobId, chunk.seq],
        )
      ).rows[0];
      if (job?.status !== 'RUNNING' || current?.status !== 'claimed' || current.claim_token !== chunk.claim) return false;
      if (write) made = await this.uses.products.writeWithVectors(client, write);
      await this.uses.tags.writeAutoTags(client, outcome.productIds, outcome.tags, 'job');
      await client.query(`UPDATE ${n.jobChunks} SET status = 'done', claim_token = NULL WHERE job_id = $1 AND seq = $2`, [
        chunk.jobId,
        chunk.seq,
      ]);
      // Products added while the job runs are in its later chunks: total grows with them, so that processed never passes it.
      const counts = 'processed = processed + $2, failed = failed + $3, total = greatest(total, processed + failed + $2 + $3)';
      await client.query(`UPDATE ${n.jobs} SET ${counts}, errors = $4::jsonb WHERE id = $1`, [
        chunk.jobId,
        outcome.processed,
        outcome.failed,
        JSON.stringify(job.errors.concat(outcome.errors).slice(0, JOB_MAX_ERRORS)),
      ]);
      await this.finishIfDone(client, chunk.jobId, new Date().toISOString());
      return true;
    });
    this.uses.vectors.remember(made);
    return completed;
  }

  async reclaimStaleJobChunks(claimedBefore: string): Promise<number> {
    const result = await this.c.transaction((client) =>
      client.query(
        `UPDATE ${this.c.names.jobChunks} SET status = 'pending', claim_token = NULL, claimed_by = NULL
         WHERE status = 'claimed' AND claimed_at < $1`,
        [claimedBefore],
      ),
    );
    return result.rowCount ?? 0;
  }
}
