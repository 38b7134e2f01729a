import { checkVectorModel } from '../checks';
import { Part } from '../composed';
import {
  checkLabelVectors,
  checkTexts,
  chunksOf,
  float32Bytes,
  float32Of,
  labelDimensionMismatch,
  yieldToEventLoop,
} from '../label-vectors';
import { modelKey, type VectorModel } from '../port';
import type { Connection } from './connection';
import type { Vectors } from './vectors';

/**
 * The vectors of label prompts, per model and prompt text, in the plain table `label_vectors`
 * (schema.ts): read by key, never searched, so no vec0 table.
 *
 * Reads and writes go a chunk at a time, each chunk its own transaction with the event loop let
 * go between two: better-sqlite3 is synchronous, and a whole taxonomy's prompts (10,595 nodes times
 * their templates) in one transaction would hold the gateway's thread, and for a write the write
 * lock, for its whole length. Each statement reads or writes one row, binding three parameters
 * at most, so no chunk comes near SQLite's limit on bound parameters (32,766 since 3.32, 999
 * before), however many texts it holds.
 */

/** Texts looked up per transaction. */
const READ_CHUNK = 2_000;
/** Rows written per transaction. */
const WRITE_CHUNK = 1_000;

export class LabelVectors extends Part<Connection, { vectors: Vectors }> {
  async getLabelVectors(model: VectorModel, texts: string[]): Promise<Map<string, Float32Array>> {
    checkVectorModel(model);
    checkTexts(texts);
    const found = new Map<string, Float32Array>();
    const key = modelKey(model);
    const chunks = chunksOf([...new Set(texts)], READ_CHUNK);
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) await yieldToEventLoop();
      await this.c.run('getLabelVectors', 'read', () => {
        this.checkDim(model);
        // A primary-key lookup per text: half the time of one json_each join over the chunk (50,000
        // texts of 220 characters: 0.46 s against 0.96 s), and two parameters a statement.
        const lookup = this.c.sql('SELECT vector FROM label_vectors WHERE model_key = ? AND text = ?').pluck();
        for (const text of chunk) {
          const vector = lookup.get(key, text) as Buffer | undefined;
          if (vector) found.set(text, float32Of(vector));
        }
      });
    }
    return found;
  }

  async putLabelVectors(model: VectorModel, rows: { text: string; vector: Float32Array }[]): Promise<void> {
    checkVectorModel(model);
    checkLabelVectors(model, rows);
    const key = modelKey(model);
    const upsert = `INSERT INTO label_vectors (model_key, text, vector) VALUES (?, ?, ?)
      ON CONFLICT (model_key, text) DO UPDATE SET vector = excluded.vector`;
    const chunks = chunksOf(rows, WRITE_CHUNK);
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) await yieldToEventLoop();
      await this.c.run('putLabelVectors', 'write', () => {
        this.checkDim(model);
        const statement = this.c.sql(upsert);
        for (const { text, vector } of chunk) statement.run(key, text, float32Bytes(vector));
      });
    }
  }

  /**
   * DIMENSION_MISMATCH when the model's key holds vectors of another dim: its image or product
   * vectors (the models table), or label vectors stored before (their byte length).
   */
  private checkDim(model: VectorModel): void {
    this.uses.vectors.tablesOf(model);
    const bytes = this.c.sql('SELECT length(vector) FROM label_vectors WHERE model_key = ? LIMIT 1').pluck().get(modelKey(model)) as
      number | undefined;
    if (bytes !== undefined && bytes !== model.dim * 4) throw labelDimensionMismatch(model, bytes / 4);
  }
}
