/** The catalogue store: the port's types and the adapters' openers. */
export * from './port';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite';
export { DEFAULT_POSTGRES_STORE_OPTIONS, openPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres';
