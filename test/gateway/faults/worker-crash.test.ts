import { Session } from 'node:inspector';
import type { Worker } from 'node:worker_threads';

import type { Piscina } from 'piscina';

import type { InferenceBackend } from '../../../gateway/backends';
import { histogram, startGateway, type RunningGateway } from '../../helpers/gateway';
import { cosine, loadReference } from '../../helpers/tiny-clip';

const EMBED = 'query ($inputs: [MediaInput!]!) { embed(inputs: $inputs) { vector } }';

/**
 * The local backend's Piscina pool. It is private to LocalBackend, which exposes no worker on
 * purpose; a test that kills a worker thread has to reach it. Piscina's `threads` are the Worker
 * objects themselves.
 */
function poolOf(backend: InferenceBackend): Piscina {
  return (backend as unknown as { pool: Piscina }).pool;
}

/**
 * Evaluates JavaScript inside one worker thread, through the inspector (the NodeWorker domain of
 * an in-process session): how the test makes a worker thread fail in its own code.
 */
async function evaluateInWorker(worker: Worker, expression: string): Promise<unknown> {
  const session = new Session();
  session.connect();
  try {
    const sessionId = await new Promise<string>((resolve) => {
      session.on('NodeWorker.attachedToWorker', ({ params }) => {
        // Node titles a worker's inspector target by its thread id; jest and tsx have workers too.
        if (params.workerInfo.title === `[worker ${worker.threadId}]`) resolve(params.sessionId);
      });
      session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    });
    type Reply = { id?: number; result?: { result: { value?: unknown } }; error?: { message: string } };
    const reply = new Promise<Reply>((resolve) => {
      session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => {
        const message = JSON.parse(params.message) as Reply;
        if (params.sessionId === sessionId && message.id === 1) resolve(message);
      });
    });
    session.post('NodeWorker.sendMessageToWorker', {
      sessionId,
      message: JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression } }),
    });
    const { result, error } = await reply;
    if (error) throw new Error(`evaluating in the worker failed: ${error.message}`);
    return result!.result.value;
  } finally {
    session.disconnect();
  }
}

/**
 * A worker thread of the local backend fails with a batch in its hands: the gateway answers every
 * input of the batch with BACKEND_UNAVAILABLE, at once, Piscina replaces the thread, and the new
 * one serves CLIP's vectors.
 *
 * How the worker dies: it is made to call process.exit() on its next turn of the event loop, while
 * it is idle; then the batch is sent. The worker takes the task, prepares the crops and queues
 * ONNX Runtime's run() (onnxruntime-node runs it from a setImmediate), and exits in the immediate
 * queued before that one: mid-batch, in its own JavaScript. Why not worker.terminate() from the
 * outside while ONNX Runtime runs: terminating a worker thread while onnxruntime-node's run() is on
 * its stack aborts the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'": the binding rethrows into an engine that is shutting down), which no code of the
 * gateway can catch or survive; LocalBackend never terminates a busy worker (no abort signals to
 * Piscina; close() waits for running tasks).
 */
describe('a worker thread of the local backend dying mid-batch', () => {
  const reference = loadReference();
  const images = reference.images.map((image) => ({ imageBase64: image.bytes.toString('base64') }));
  let gw: RunningGateway;

  beforeAll(async () => {
    // One worker thread (startGateway's default). No dispatch on idle and a long batching window:
    // the request's images, decoded at slightly different times, leave as one batch, the batch
    // that loses its worker.
    gw = await startGateway({ dispatchWhenIdle: false, maxDelayMs: 300, imageMaxBatchSize: 32 });
  });
  afterAll(() => gw?.stop());

  it('fails every input of that batch with BACKEND_UNAVAILABLE, then serves correct vectors from the replacement worker', async () => {
    const pool = poolOf(gw.gateway.backend);
    // Piscina announces each worker it started, once up, by thread id.
    const started: number[] = [];
    pool.on('workerCreate', (worker: { id: number }) => started.push(worker.id));
    expect(pool.threads).toHaveLength(1);
    const [original] = pool.threads;
    const exitCode = new Promise<number>((resolve) => original.once('exit', resolve));
    expect(await evaluateInWorker(original, `setImmediate(() => process.exit(70)), 'armed'`)).toBe('armed');

    const sent = Date.now();
    const crashed = await gw.graphql<{ embed: ({ vector: number[] } | null)[] }>(EMBED, { inputs: images });
    // A dead worker's task is rejected at once: nothing waits for a deadline.
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(await exitCode).toBe(70);
    // The request's images went as the one batch the worker died with.
    expect(await histogram(gw.gateway, 'batchSize', { kind: 'image' })).toEqual({ count: 1, sum: images.length });

    expect(crashed.status).toBe(200);
    expect(crashed.data?.embed).toEqual(images.map(() => null));
    expect(crashed.errors).toHaveLength(images.length);
    expect(crashed.errors!.map((error) => error.path)).toEqual(expect.arrayContaining(images.map((_, i) => ['embed', i])));
    for (const error of crashed.errors!) {
      expect(error.extensions?.code).toBe('BACKEND_UNAVAILABLE');
      // One sentence for the client; the worker's exit code and any stack stay in the server log.
      expect(error.message).toMatch(/^[^\n]*could not run this input; try again later\.$/);
      expect(error.message).not.toMatch(/worker|exited|70|\bat \S+:\d+/i);
      expect(error.extensions).not.toHaveProperty('stacktrace');
    }
    expect(gw.logs.filter((line) => /image batch failed in the local backend.*worker exited with code: 70/.test(line))).toHaveLength(1);

    // Piscina starts a replacement at once (minThreads = maxThreads = 1), which loads its own model.
    expect(pool.threads).toHaveLength(1);
    expect(pool.threads[0]).not.toBe(original);
    const replacement = pool.threads[0];
    const ready = await fetch(`${gw.origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', backend: 'local' });

    // The same images again: the failures were not cached, and the new worker's vectors are CLIP's.
    const again = await gw.graphql<{ embed: { vector: number[] }[] }>(EMBED, { inputs: [...images, { text: reference.texts[0].text }] });
    expect(again.errors).toBeUndefined();
    again.data!.embed.slice(0, images.length).forEach(({ vector }, i) => {
      // Decoded by sharp here, by PIL in the reference: the tolerance of test/functions/clip/model.test.ts.
      expect(cosine(Float32Array.from(vector), reference.images[i].embedding)).toBeGreaterThanOrEqual(0.99);
    });
    expect(cosine(Float32Array.from(again.data!.embed[images.length].vector), reference.texts[0].embedding)).toBeGreaterThanOrEqual(0.9999);
    // Still the one replacement: it did the work, nothing died again. (By identity and thread id: a
    // deep comparison of Worker objects trips on their internals.)
    expect(started).toEqual([replacement.threadId]);
    expect(pool.threads).toHaveLength(1);
    expect(pool.threads[0]).toBe(replacement);
  });
});
