// A worker thread of the local backend: loads the CLIP core once and runs requests on it. ONNX
// Runtime's run() occupies the calling thread, so it happens here, never on the event loop.
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';

import type { EmbedRequest, EmbedResult, ModelDescription } from '../../functions/clip';
import { ClipModel, type ClipModelOptions } from '../../functions/clip/model';

export interface LocalWorkerData {
  modelDir: string;
  options: Omit<Partial<ClipModelOptions>, 'log'>;
  /** The BroadcastChannel the backend reads this worker's log lines from (see LocalBackend). */
  logChannel: string;
}

export type LocalWorkerTask = { kind: 'describe' } | { kind: 'embed'; request: EmbedRequest };

const { modelDir, options, logChannel } = workerData as LocalWorkerData;
// Lines go to the gateway's own logger, not to this thread's stderr: what the gateway was told to
// do with its log (a file, a test's capture) holds for its workers too.
const log = new BroadcastChannel(logChannel);
log.unref();
const model = ClipModel.load(modelDir, { ...options, log: (line) => log.postMessage(`[clip worker ${threadId}] ${line}`) });
// A load failure is reported by the first task; without this it would also be an unhandled rejection.
model.catch(() => undefined);

export default async function runTask(task: LocalWorkerTask): Promise<ModelDescription | EmbedResult[]> {
  const loaded = await model;
  return task.kind === 'describe' ? loaded.describe() : loaded.embed(task.request);
}
