import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { builtEntry } from '../helpers/build';
import { FUNCTION_ENV, spawnFunction } from './handlers/function-process';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'functions', 'entrypoint.sh');

/** The instructions of a Dockerfile's last stage (the image), continuation lines joined, comments dropped. */
function finalStage(path: string): { instruction: string; args: string }[] {
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stage = lines.slice(lines.map((line) => /^FROM\s/i.test(line)).lastIndexOf(true));
  return stage.map((line) => {
    const [instruction, ...rest] = line.split(/\s+/);
    return { instruction: instruction.toUpperCase(), args: rest.join(' ') };
  });
}

/** A loopback port free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('functions/Dockerfile.cuda (the GPU image; no Docker engine here, so its contract is read from the file)', () => {
  const stage = finalStage(join(ROOT, 'functions', 'Dockerfile.cuda'));
  const all = (instruction: string) => stage.filter((s) => s.instruction === instruction).map((s) => s.args);

  it('enters through the script in exec form, with the Lambda handler as the default command', () => {
    const [entrypoint] = all('ENTRYPOINT');
    expect(all('ENTRYPOINT')).toHaveLength(1);
    expect(JSON.parse(entrypoint)).toEqual(['/var/task/functions/entrypoint.sh']);
    expect(JSON.parse(all('CMD')[0])).toEqual(['dist/functions/handlers/lambda.handler']);
    // Where the script lands: WORKDIR /var/task, copied executable whatever the checkout's file mode.
    expect(all('WORKDIR').at(-1)).toBe('/var/task');
    expect(all('COPY')).toContain('--chmod=755 functions/entrypoint.sh ./functions/entrypoint.sh');
    expect(all('COPY')).toContain('--from=build /app/dist ./dist');
  });

  it('exposes 8080, lets SageMaker choose the port, and requires the GPU', () => {
    expect(all('EXPOSE')).toEqual(['8080']);
    expect(all('LABEL')).toEqual(['com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true']);
    const env = all('ENV').join(' ');
    expect(env).toMatch(/(^| )CLIP_DEVICE=cuda( |$)/);
    expect(env).toMatch(/(^| )CLIP_REQUIRE_GPU=true( |$)/);
  });

  it('installs no NVIDIA driver: the host provides it', () => {
    const dockerfile = readFileSync(join(ROOT, 'functions', 'Dockerfile.cuda'), 'utf8');
    expect(dockerfile).not.toMatch(/nvidia-driver|cuda-drivers|libnvidia-(compute|gl|decode|encode)|nvidia-utils/);
  });

  it('has its entrypoint script in the repository, executable', () => {
    expect(existsSync(SCRIPT)).toBe(true);
    expect(statSync(SCRIPT).mode & 0o111).toBe(0o111);
    expect(readFileSync(SCRIPT, 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    expect(spawnSync('sh', ['-n', SCRIPT]).status).toBe(0);
  });
});

describe('functions/entrypoint.sh (the process)', () => {
  let stub: string;
  beforeAll(() => {
    // A stand-in for aws-lambda-ric, which needs the Lambda Runtime API: it prints what it was given.
    stub = mkdtempSync(join(tmpdir(), 'entrypoint-'));
    writeFileSync(join(stub, 'aws-lambda-ric'), '#!/bin/sh\necho "aws-lambda-ric $*"\n');
    chmodSync(join(stub, 'aws-lambda-ric'), 0o755);
  });
  afterAll(() => rmSync(stub, { recursive: true, force: true }));

  const runRic = (...args: string[]) =>
    spawnSync(SCRIPT, args, { env: { ...process.env, PATH: `${stub}:${process.env.PATH}` }, encoding: 'utf8' }).stdout;

  it('starts the Lambda runtime interface client with the handler without arguments, and passes a handler on', () => {
    expect(runRic()).toBe('aws-lambda-ric dist/functions/handlers/lambda.handler\n');
    expect(runRic('dist/functions/handlers/lambda.handler')).toBe('aws-lambda-ric dist/functions/handlers/lambda.handler\n');
  });

  it('`serve` runs the HTTP adapter on SAGEMAKER_BIND_TO_PORT, as node itself, which drains on SIGTERM', async () => {
    builtEntry('functions', 'handlers', 'http.js');
    const port = await freePort();
    const fn = await spawnFunction(SCRIPT, ['serve'], { SAGEMAKER_BIND_TO_PORT: String(port), PATH: `${stub}:${FUNCTION_ENV.PATH}` });
    try {
      expect(fn.port).toBe(port);
      // exec'd: the process the platform signals is node running the adapter, not a shell around it.
      const cmdline = readFileSync(`/proc/${fn.child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(0, 2)).toEqual(['node', join(ROOT, 'dist', 'functions', 'handlers', 'http.js')]);
      expect(await fn.pingUntilNot(204)).toBe(200);
      expect(await fn.status('/readyz')).toBe(200);
      fn.child.kill('SIGTERM');
      expect(await fn.exited).toBe(0);
      expect(fn.log()).toMatch(/SIGTERM: stopping; 0 invocations in flight\nstopped: 0 invocations finished\n$/);
    } finally {
      fn.kill();
    }
  });
});
