import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { Piscina } from 'piscina';

import type { ClipModelOptions } from '../../functions/clip';
import type { EmbedItem, EmbedRequest, ModelDescription } from '../../functions/protocol';
import type { InferenceBackend } from './backend';
import type { LocalWorkerData, LocalWorkerTask } from './local-worker';

export interface LocalBackendOptions {
  modelDir: string;
  /** Worker threads, each with its own ONNX Runtime sessions. Default: half the cores, at least 1. */
  workers?: number;
  /** ONNX Runtime threads per worker. Default: the cores shared out among the workers. */
  intraOpThreads?: number;
  model?: Omit<Partial<ClipModelOptions>, 'log' | 'intraOpThreads'>;
}

/**
 * The worker entry as JavaScript. Compiled, it sits next to this file; when this file runs from
 * its TypeScript source (under jest), the compiled one comes from `npm run build`.
 */
function workerFile(): string {
  const beside = join(__dirname, 'local-worker.js');
  if (existsSync(beside)) return beside;
  const built = join(__dirname, '..', '..', 'dist', 'gateway', 'backends', 'local-worker.js');
  if (existsSync(built)) return built;
  throw new Error(`The local backend's worker is not built (looked for ${beside} and ${built}); run npm run build.`);
}

/** CLIP in this process, on a pool of worker threads. */
export class LocalBackend implements InferenceBackend {
  readonly kind = 'local' as const;
  readonly concurrency: number;
  private readonly pool: Piscina;
  private started = false;

  constructor(options: LocalBackendOptions) {
    const cores = availableParallelism();
    const workers = options.workers ?? Math.max(1, Math.floor(cores / 2));
    if (!Number.isInteger(workers) || workers <= 0) throw new TypeError(`workers must be a positive integer: ${workers}`);
    const intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(cores / workers));
    this.concurrency = workers;
    const workerData: LocalWorkerData = { modelDir: options.modelDir, options: { ...options.model, intraOpThreads } };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: workers,
      maxThreads: workers,
      // Models are loaded once per worker; an idle worker must never be reaped and reloaded.
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    });
  }

  async start(): Promise<ModelDescription> {
    // One describe per worker, concurrently, so every worker has loaded its model before traffic.
    const descriptions = await Promise.all(
      Array.from({ length: this.concurrency }, () => this.pool.run({ kind: 'describe' } satisfies LocalWorkerTask)),
    );
    this.started = true;
    return descriptions[0] as ModelDescription;
  }

  async embed(request: EmbedRequest): Promise<EmbedItem[]> {
    // Crops are moved, not copied, to the worker: a batch of 32 ViT-B/32 crops is 4.8 MB that
    // structured cloning would copy on the event loop. Only buffers a crop owns whole can move.
    const bytes = request.kind === 'crops' ? request.crops : request.kind === 'images' ? request.images : [];
    const transferList = bytes
      .filter((b) => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength)
      .map((b) => b.buffer as ArrayBuffer);
    return (await this.pool.run({ kind: 'embed', request } satisfies LocalWorkerTask, {
      transferList: [...new Set(transferList)],
    })) as EmbedItem[];
  }

  async ready(): Promise<boolean> {
    return this.started && this.pool.threads.length > 0;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
