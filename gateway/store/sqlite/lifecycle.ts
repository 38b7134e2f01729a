import { Part } from '../composed';
import { StoreError } from '../port';
import type { Connection } from './connection';
import type { SearchIndexes } from './hnsw/indexes';
import { MIGRATIONS } from './schema';

/**
 * The store's life: migrate() creates or brings the schema up to date (see schema.ts), close() stops
 * the search indexes' work and closes the connection.
 */
export class Lifecycle extends Part<Connection, { indexes: SearchIndexes }> {
  async migrate(): Promise<void> {
    const db = this.c.db;
    await this.c.run('migrate', 'write', () => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)');
      const current = (db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_version').get() as { v: number }).v;
      if (current > MIGRATIONS.length) {
        throw new StoreError(
          'STORE_UNAVAILABLE',
          `the catalogue database has schema version ${current}, newer than this gateway's ${MIGRATIONS.length}: upgrade the gateway`,
        );
      }
      for (let version = current + 1; version <= MIGRATIONS.length; version++) {
        const migration = MIGRATIONS[version - 1];
        if (typeof migration === 'string') db.exec(migration);
        else migration(db);
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version);
      }
    });
    this.c.forgetStatements();
  }

  async close(): Promise<void> {
    await this.uses.indexes.close();
    return this.c.close();
  }
}
