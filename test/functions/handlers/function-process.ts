import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';

/** A function process the tests started: its ports from its first line, its log, its exit. */
export interface SpawnedFunction {
  child: ChildProcess;
  port: number;
  healthPort?: number;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves when its stderr matches `pattern`; rejects if it exits first. */
  logged(pattern: RegExp): Promise<RegExpExecArray>;
  /** GET `path` on `port` (default the main one): the status, or undefined when nothing answers. */
  status(path: string, port?: number): Promise<number | undefined>;
  /** Polls GET /ping until it answers something other than `while` (default 204); returns that. */
  pingUntilNot(status?: number): Promise<number | undefined>;
  /** Kills it if it still runs (test cleanup). */
  kill(): void;
}

/** What every spawned function gets: the bundled tiny CLIP on one thread, on loopback, no inherited port settings. */
export const FUNCTION_ENV: Record<string, string> = {
  CLIP_MODEL_DIR: '',
  CLIP_MODEL: '',
  CLIP_DEVICE: 'cpu',
  CLIP_REQUIRE_GPU: 'false',
  CLIP_INTRA_OP_THREADS: '1',
  HOST: '127.0.0.1',
  PORT: '',
  PORT_HEALTH: '',
  SAGEMAKER_BIND_TO_PORT: '',
  SHUTDOWN_GRACE_MS: '',
  // The entrypoint script runs `node` from the PATH: this one.
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
};

/**
 * Runs `command args` with FUNCTION_ENV and `env` over this process's environment, and resolves
 * once it says where it listens (the line it prints before loading the model).
 */
export async function spawnFunction(command: string, args: string[], env: Record<string, string> = {}): Promise<SpawnedFunction> {
  const child = spawn(command, args, { env: { ...process.env, ...FUNCTION_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const watchers: (() => void)[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    for (const watcher of [...watchers]) watcher();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const watcher of [...watchers]) watcher();
  });
  const logged = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const watcher = () => {
        const match = pattern.exec(log);
        if (match || gone) watchers.splice(watchers.indexOf(watcher), 1);
        if (match) resolve(match);
        else if (gone) reject(new Error(`the function exited before logging ${pattern}:\n${log}`));
      };
      watchers.push(watcher);
      watcher();
    });
  const [, port, healthPort] = await logged(/listening on port (\d+)(?: \(health also on port (\d+)\))?/);
  const status = async (path: string, on = Number(port)) => {
    try {
      const response = await fetch(`http://127.0.0.1:${on}${path}`);
      await response.arrayBuffer();
      return response.status;
    } catch {
      return undefined;
    }
  };
  return {
    child,
    port: Number(port),
    healthPort: healthPort === undefined ? undefined : Number(healthPort),
    log: () => log,
    exited,
    logged,
    status,
    async pingUntilNot(waiting = 204) {
      for (;;) {
        const answer = await status('/ping');
        if (answer !== waiting || gone) return answer;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
