import type { PoolClient } from 'pg';

import { Part } from '../composed';
import type { Connection, PostgresStoreOptions } from './connection';
import {
  HALFVEC_PGVECTOR,
  hnswIndexFor,
  LATEST_VERSION,
  MIGRATIONS,
  MIN_PGVECTOR,
  reconcileIndexStatements,
  SCHEMA_LOCK_KEY,
  versionAtLeast,
  type HnswIndex,
} from './schema';

/**
 * The store's life: migrate() creates or brings the schema up to date (see schema.ts) and gives each
 * model's table the HNSW index of the store's indexPrecision; close() closes the pool.
 */
export class Lifecycle extends Part<
  Connection,
  { onPgvector: (version: string) => void; indexPrecision: PostgresStoreOptions['indexPrecision'] }
> {
  async migrate(): Promise<void> {
    const n = this.c.names;
    await this.c.transaction(async (client) => {
      // Several gateways starting at once take turns; the lock ends with the transaction.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [SCHEMA_LOCK_KEY]);
      // Looks before creating: CREATE ... IF NOT EXISTS asks for privileges even when the thing
      // exists, and a gateway whose role may only use the tables must still start.
      const found = await client.query<{ extension: string | null; schema: boolean; versions: boolean }>(
        `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS extension,
                EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
                to_regclass($2) IS NOT NULL AS versions`,
        [n.schemaName, n.schemaVersion],
      );
      let version = found.rows[0].extension;
      if (version === null) {
        await client.query('CREATE EXTENSION IF NOT EXISTS vector');
        version = (await client.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)).rows[0].v;
      }
      if (!versionAtLeast(version, MIN_PGVECTOR)) {
        throw new Error(`the catalogue needs pgvector ${MIN_PGVECTOR.join('.')} or later (HNSW indexes); the database has ${version}`);
      }
      this.uses.onPgvector(version);
      if (!found.rows[0].schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${n.schema}`);
      if (!found.rows[0].versions) await client.query(`CREATE TABLE IF NOT EXISTS ${n.schemaVersion} (version integer NOT NULL)`);
      const current = (await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${n.schemaVersion}`)).rows[0].v ?? 0;
      if (current > LATEST_VERSION) {
        throw new Error(
          `the catalogue's schema is at version ${current}, newer than this gateway's ${LATEST_VERSION}: upgrade the gateway`,
        );
      }
      for (let v = current + 1; v <= LATEST_VERSION; v++) {
        for (const statement of MIGRATIONS[v - 1](n)) await client.query(statement);
      }
      if (current < LATEST_VERSION) {
        await client.query(`DELETE FROM ${n.schemaVersion}`);
        await client.query(`INSERT INTO ${n.schemaVersion} (version) VALUES ($1)`, [LATEST_VERSION]);
      }
      await this.reconcileIndexes(client, this.uses.indexPrecision === 'half' && versionAtLeast(version, HALFVEC_PGVECTOR));
    });
  }

  /**
   * Rebuilds the HNSW index of each model table whose kind is not the one this store makes (a store
   * made before halfvec indexes, or another indexPrecision), under the migration's lock.
   */
  private async reconcileIndexes(client: PoolClient, halfvec: boolean): Promise<void> {
    const n = this.c.names;
    const models = await client.query<{ key: string; dim: number; table: string; hnsw: HnswIndex }>(
      `SELECT model_key AS key, dim, table_name AS table, hnsw FROM ${n.vectorModels} ORDER BY model_key`,
    );
    for (const model of models.rows) {
      for (const statement of reconcileIndexStatements(n, model, hnswIndexFor(model.dim, halfvec))) {
        await client.query(statement.text, statement.values);
      }
    }
  }

  close(): Promise<void> {
    return this.c.close();
  }
}
