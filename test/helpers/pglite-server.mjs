// The PostgreSQL server the tests start (test/helpers/postgres.ts): PGlite with pgvector behind
// pglite-socket's server, as pglite-socket's own `pglite-server` script runs them, but started
// from a copy of a freshly initialised database instead of running initdb each time (initdb in
// WebAssembly makes each start cost about 3 s more CPU than restoring its result). The copy (PGlite's
// dumpDataDir of a new database, with nothing in it) is made by the first start on a machine and
// kept in the system's temporary directory, named after PGlite's version.
//
// Usage: node pglite-server.mjs <memory:// | data directory> <port> <max connections>
// Prints `listening on {"host":…,"port":…}` once it accepts connections; SIGTERM stops it.
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const [db, port, maxConnections] = process.argv.slice(2);
const extensions = { vector };

/** A package's folder (its exports do not include its package.json). */
function packageRoot(name) {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

async function freshDatabase() {
  const { version } = JSON.parse(readFileSync(join(packageRoot('@electric-sql/pglite'), 'package.json'), 'utf8'));
  const path = join(tmpdir(), `clip-gateway-pglite-${version}-initdb.tar`);
  if (!existsSync(path)) {
    const blank = new PGlite('memory://', { extensions });
    await blank.waitReady;
    const dump = Buffer.from(await (await blank.dumpDataDir('none')).arrayBuffer());
    await blank.close();
    // Written aside and renamed: two first starts at once each write a whole file, one wins.
    const partial = `${path}.${process.pid}`;
    writeFileSync(partial, dump);
    renameSync(partial, path);
  }
  return new Blob([readFileSync(path)]);
}

// A data directory that already holds a database is opened as it is; a new one starts from the copy.
const isNew = db === 'memory://' || !existsSync(db) || readdirSync(db).length === 0;
const pglite = new PGlite(db, { extensions, ...(isNew ? { loadDataDir: await freshDatabase() } : {}) });
await pglite.waitReady;
const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: Number(port), maxConnections: Number(maxConnections) });
server.addEventListener('listening', (event) => console.log(`listening on ${JSON.stringify(event.detail)}`));
server.addEventListener('error', (event) => console.error('socket server error:', event.detail));

let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  await pglite.close();
  process.exit(0);
});
await server.start();
