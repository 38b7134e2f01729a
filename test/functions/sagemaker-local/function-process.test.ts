import { FunctionProcess } from '../../../functions/sagemaker-local/function-process';
import { startFunction } from '../../helpers/sagemaker-local';

/**
 * A stand-in container: a Node.js one-liner on env PORT whose health routes answer as told
 * (`PING`: the statuses GET /ping answers, in turn, the last one repeated; none: 404), and
 * whose /healthz answers 200.
 */
const CONTAINER = `
const statuses = (process.env.PING || '').split(',').filter(Boolean).map(Number);
require('node:http').createServer((req, res) => {
  if (req.url === '/ping' && statuses.length) return res.writeHead(statuses.length > 1 ? statuses.shift() : statuses[0]).end();
  res.writeHead(req.url === '/healthz' ? 200 : 404).end();
}).listen(Number(process.env.PORT), process.env.HOST, () => console.log('pid ' + process.pid));
process.on('SIGTERM', () => process.exit(0));
`;

const container = (ping: string, startTimeoutMs?: number, log: (line: string) => void = () => {}) =>
  FunctionProcess.start({ command: [process.execPath, '-e', CONTAINER], env: { PING: ping }, startTimeoutMs, log });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('FunctionProcess', () => {
  it('starts the real function on a free loopback port, ready when it says so, and stops it', async () => {
    const fn = await startFunction();
    expect(fn.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const answer = await fetch(`${fn.url}/invocations`, { method: 'POST', body: JSON.stringify({ v: 1, kind: 'describe' }) });
    expect(answer.status).toBe(200);
    const pid = fn.pid!;
    expect(await fn.stop()).toBe(0);
    expect(fn.exited).toBe(true);
    expect(alive(pid)).toBe(false);
  });

  it('waits while /ping says loading (204), ready at 200', async () => {
    const fn = await container('204,204,204,200');
    try {
      expect((await fetch(`${fn.url}/ping`)).status).toBe(200);
    } finally {
      await fn.stop();
    }
  });

  it('uses /healthz for an adapter without /ping', async () => {
    const fn = await container('');
    try {
      expect((await fetch(`${fn.url}/ping`)).status).toBe(404);
    } finally {
      await fn.stop();
    }
  });

  it('says so, with the output, when the function exits before it is ready', async () => {
    const start = FunctionProcess.start({
      command: [process.execPath, '-e', 'console.error("no model here"); process.exit(3)'],
      log: () => {},
    });
    await expect(start).rejects.toThrow(/^the function exited \(code 3\) before it was ready:\nno model here$/);
  });

  it('gives up after startTimeoutMs on a function that never gets ready, and stops it', async () => {
    const lines: string[] = [];
    // Long enough for Node.js to start on a busy machine, so that the last answer is the function's.
    await expect(container('503', 5_000, (line) => lines.push(line))).rejects.toThrow(
      /did not answer GET \/ping with 200 within 5000 ms \(last: 503\)/,
    );
    const pid = Number(/^pid (\d+)$/.exec(lines[0])![1]);
    expect(alive(pid)).toBe(false);
  });

  it('names a command that cannot run', async () => {
    await expect(FunctionProcess.start({ command: ['/nonexistent/node'], log: () => {} })).rejects.toThrow(
      /the function exited \(code null\) before it was ready:\nspawn \/nonexistent\/node ENOENT/,
    );
  });
});
