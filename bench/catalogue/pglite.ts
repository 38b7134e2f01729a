// PGlite (PostgreSQL compiled to WebAssembly) with pgvector behind pglite-socket, for the
// PostgreSQL adapter's figures.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';

export interface PgliteServer {
  url: string;
  stop(): Promise<void>;
}

/** PGlite (PostgreSQL compiled to WebAssembly) with pgvector behind pglite-socket, in memory, as test/helpers/postgres.ts starts it. */
export async function startPglite(): Promise<PgliteServer> {
  const script = join(dirname(require.resolve('@electric-sql/pglite-socket')), 'scripts', 'server.js');
  const child = spawn(
    process.execPath,
    [script, '--db=memory://', '--host=127.0.0.1', '--port=0', '--max-connections=4', '--extensions=@electric-sql/pglite-pgvector:vector'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  // Its output is read to the end: a full pipe would stall the server.
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      const listening = /listening on (\{.*\})/.exec(output);
      if (listening) resolve((JSON.parse(listening[1]) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`pglite-server exited (${code}):\n${output}`)));
  });
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
