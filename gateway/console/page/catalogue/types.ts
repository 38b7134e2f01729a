// What the catalogue's views read from the gateway: the fields each query asks for, as types.

/** The product fields every grid asks for: a ProductSummary. */
export const PRODUCT_FIELDS = 'id title imageUrls';

export interface ProductSummary {
  id: string;
  title: string | null;
  imageUrls: (string | null)[];
}
export interface Hit {
  product: ProductSummary;
  score: number;
}
export interface Facet {
  name: string;
  labels: string[];
}
/** A product's tag as GraphQL's Tag gives it (with its product's id, as the review queue lists it). */
export interface Tag {
  productId: string;
  facet: string;
  label: string;
  score: number;
  similarity: number;
  source: 'AUTO' | 'MANUAL';
  needsReview: boolean;
}
export interface Job {
  id: string;
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  total: number;
  processed: number;
  failed: number;
  etaSeconds: number | null;
  startedAt: string | null;
}

/** Opens a product's tags, from wherever its id is shown. */
export type OpenProduct = (id: string) => Promise<void>;
