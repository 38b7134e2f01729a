import type { CatalogueStore, ChunkOutcome, JobChunk, JobError, JobRow } from '../store';
import type { Embedder } from './embedder';
import { failure, storeCall } from './errors';
import type { JobRequests } from './job-requests';
import type { Labels } from './labels';
import type { ModelRoles } from './models';
import { PromptVectors } from './prompt-vectors';
import type { FacetInput } from './taxonomy';
import { promptFields } from './taxonomy-prompts';

/**
 * Label prompts per chunk of a taxonomy job: 8 of the embedder's text batches (BATCH_MAX_SIZE, 32),
 * so a chunk keeps the backend's batches full. ViT-B/32 on 2 CPU cores embeds ~180 short prompts a
 * second and ~90 of 16 tokens (BENCHMARKS.md 2b): 1.5 to 3 s a chunk, far inside a claim's lease
 * (JOB_LEASE_MS, 60 s). Shopify's whole taxonomy (10,595 nodes) is some 40 chunks: progress a
 * client can watch, and little work to redo when a gateway dies holding one.
 */
export const PROMPTS_PER_CHUNK = 256;

export interface TaxonomyJobParts {
  store: CatalogueStore;
  embeddings: Embedder;
  models: ModelRoles;
  labels: Labels;
  jobs: JobRequests;
}

/**
 * A taxonomy change as a job: the request checks the facets and makes a job of the prompts the
 * store lacks (store/taxonomy-jobs.ts); the runners embed them a chunk at a time (embedChunk); the
 * last chunk's completion sets the taxonomy and queues the re-tagging. No request embeds a prompt
 * or re-tags a product.
 */
export class TaxonomyJobs {
  private readonly prompts: PromptVectors;

  constructor(private readonly parts: TaxonomyJobParts) {
    this.prompts = new PromptVectors(parts.store, parts.embeddings, parts.models.model);
  }

  /**
   * Checks the facets (throwing the first problem as a FieldError; `taxonomyProblems` gives them
   * all) and makes the job that embeds the prompts the store lacks for the active model, then sets
   * them as the next taxonomy version. A taxonomy whose prompts are all stored makes a job of none,
   * which sets it at its first claim.
   */
  async start(facets: readonly FacetInput[]): Promise<JobRow> {
    const job = await this.parts.labels.taxonomyJob(facets);
    return this.parts.jobs.startTaxonomy(job.facets, job.texts, PROMPTS_PER_CHUNK);
  }

  /**
   * A taxonomy job's chunk: its prompts embedded and their vectors stored (those stored already,
   * by a gateway that died before completing the chunk, are not embedded again). A prompt that
   * fails fails alone, named by its facet and label; its job then ends without setting its taxonomy.
   */
  async embedChunk(chunk: Pick<JobChunk, 'jobId' | 'texts'>): Promise<ChunkOutcome> {
    const { store, embeddings, models } = this.parts;
    const texts = chunk.texts ?? [];
    const missing = await this.prompts.missing(texts);
    const settled = await Promise.allSettled(missing.map((text) => embeddings.embedText(text)));
    const rows: { text: string; vector: Float32Array }[] = [];
    const failed: { text: string; reason: unknown }[] = [];
    settled.forEach((result, i) => {
      if (result.status === 'fulfilled') rows.push({ text: missing[i], vector: result.value });
      else failed.push({ text: missing[i], reason: result.reason });
    });
    if (rows.length > 0) await storeCall(() => store.putLabelVectors(models.model, rows));
    const errors: JobError[] = [];
    if (failed.length > 0) {
      const job = await storeCall(() => store.getJob(chunk.jobId));
      const fieldOf = promptFields(job?.taxonomy ?? []);
      for (const { text, reason } of failed) {
        const { field, code, message } = failure(fieldOf(text), reason);
        errors.push({ field, code, message: `${message} (prompt ${JSON.stringify(text.slice(0, 100))})` });
      }
    }
    return { productIds: [], tags: [], processed: texts.length - failed.length, failed: failed.length, errors };
  }
}
