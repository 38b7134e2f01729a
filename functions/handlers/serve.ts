// The served function as a process: listen at once, load the model, serve, and leave cleanly:
// drain on SIGTERM, exit non-zero when the model cannot load or the device fails, so that the
// platform (SageMaker, Cloud Run, RunPod, Modal, Azure) replaces the worker.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Env } from '../options';
import { createFunctionServer, createHealthServer, type FunctionServerOptions } from './http-server';
import { FunctionLifecycle } from './lifecycle';
import type { ServedModel } from './served-model';
import { serveSettingsFromEnv, type ServeSettings } from './serve-settings';

export interface FunctionProcessOptions {
  /** The environment to read settings and the model from. Default process.env. */
  env?: Env;
  /**
   * Loads the model. Default: loadModelFromEnv (the startup line, CLIP_REQUIRE_GPU), required
   * only once the port is open: ONNX Runtime and sharp take longer to load than SageMaker allows
   * for the port to open (250 ms).
   */
  loadModel?: (env: Env, log: (line: string) => void) => Promise<ServedModel>;
  /** Where the process's lines go. Default: stderr. */
  log?: (line: string) => void;
  /** Ends the process. Default process.exit. */
  exit?: (code: number) => void;
  server?: Omit<FunctionServerOptions, 'log'>;
}

export interface RunningFunction {
  settings: ServeSettings;
  lifecycle: FunctionLifecycle;
  /** The ports listened on (an ephemeral one resolved). */
  port: number;
  healthPort?: number;
  /** Drains and exits as SIGTERM does; `why` goes to the log. */
  stop(why: string): Promise<void>;
}

const defaultLoadModel: NonNullable<FunctionProcessOptions['loadModel']> = (env, log) => {
  // Required here, not imported above: see loadModel.
  const { loadModelFromEnv } = require('./model-from-env') as typeof import('./model-from-env');
  return loadModelFromEnv(env, log);
};

/** How long a stopping process waits for the model's sessions to be released before it exits anyway. */
const RELEASE_WAIT_MS = 300;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Starts the function; failures to start are logged and end the process with exit code 1. */
export async function runFunctionProcess(options: FunctionProcessOptions = {}): Promise<RunningFunction | undefined> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const loadModel = options.loadModel ?? defaultLoadModel;
  const fail = (why: string) => {
    log(`The CLIP function could not start: ${why}`);
    exit(1);
  };

  let settings: ServeSettings;
  try {
    settings = serveSettingsFromEnv(env);
  } catch (error) {
    return void fail(message(error));
  }
  const lifecycle = new FunctionLifecycle();
  const servers: Server[] = [createFunctionServer(lifecycle, { ...options.server, log: (m, e) => log(e ? `${m}: ${withStack(e)}` : m) })];
  if (settings.healthPort !== undefined) servers.push(createHealthServer(lifecycle));
  let ports: number[];
  try {
    ports = await Promise.all(servers.map((server, i) => listen(server, i === 0 ? settings.port : settings.healthPort!, settings.host)));
  } catch (error) {
    for (const server of servers) server.close();
    return void fail(message(error));
  }
  const [port, healthPort] = ports;

  let stopping: Promise<void> | undefined;
  const stop = (why: string, exitCode = 0): Promise<void> => {
    stopping ??= drain(why, exitCode);
    return stopping;
  };
  const drain = async (why: string, exitCode: number): Promise<void> => {
    lifecycle.drain(why);
    const waiting = lifecycle.inFlight;
    log(`${why}: stopping; ${waiting} invocation${waiting === 1 ? '' : 's'} in flight`);
    // No new connections; idle keep-alive ones close now, busy ones after their answer.
    for (const server of servers) server.close();
    let timer: NodeJS.Timeout | undefined;
    const cut = await Promise.race([
      lifecycle.idle().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), settings.shutdownGraceMs))),
    ]);
    clearTimeout(timer);
    const left = lifecycle.inFlight;
    for (const server of servers) server.closeAllConnections();
    // Bounded: the exit must come within Cloud Run's 10 s, whatever tearing down a GPU context takes.
    const released = lifecycle.model?.release().catch((error: unknown) => log(`releasing the model failed: ${message(error)}`));
    await Promise.race([released, new Promise((resolve) => setTimeout(resolve, RELEASE_WAIT_MS))]);
    if (cut) {
      log(`stopped: ${left} invocation${left === 1 ? '' : 's'} still running after ${settings.shutdownGraceMs} ms cut`);
      return exit(1);
    }
    log(`stopped: ${waiting} invocation${waiting === 1 ? '' : 's'} finished${exitCode === 0 ? '' : `; exit ${exitCode}`}`);
    exit(exitCode);
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) log(`${signal}: already stopping`);
      void stop(signal);
    });
  }
  // Whoever broke it (the load, an invocation) has logged why.
  lifecycle.onBroken(() => void stop('broken', 1));

  const started = performance.now();
  log(
    `CLIP function listening on port ${port}${healthPort === undefined ? '' : ` (health also on port ${healthPort})`}` +
      ` ${Math.round(started)} ms after start: POST /invocations, GET /ping, GET /readyz; loading the model`,
  );
  loadModel(env, log).then(
    (model) => {
      if (!lifecycle.ready(model)) return void model.release().catch(() => undefined);
      log(
        `CLIP function ready: ${model.info.name} (${model.info.dim} dims, ${model.info.device}) loaded in ${Math.round(performance.now() - started)} ms`,
      );
    },
    (error: unknown) => {
      log(`The CLIP function could not start: ${message(error)}`);
      lifecycle.broken(`the model could not load: ${message(error)}`);
    },
  );
  return { settings, lifecycle, port, healthPort, stop: (why) => stop(why) };
}

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function withStack(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
