import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';

import { Piscina } from 'piscina';

import type { EmbedRequest, EmbedResult, ModelDescription } from '../../functions/clip';
import type { ClipModelOptions } from '../../functions/clip/model';
import { check, positiveInt } from '../../functions/options';
import type { InferenceBackend } from './backend';
import type { LocalWorkerData, LocalWorkerTask } from './local-worker';

export interface LocalBackendOptions {
  modelDir: string;
  /** Worker threads, each with its own ONNX Runtime sessions. Default: defaultWorkerCount(). */
  workers?: number;
  /** ONNX Runtime threads per worker. Default: the cores shared out among the workers. */
  intraOpThreads?: number;
  model?: LocalModelOptions;
  /** Where the workers' log lines go (model loaded, execution provider). Default: stderr. */
  log?: (line: string) => void;
}

/** The model settings a local backend passes to ClipModel. */
export type LocalModelOptions = Omit<Partial<ClipModelOptions>, 'log' | 'intraOpThreads'>;

/** Half the cores, at least 1: each worker's ONNX Runtime gets two threads on a two-core machine's one worker. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

/**
 * The worker entry. Compiled, it is the JavaScript beside this file. Run from the TypeScript
 * sources (under jest, or tsx), it is the TypeScript beside this file, loaded through tsx, so a
 * test always exercises the worker code it sees and never a stale build.
 */
function workerEntry(): { filename: string; execArgv: string[] } {
  const compiled = join(__dirname, 'local-worker.js');
  if (existsSync(compiled)) return { filename: compiled, execArgv: [] };
  const source = join(__dirname, 'local-worker.ts');
  if (existsSync(source)) return { filename: source, execArgv: ['--import', 'tsx'] };
  throw new Error(`The local backend's worker is missing: neither ${compiled} nor ${source} exists.`);
}

/** Backends made in this process, for a log channel name of each one's own. */
let backends = 0;

/** CLIP in this process, on a pool of worker threads. */
export class LocalBackend implements InferenceBackend {
  readonly kind = 'local' as const;
  readonly concurrency: number;
  private readonly pool: Piscina;
  /** The channel the workers write their log lines to, one per backend. */
  private readonly workerLog: BroadcastChannel;
  private started = false;

  constructor(options: LocalBackendOptions) {
    const cores = availableParallelism();
    const workers = check('workers', options.workers ?? defaultWorkerCount(), positiveInt);
    const intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(cores / workers));
    this.concurrency = workers;
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const logChannel = `clip-local-backend-log-${process.pid}-${++backends}`;
    this.workerLog = new BroadcastChannel(logChannel);
    this.workerLog.onmessage = (event) => log(String((event as MessageEvent).data));
    this.workerLog.unref();
    const workerData: LocalWorkerData = { modelDir: options.modelDir, options: { ...options.model, intraOpThreads }, logChannel };
    this.pool = new Piscina({
      ...workerEntry(),
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

  /**
   * No abort signal reaches the pool, on purpose: Piscina would terminate the worker thread, and
   * terminating one during an ONNX Runtime run aborts the whole process (inside onnxruntime-node's
   * binding). A batch once sent runs to its end; requests that stop waiting simply drop its results.
   */
  async embed(request: EmbedRequest): Promise<EmbedResult[]> {
    // Crops are moved, not copied, to the worker: a batch of 32 ViT-B/32 crops is 4.8 MB that
    // structured cloning would copy on the event loop. Only buffers a crop owns whole can move.
    const bytes = request.kind === 'text' ? [] : request.items;
    const transferList = bytes
      .filter((b) => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength)
      .map((b) => b.buffer as ArrayBuffer);
    return (await this.pool.run({ kind: 'embed', request } satisfies LocalWorkerTask, {
      transferList: [...new Set(transferList)],
    })) as EmbedResult[];
  }

  async ready(): Promise<boolean> {
    return this.started && this.pool.threads.length > 0;
  }

  async close(): Promise<void> {
    await this.pool.close();
    this.workerLog.close();
  }
}
