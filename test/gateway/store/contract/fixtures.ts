/**
 * What the contract's concerns share: the store under test, fixtures (models, products, tags,
 * facets) and small helpers. Every expectation checks a known-good value, so each test fails when
 * the behaviour it names is broken.
 */
import {
  StoreError,
  type CatalogueStore,
  type ChunkOutcome,
  type FacetRow,
  type JobChunk,
  type ProductRow,
  type TagRow,
  type VectorModel,
} from '../../../../gateway/store';

export interface OpenedStore {
  /** A fresh store: migrated and empty. */
  store: CatalogueStore;
  /** Drops whatever the store left behind (files, schemas); the store may already be closed. */
  cleanup(): Promise<void>;
  /**
   * For adapters with durable state: closes nothing, opens a second store on the same database (the
   * test closes `store` first). When given, the suite checks that a reopened store keeps everything.
   */
  reopen?(): Promise<CatalogueStore>;
}

export const MODEL_A: VectorModel = { name: 'clip-a', dim: 4, dtype: 'fp32' };
export const MODEL_B: VectorModel = { name: 'clip-b', dim: 8, dtype: 'fp32' };
/** The same name as MODEL_A in another dtype: other vectors. */
export const MODEL_A_Q8: VectorModel = { name: 'clip-a', dim: 4, dtype: 'q8' };
export const SEARCH_MODEL: VectorModel = { name: 'search', dim: 16, dtype: 'fp32' };

export const T0 = '2024-01-01T00:00:00.000Z';
export const T1 = '2024-02-01T00:00:00.000Z';
export const T2 = '2024-03-01T00:00:00.000Z';

export function product(id: string, patch: Partial<ProductRow> = {}): ProductRow {
  return {
    id,
    title: `Title ${id}`,
    description: null,
    attributes: null,
    imageHashes: [hash(id)],
    createdAt: T0,
    updatedAt: T0,
    ...patch,
    imageUrls: patch.imageUrls ?? (patch.imageHashes ?? [hash(id)]).map(() => null),
  };
}

/** A 64-hex-digit stand-in for a SHA-256. */
export function hash(seed: string): string {
  let h = 0;
  for (const c of seed) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return (h.toString(16).padStart(8, '0') + seed.length.toString(16).padStart(2, '0')).padEnd(64, 'a');
}

export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return v.map((x) => x / norm);
}

export function vec(...values: number[]): Float32Array {
  return new Float32Array(values);
}

export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return error.code;
    throw error;
  }
  throw new Error('expected a StoreError, the call succeeded');
}

export function tag(productId: string, facet: string, label: string, patch: Partial<TagRow> = {}): TagRow {
  return {
    productId,
    facet,
    label,
    score: 0.5,
    similarity: 0.25,
    source: 'auto',
    needsReview: false,
    model: 'clip-a|fp32',
    taxonomyVersion: 1,
    ...patch,
  };
}

export function byKey(a: TagRow, b: TagRow): number {
  return a.facet < b.facet ? -1 : a.facet > b.facet ? 1 : a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
}

export async function tagsOf(store: CatalogueStore, productId: string): Promise<TagRow[]> {
  const map = await store.getTags([productId]);
  return [...(map.get(productId) ?? [])].sort(byKey);
}

export const FACETS: FacetRow[] = [
  {
    name: 'colour',
    labels: ['red', 'green'],
    templates: ['a photo of a {} thing'],
    mode: 'single',
    threshold: null,
    reviewBelow: 0.5,
  },
  {
    name: 'style',
    labels: ['casual', 'formal', 'sport'],
    templates: ['{} clothing', 'a {} outfit'],
    mode: 'multi',
    threshold: 0.3,
    reviewBelow: null,
  },
];

/** The store each test runs against, set by the suite's beforeEach before any concern's own. */
export interface Subject {
  opened: OpenedStore;
  store: CatalogueStore;
}

/** Product ids of jobs' tests: j000, j001, ... */
export function jobIds(n: number, prefix = 'j'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
}

/** Every product of the chunk tagged red, or failed when its id is in `failing`. */
export function outcome(chunk: JobChunk, failing: string[] = []): ChunkOutcome {
  const good = chunk.productIds.filter((id) => !failing.includes(id));
  return {
    productIds: good,
    tags: good.map((id) => tag(id, 'colour', 'red')),
    processed: good.length,
    failed: chunk.productIds.length - good.length,
    errors: chunk.productIds
      .filter((id) => failing.includes(id))
      .map((id) => ({ field: ['products', id], message: `${id} failed`, code: 'NOT_FOUND' })),
  };
}
