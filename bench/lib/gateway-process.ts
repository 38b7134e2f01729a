// The built gateway (or the local Lambda endpoint) started as a process of its own, as production
// runs it. The one implementation for the benches and the tests: it lives here because bench/ is
// built into dist/ and must not reach into test/, while tests may use a bench helper
// (test/helpers/gateway-process.ts re-exports this file).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { ROOT } from './root';

export interface RunningGateway {
  origin: string;
  child: ChildProcess;
  /** Settles once the process has exited, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (the gateway finishes in-flight work), then SIGKILL after `graceMs` (default 15 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once, as `kill -9` (nothing drains); resolves once it has exited. */
  kill(): Promise<void>;
}

export interface GatewayProcessOptions {
  /**
   * Gets the process's stderr once it serves (what it logged until then first). Without it the
   * log after the start is read and dropped: kept in memory, a long run's log would grow without
   * bound in this process.
   */
  onLog?: (text: string) => void;
  /** Kill the process and fail when it is not serving within this many ms (default: wait for it). */
  startTimeoutMs?: number;
  /** The entry script to run (default dist/gateway/index.js): another build of the gateway, to compare. */
  script?: string;
  /**
   * Gets the child as soon as it is spawned, before it serves: a caller's own cleanup (a test's
   * afterEach) can then kill a process whose start never ends.
   */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Starts the built gateway on an ephemeral port of 127.0.0.1, with Apollo Sandbox off (a program
 * talks to it, not a browser); `env` goes over those and over this process's environment (HOST ''
 * listens on every interface, and the origin is then http://localhost:PORT).
 */
export function startGatewayProcess(env: Record<string, string>, options: GatewayProcessOptions = {}): Promise<RunningGateway> {
  return startServingProcess(
    'gateway',
    options.script ?? join(ROOT, 'dist', 'gateway', 'index.js'),
    { PORT: '0', HOST: '127.0.0.1', SANDBOX: 'false', ...env },
    / at (http:\/\/[^\s/]+)\/graphql/,
    options,
  );
}

/**
 * Starts the local stand-in for the Lambda Invoke API (dist/functions/lambda-local/main.js) as its
 * own process, on an ephemeral port: the CLIP function (the model CLIP_MODEL_DIR / CLIP_MODEL
 * names, the bundled tiny CLIP when both are blank) behind the real protocol, with its fault
 * injection (`POST /_local/faults`). `origin` is what AWS_ENDPOINT_URL_LAMBDA takes.
 */
export function startLambdaLocalProcess(
  env: Record<string, string>,
  options: Omit<GatewayProcessOptions, 'script'> = {},
): Promise<RunningGateway> {
  return startServingProcess(
    'local Lambda endpoint',
    join(ROOT, 'dist', 'functions', 'lambda-local', 'main.js'),
    { LAMBDA_LOCAL_PORT: '0', LAMBDA_LOCAL_HOST: '127.0.0.1', ...env },
    /Local Lambda endpoint at (http:\/\/127\.0\.0\.1:\d+)/,
    options,
  );
}

/**
 * Runs `script` under this Node with `env` over this process's environment, and resolves once a
 * line of its stderr matches `serving` (whose first group is the origin). stdout is ignored (the
 * model loader writes its progress there).
 */
async function startServingProcess(
  what: string,
  script: string,
  env: Record<string, string>,
  serving: RegExp,
  options: Omit<GatewayProcessOptions, 'script'>,
): Promise<RunningGateway> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  options.onSpawn?.(child);
  // Already gone: 'exit' will not fire again, and a signal to it would be lost.
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  let log = '';
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (started) {
          options.onLog?.(chunk.toString());
          return;
        }
        log += chunk.toString();
        const match = serving.exec(log);
        if (match) {
          started = true;
          options.onLog?.(log);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before serving:\n${log}`)));
      child.once('error', reject);
      if (options.startTimeoutMs !== undefined) {
        timer = setTimeout(
          () => reject(new Error(`${what} not serving after ${options.startTimeoutMs} ms:\n${log}`)),
          options.startTimeoutMs,
        );
      }
    });
    return {
      origin,
      child,
      exited,
      async stop(graceMs = 15_000) {
        if (hasExited()) return;
        const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(kill);
      },
      async kill() {
        if (!hasExited()) child.kill('SIGKILL');
        await exited;
      },
    };
  } catch (error) {
    if (!hasExited()) child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
