import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { CatalogueStore } from './catalogue-store';
import type { StoreConfig } from './from-env';
import { MilvusVectors } from './milvus/client';
import { MilvusIndexedStore } from './milvus/indexed-store';
import { openPostgresStore } from './postgres';
import { openSqliteStore } from './sqlite';

/**
 * Opens the store a configuration names (not migrated: its opener does that); a SQLite file's
 * directory is made if missing. With `milvus`, the store is wrapped so that Milvus answers its
 * searches (milvus/indexed-store.ts). `log` hears what the store does on its own (its search index).
 */
export async function openConfiguredStore(config: StoreConfig, log?: (message: string) => void): Promise<CatalogueStore> {
  const store = await openEngine(config, log);
  if (!config.milvus) return store;
  const { rebuild, ...options } = config.milvus;
  return new MilvusIndexedStore(store, { milvus: new MilvusVectors(options), rebuild, log });
}

async function openEngine(config: StoreConfig, log?: (message: string) => void): Promise<CatalogueStore> {
  if (config.kind === 'postgres') return openPostgresStore({ url: config.url });
  if (config.path !== ':memory:') await mkdir(dirname(config.path), { recursive: true });
  // With Milvus answering searches, the store's own graph would only double the memory of its fallback.
  return openSqliteStore({ path: config.path, log, searchIndex: !config.milvus });
}
