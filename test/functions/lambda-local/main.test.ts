import { spawn } from 'node:child_process';

import { builtEntry } from '../../helpers/build';

/** `npm run lambda:local` as a user runs it: the hint it prints works as given, and it stops cleanly. */
describe('functions/lambda-local/main.ts (the process)', () => {
  it('prints a gateway command with everything the AWS SDK needs, and says when it stops', async () => {
    const child = spawn(process.execPath, [builtEntry('functions', 'lambda-local', 'main.js')], {
      env: { ...process.env, LAMBDA_LOCAL_PORT: '0', CLIP_MODEL_DIR: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/^Gateway: .*npm start/m.test(log)) resolve();
      });
      void exited.then(() => reject(new Error(`exited early:\n${log}`)));
    });
    const hint = /^Gateway: (.*)$/m.exec(log)![1];
    for (const setting of [
      'INFERENCE_BACKEND=lambda',
      'LAMBDA_FUNCTION_NAME=clip',
      'AWS_REGION=',
      'AWS_ACCESS_KEY_ID=',
      'AWS_SECRET_ACCESS_KEY=',
    ]) {
      expect(hint).toContain(setting);
    }
    expect(hint).toMatch(/AWS_ENDPOINT_URL_LAMBDA=http:\/\/127\.0\.0\.1:\d+ /);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).toMatch(/SIGTERM: stopping the local Lambda endpoint\nstopped\n/);
  });

  it('names a bad setting', async () => {
    const child = spawn(process.execPath, [builtEntry('functions', 'lambda-local', 'main.js')], {
      env: { ...process.env, LAMBDA_LOCAL_PORT: 'nine' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
    expect(log).toContain('LAMBDA_LOCAL_PORT must be an integer from 0 to 65535, got "nine"');
  });
});
