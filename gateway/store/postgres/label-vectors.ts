import { createHash } from 'node:crypto';

import type { PoolClient } from 'pg';

import { checkVectorModel } from '../checks';
import { Part } from '../composed';
import { checkLabelVectors, checkTexts, chunksOf, float32Bytes, float32Of, labelDimensionMismatch } from '../label-vectors';
import { lastById } from '../order';
import { modelKey, type VectorModel } from '../port';
import type { Connection } from './connection';
import { MAX_DIM } from './schema';
import type { Vectors } from './vectors';

/**
 * The vectors of label prompts, per model and prompt text, in the plain table `label_vectors`
 * (schema.ts): read by key, never searched, so no pgvector column or index. Each vector is its
 * float32 bytes (bytea): bitwise what was written, and half the size of `real[]`.
 *
 * Rows are keyed by the SHA-256 of the text, not the text: a B-tree entry holds at most 2,704
 * bytes, and a prompt around a long category path may not fit, where a digest always does. The
 * text is kept beside it, so what is stored can be read.
 *
 * Each statement takes its lists as array parameters (unnest, ANY), so it binds two or three
 * parameters however many rows it carries, far from the protocol's 65,535; chunks bound the size
 * of one message and of one transaction instead.
 */

/** Texts looked up per statement (their digests: ~330 KB of parameters). */
const READ_CHUNK = 5_000;
/** Rows written per transaction (~4 MB of parameters at 512 dims). */
const WRITE_CHUNK = 1_000;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class LabelVectors extends Part<Connection, { vectors: Vectors }> {
  private get table(): string {
    return this.c.names.table('label_vectors');
  }

  async getLabelVectors(model: VectorModel, texts: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model, MAX_DIM);
    checkTexts(texts);
    const found = new Map<string, Float32Array>();
    const unique = [...new Set(texts)];
    if (unique.length === 0) return found;
    await this.c.withClient(async (client) => {
      await this.checkDim(client, model);
      for (const chunk of chunksOf(unique, READ_CHUNK)) {
        const rows = (
          await client.query<{ text: string; vector: Buffer }>(
            `SELECT text, vector FROM ${this.table} WHERE model_key = $1 AND text_sha256 = ANY($2::bytea[])`,
            [modelKey(model), chunk.map(digest)],
          )
        ).rows;
        for (const { text, vector } of rows) found.set(text, float32Of(vector));
      }
    });
    return found;
  }

  async putLabelVectors(model: VectorModel, rows: { text: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model, MAX_DIM);
    checkLabelVectors(model, rows);
    // One statement may not write a row twice (ON CONFLICT DO UPDATE): the last of a text wins.
    for (const chunk of chunksOf(
      lastById(rows, (r) => r.text),
      WRITE_CHUNK,
    )) {
      await this.c.transaction(async (client) => {
        await this.checkDim(client, model);
        await client.query(
          `INSERT INTO ${this.table} (model_key, text_sha256, text, vector)
           SELECT $1, r.text_sha256, r.text, r.vector FROM unnest($2::bytea[], $3::text[], $4::bytea[]) AS r(text_sha256, text, vector)
           ON CONFLICT (model_key, text_sha256) DO UPDATE SET text = EXCLUDED.text, vector = EXCLUDED.vector`,
          [modelKey(model), chunk.map((r) => digest(r.text)), chunk.map((r) => r.text), chunk.map((r) => float32Bytes(r.vector))],
        );
      });
    }
  }

  /**
   * DIMENSION_MISMATCH when the model's key holds vectors of another dim: its image or product
   * vectors (vector_models), or label vectors stored before (their byte length).
   */
  private async checkDim(client: PoolClient, model: VectorModel): Promise<void> {
    await this.uses.vectors.findModel(client, model);
    const bytes = (
      await client.query<{ bytes: number }>(`SELECT octet_length(vector) AS bytes FROM ${this.table} WHERE model_key = $1 LIMIT 1`, [
        modelKey(model),
      ])
    ).rows[0]?.bytes;
    if (bytes !== undefined && bytes !== model.dim * 4) throw labelDimensionMismatch(model, bytes / 4);
  }
}
