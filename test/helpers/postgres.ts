import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import { Client } from 'pg';

/**
 * A real PostgreSQL engine with the real pgvector extension, on a loopback TCP port, for tests:
 * PGlite (PostgreSQL compiled to WebAssembly) behind @electric-sql/pglite-socket's server, in a
 * child process (pglite-server.mjs), in memory unless given a data directory. Nothing is
 * downloaded: both come from node_modules.
 *
 * Know its two differences from a PostgreSQL server:
 * - every connection shares PGlite's one backend session (one pid, one set of session settings,
 *   advisory locks always granted), and the socket server runs one explicit transaction at a time;
 * - outside an explicit transaction it interleaves the extended-protocol messages of concurrent
 *   connections (a parameterised query is several messages), which breaks queries ("portal does
 *   not exist"). So give each store in a test one connection (poolSize: 1), and do not run
 *   parameterised queries on two connections at once.
 */
export interface PostgresServer {
  /** `postgresql://postgres:postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** The loopback port it listens on: give it to a restart (options.port) to come back at the same URL. */
  port: number;
  /** The server process: tests stop (SIGSTOP) or kill it to play an outage. */
  pid: number;
  /** From spawn to accepting connections, in ms. */
  startupMs: number;
  /** Stops the server and waits for its process to exit; harmless when it already has. */
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /** Connections the server accepts at once. Default 20. */
  maxConnections?: number;
  /** How long to wait for it to accept connections, in ms. Default 60000. */
  startTimeoutMs?: number;
  /**
   * A directory holding the database's files (made by PGlite's initdb on the first start, which
   * takes a few seconds): what it commits survives the server process, even a SIGKILL, and a
   * server started again on it has the data. Default: in memory, gone with the process.
   */
  dataDir?: string;
  /** The port to listen on, e.g. a stopped server's, to come back at its URL. Default: one the system picks. */
  port?: number;
}

/** PGlite and pgvector behind pglite-socket's server, started from a fresh database kept aside (see the script). */
const SERVER_SCRIPT = path.join(__dirname, 'pglite-server.mjs');

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    // port 0: the system picks a free one; the server prints it
    [SERVER_SCRIPT, options.dataDir ?? 'memory://', String(options.port ?? 0), String(options.maxConnections ?? 20)],
    { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A test run that ends without stop() must not leave a server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  // The server logs every connection: keep reading its output (a full pipe would stall it), and
  // keep its tail for the error message of a failed start.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stderr!.on('data', keep);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // in case a test left it stopped
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited(child);
    clearTimeout(timer);
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`pglite-server did not listen within ${options.startTimeoutMs ?? 60_000} ms:\n${output}`)),
        options.startTimeoutMs ?? 60_000,
      );
      child.stdout!.on('data', (chunk: Buffer) => {
        keep(chunk);
        const listening = /listening on (\{.*\})/.exec(output);
        if (listening) {
          clearTimeout(timer);
          resolve((JSON.parse(listening[1]) as { port: number }).port);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`pglite-server exited (${signal ?? code}) before listening:\n${output}`));
      });
      child.once('error', reject);
    });
    const url = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
    // Listening is announced once the database is ready; one query proves it answers.
    const probe = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await probe.connect();
    try {
      await probe.query('SELECT 1');
    } finally {
      await probe.end();
    }
    return { url, port, pid: child.pid!, startupMs: Date.now() - started, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
