import type { Readable } from 'node:stream';

import { ErrorCode, GatewayError } from '../common/errors';
import { readProducts, type Entry, type Format } from '../imports';
import type { ChunkOutcome, JobChunk, JobError, JobRow } from '../store';
import { FieldError } from './errors';
import type { Ingest, ProductInput } from './ingest';
import type { JobRequests } from './job-requests';
import { reasonOf, upsertLeavingOutUndecodable } from './undecodable';

/**
 * Products per chunk of an import job: the import command's batch. Each is upserted as an upsert
 * is, its images fetched and embedded: at ViT-B/32 on 2 CPU cores (~15 images a second) a chunk of
 * 32 products of 3 images takes some 6 s, far inside a claim's lease (JOB_LEASE_MS, 60 s), and a
 * gateway that dies holding one leaves little to do again.
 */
export const PRODUCTS_PER_IMPORT_CHUNK = 32;

/**
 * Failures that say nothing about the product: the backend or the database gone for a while. The
 * chunk is left to be claimed again after its lease (and the job fails if that happens
 * JOB_CHUNK_MAX_ATTEMPTS times), rather than its products counted as failed.
 */
const PASSING = new Set<string>([ErrorCode.BACKEND_UNAVAILABLE, ErrorCode.BACKEND_TIMEOUT, ErrorCode.STORE_UNAVAILABLE]);

/** The file an import reads: its name, as the client gave it, and its bytes as they arrive. */
export interface ImportFile {
  name: string;
  stream: Readable;
}

/** A problem with one line of the file, as a job error: `field` is ["line", N] and the message starts with the line and the product. */
function lineError(entry: Pick<Entry, 'line'> & { id?: string }, code: string, message: string, rest: string[] = []): JobError {
  return {
    field: ['line', String(entry.line), ...rest],
    code,
    message: `line ${entry.line}${entry.id ? ` (${entry.id})` : ''}: ${message}`,
  };
}

/**
 * A shop's export file imported in the background: the request reads the file (refusing one that
 * is not of its format) and makes an import job of its products (store/import-jobs.ts); the job
 * runners upsert them a chunk at a time, as `productsUpsert` does, an image the gateway cannot
 * decode (a GIF, BMP or TIFF a Merchant Center feed allows) left out and reported with its line,
 * the rest of its product imported.
 */
export class ImportJobs {
  constructor(private readonly parts: { jobs: JobRequests; ingest: Ingest }) {}

  /**
   * Reads the file's products and makes the job that imports them. A file that is not of `format`
   * as a whole, or holds no product, is refused as a FieldError naming `file`, and so are the
   * upload's own failures (over its limit, cut short), with their code. A line that cannot be read
   * is not a refusal: the job reports it with its line number.
   */
  async start(open: () => Promise<ImportFile>, format: Format, idempotencyKey?: string | null): Promise<JobRow> {
    const entries: string[] = [];
    let file: ImportFile | undefined;
    try {
      file = await open();
      for await (const entry of readProducts(file.stream, file.name, format)) entries.push(JSON.stringify(entry));
    } catch (error) {
      if (error instanceof GatewayError) throw new FieldError(['file'], error.code, `file: ${error.message}`, { cause: error });
      const reason = error instanceof Error ? error.message : String(error);
      throw new FieldError(['file'], ErrorCode.BAD_USER_INPUT, `file: it cannot be read as ${format}: ${reason}`, { cause: error });
    } finally {
      file?.stream.destroy();
    }
    if (entries.length === 0)
      throw new FieldError(['file'], ErrorCode.BAD_USER_INPUT, `file: ${file.name} holds no product (read as ${format}).`);
    return this.parts.jobs.startImport({ file: file.name, format }, entries, PRODUCTS_PER_IMPORT_CHUNK, idempotencyKey);
  }

  /**
   * An import job's chunk: its products upserted (see upsertLeavingOutUndecodable), its unreadable
   * lines and failed products counted and reported by line. Throws, leaving the chunk to be
   * claimed again, when the backend or the database is unavailable.
   */
  async importChunk(chunk: Pick<JobChunk, 'entries'>): Promise<ChunkOutcome> {
    const entries = (chunk.entries ?? []).map((text) => JSON.parse(text) as Entry);
    const errors: JobError[] = [];
    const readable: { entry: Entry & { ok: true }; product: ProductInput }[] = [];
    for (const entry of entries) {
      if (entry.ok) readable.push({ entry, product: entry.product });
      else errors.push(lineError(entry, ErrorCode.BAD_USER_INPUT, entry.message));
    }
    const results = await upsertLeavingOutUndecodable(
      (inputs) => this.parts.ingest.upsertProducts(inputs),
      readable.map((r) => r.product),
    );
    let processed = 0;
    results.forEach((result, i) => {
      const { entry } = readable[i];
      const named = { line: entry.line, id: entry.product.id };
      for (const left of result.leftOut)
        errors.push(
          lineError(named, left.code, `left out ${left.url ?? `image ${left.index}`}: ${left.message}`, ['images', String(left.index)]),
        );
      if (result.ok) return processed++;
      if (PASSING.has(result.error.code))
        throw new GatewayError(result.error.code, `line ${entry.line}: ${result.error.message}`, { cause: result.error });
      errors.push(lineError(named, result.error.code, reasonOf(result.error)));
    });
    // In file order (a line's unreadable entry and its product's images among the others), as the command lists them.
    errors.sort((x, y) => Number(x.field![1]) - Number(y.field![1]));
    return { productIds: [], tags: [], processed, failed: entries.length - processed, errors };
  }
}
