// The catalogue service, composed as gateway/gateway.ts composes it.
import type { EmbedRequest } from '../../functions/clip';
import { createBackend, type InferenceBackend } from '../../gateway/backends';
import { DEFAULT_JOB_RUNNER_OPTIONS, type CatalogueService } from '../../gateway/catalogue';
import { configFromEnv } from '../../gateway/config';
import { createGateway, type Gateway } from '../../gateway/gateway';
import type { CatalogueStore } from '../../gateway/store';
import { progress } from './options';

export interface Catalogue {
  service: CatalogueService;
  embeddings: Gateway['embeddings'];
  metrics: Gateway['metrics'];
  /** Inputs the backend was sent, by kind: what proves that re-tagging embedded no image. */
  sent: { text: number; images: number };
  /** Store time by method (synchronous part of each call: all of it for SQLite). */
  storeTime: Map<string, { calls: number; ms: number }>;
  close(): Promise<void>;
}

/**
 * The one place that builds a CatalogueService: createGateway itself, over the given store (with a
 * timing wrapper whose close leaves the store open for the sizes still to come) and a backend that
 * counts what it is sent. Its job runner polls once an hour: nothing else touches the store.
 */
export async function catalogueOn(store: CatalogueStore, modelDir: string): Promise<Catalogue> {
  const config = { ...configFromEnv({ CLIP_MODEL_DIR: modelDir }), jobs: { ...DEFAULT_JOB_RUNNER_OPTIONS, pollMs: 3_600_000 } };
  const log = (message: string, error?: unknown) => progress(`gateway: ${message}${error ? ` ${String(error)}` : ''}`);
  const sent = { text: 0, images: 0 };
  const backend = countingBackend(createBackend(config.backend, log), sent);
  const storeTime = new Map<string, { calls: number; ms: number }>();
  const gateway = await createGateway(config, { backend, log, store: timedStore(store, storeTime) });
  storeTime.clear(); // the start's own calls (migrate, claiming the model, the runner's first look)
  let closed = false;
  return {
    service: gateway.catalogue,
    metrics: gateway.metrics,
    embeddings: gateway.embeddings,
    sent,
    storeTime,
    async close() {
      if (closed) return;
      closed = true;
      await gateway.stop();
    },
  };
}

export function countingBackend(inner: InferenceBackend, sent: { text: number; images: number }): InferenceBackend {
  return {
    kind: inner.kind,
    get concurrency() {
      return inner.concurrency;
    },
    start: () => inner.start(),
    ready: () => inner.ready(),
    close: () => inner.close(),
    embed(request: EmbedRequest) {
      if (request.kind === 'text') sent.text += request.items.length;
      else sent.images += request.items.length;
      return inner.embed(request);
    },
  };
}

/** The store with each method's synchronous time added up (SQLite runs each call to its end before returning its promise). */
export function timedStore(store: CatalogueStore, times: Map<string, { calls: number; ms: number }>): CatalogueStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'close') return () => Promise.resolve(); // the bench closes the store itself
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          const entry = times.get(String(property)) ?? { calls: 0, ms: 0 };
          entry.calls++;
          entry.ms += performance.now() - t0;
          times.set(String(property), entry);
        }
      };
    },
  });
}
