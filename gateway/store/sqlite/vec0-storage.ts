import type Database from 'better-sqlite3';

/**
 * Many vectors of a vec0 table read from its storage. sqlite-vec 0.1 keeps a table's vectors in
 * chunks of slots (1,024 by default), each chunk one blob of `<table>_vector_chunks00` (a vector's
 * float32 values at slot × its bytes), and each row's place in `<table>_rowids` (rowid → chunk_id,
 * chunk_offset; deleting a row removes its entry, and the slot is reused). A point lookup through
 * the virtual table opens a chunk's blob for one vector, ~7 µs a 512-dimension vector on the
 * machines measured; one read of the blob gives every wanted vector of the chunk, and products
 * written together (an import, a job's chunk in id order) sit in the same chunks. Rows spread
 * thinly over chunks are read one by one as before, and so is a table whose storage was laid out
 * by another version of sqlite-vec than this file reads.
 */

/** Where statements come from (the connection's cache; a test's own database). */
export type Prepare = (text: string) => Database.Statement;

/** A row of a vec0 table and its slot: chunk_id and chunk_offset of `placesTable(table)`. */
export interface StoredRow {
  rowid: number;
  chunk: number;
  offset: number;
}

/**
 * Wanted rows in one chunk from which the chunk's blob is read (SQLite loads all of a blob even for
 * a part of it: 2 MB at 512 dimensions, about as long as 60–100 point lookups).
 */
const CHUNK_READ_MIN_ROWS = 64;

/** The table giving each row of `table` its slot (rowid, chunk_id, chunk_offset): to join on a rowid, no entry when the row is absent. */
export function placesTable(table: string): string {
  return `${table}_rowids`;
}

/** Whether the table's storage is laid out as this file reads it: made by sqlite-vec 0.1. */
function readableLayout(prepare: Prepare, table: string): boolean {
  const version = prepare(`SELECT value FROM ${table}_info WHERE key = 'CREATE_VERSION'`).pluck().get() as unknown;
  return typeof version === 'string' && version.startsWith('v0.1.');
}

/**
 * Copies the vectors of `rows` (each present in `table`, of `dim` float32 values) into `into`, row i
 * at i × dim: a chunk holding at least CHUNK_READ_MIN_ROWS of them from one read of its blob's span
 * between the first and last wanted slots, the others by point lookups.
 */
export function copyStoredVectors(prepare: Prepare, table: string, dim: number, rows: readonly StoredRow[], into: Float32Array): void {
  const size = dim * 4;
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  const byChunk = new Map<number, number[]>();
  for (let i = 0; i < rows.length; i++) {
    const members = byChunk.get(rows[i].chunk);
    if (members) members.push(i);
    else byChunk.set(rows[i].chunk, [i]);
  }
  const point = prepare(`SELECT embedding FROM ${table} WHERE rowid = ?`).pluck();
  const lookUp = (i: number) => {
    const blob = point.get(BigInt(rows[i].rowid)) as Buffer | undefined;
    if (!blob || blob.byteLength !== size) throw new Error(`${table} has no vector of ${dim} values for row ${rows[i].rowid}`);
    blob.copy(bytes, i * size);
  };
  const dense = [...byChunk.values()].some((members) => members.length >= CHUNK_READ_MIN_ROWS);
  const span =
    dense && readableLayout(prepare, table)
      ? prepare(`SELECT substr(vectors, ?, ?) FROM ${table}_vector_chunks00 WHERE rowid = ?`).pluck()
      : undefined;
  for (const [chunk, members] of byChunk) {
    if (span && members.length >= CHUNK_READ_MIN_ROWS) {
      let first = Infinity;
      let last = -1;
      for (const i of members) {
        first = Math.min(first, rows[i].offset);
        last = Math.max(last, rows[i].offset);
      }
      const blob = span.get(first * size + 1, (last - first + 1) * size, chunk) as Buffer | undefined;
      // A blob of another length is a layout this file does not know: the rows are looked up instead.
      if (blob && blob.byteLength === (last - first + 1) * size) {
        for (const i of members) {
          const from = (rows[i].offset - first) * size;
          blob.copy(bytes, i * size, from, from + size);
        }
        continue;
      }
    }
    for (const i of members) lookUp(i);
  }
}
