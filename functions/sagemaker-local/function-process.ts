// The container SageMaker would run, as a child process on this machine: the function's HTTP
// adapter on a free loopback port, ready once its health route says so.
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { check, positiveInt, timeoutMs, type Env } from '../options';

export interface FunctionProcessOptions {
  /**
   * The command that starts the function's HTTP adapter, listening on env PORT. Default: this
   * Node.js running `dist/functions/handlers/http.js`.
   */
  command?: string[];
  /** Added to this process's environment for the child. */
  env?: Env;
  /** How long the function may take to answer its health route with 200. Default 120,000 ms. */
  startTimeoutMs?: number;
  /** Each line the function prints. Default: stderr with a prefix. */
  log?: (line: string) => void;
}

const HOST = '127.0.0.1';
const POLL_MS = 100;
/** After SIGTERM, how long the function may drain before it is killed. */
const STOP_GRACE_MS = 10_000;

/** A port nobody listens on now (another process may take it before the child does; unlikely on loopback). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The status of GET `url`, or undefined when nothing answers. */
function statusOf(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(2_000, () => req.destroy());
  });
}

export class FunctionProcess {
  private exitCode: number | null | undefined;
  private readonly exit: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    /** Where the function listens: http://127.0.0.1:port. */
    readonly url: string,
    private readonly output: string[],
  ) {
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : 0);
        resolve(this.exitCode);
      });
      // The command could not be run at all (no such file): there will be no 'exit'.
      child.once('error', (error) => {
        if (child.pid !== undefined) return;
        output.push(error.message);
        this.exitCode ??= null;
        resolve(this.exitCode);
      });
    });
  }

  /** Starts the function and waits until GET /ping answers 200 (GET /healthz where there is no /ping). */
  static async start(options: FunctionProcessOptions = {}): Promise<FunctionProcess> {
    const command = options.command ?? [process.execPath, join(__dirname, '..', 'handlers', 'http.js')];
    check('command', command.length, positiveInt);
    const startTimeoutMs = check('startTimeoutMs', options.startTimeoutMs ?? 120_000, timeoutMs);
    const log = options.log ?? ((line: string) => console.error(`function: ${line}`));
    const port = await freePort();
    const child = spawn(command[0], command.slice(1), {
      env: { ...process.env, ...options.env, PORT: String(port), HOST },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          output.push(line);
          if (output.length > 20) output.shift();
          log(line);
        }
      });
    }
    const fn = new FunctionProcess(child, `http://${HOST}:${port}`, output);
    try {
      await fn.waitReady(startTimeoutMs);
    } catch (error) {
      await fn.stop();
      throw error;
    }
    return fn;
  }

  /** The child's pid. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the function has exited. */
  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Resolves with the exit code when the function exits, however it ends. */
  whenExited(): Promise<number | null> {
    return this.exit;
  }

  /** Asks the function to stop (SIGTERM), kills it if it has not within 10 s; resolves with its exit code. */
  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    const kill = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      return await this.exit;
    } finally {
      clearTimeout(kill);
    }
  }

  private async waitReady(limitMs: number): Promise<void> {
    const started = Date.now();
    let route = '/ping';
    for (;;) {
      if (this.exitCode !== undefined) {
        throw new Error(`the function exited (code ${this.exitCode}) before it was ready:\n${this.output.join('\n')}`);
      }
      const status = await statusOf(`${this.url}${route}`);
      if (status === 200) return;
      // An adapter from before /ping existed: its health route is /healthz.
      if (status === 404 && route === '/ping') route = '/healthz';
      if (Date.now() - started > limitMs) {
        throw new Error(
          `the function at ${this.url} did not answer GET ${route} with 200 within ${limitMs} ms ` +
            `(last: ${status ?? 'no answer'}):\n${this.output.join('\n')}`,
        );
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, POLL_MS)), this.exit]);
    }
  }
}
