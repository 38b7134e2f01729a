import { spawn } from 'node:child_process';

import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';

import { builtEntry } from '../../helpers/build';
import { until } from '../../helpers/clock';
import { DESCRIBE, sageMakerClient } from '../../helpers/sagemaker-local';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `npm run sagemaker:local` as a user runs it: it starts the function, its hint works as given, and it stops both cleanly. */
describe('functions/sagemaker-local/main.ts (the process)', () => {
  it('starts the function, prints a gateway command that works with the real SDK, and stops both', async () => {
    const child = spawn(process.execPath, [builtEntry('functions', 'sagemaker-local', 'main.js'), '--copies', '0', '--wake-ms', '1'], {
      env: {
        ...process.env,
        SAGEMAKER_LOCAL_PORT: '0',
        CLIP_MODEL_DIR: '',
        CLIP_MODEL: '',
        AWS_REGION: '',
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
      },
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
    const settings = Object.fromEntries([...hint.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    expect(settings).toMatchObject({
      INFERENCE_BACKEND: 'sagemaker',
      SAGEMAKER_ENDPOINT: 'clip',
      SAGEMAKER_INFERENCE_COMPONENT: 'clip',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      SPILLOVER_BACKEND: 'local',
    });
    expect(settings.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const functionPid = Number(/\(function pid (\d+)\)/.exec(log)![1]);
    expect(alive(functionPid)).toBe(true);

    // The SDK configured as the hint says: at zero copies the no-capacity answer, then (1 ms later) the function's.
    const client = sageMakerClient(settings.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, {
      region: settings.AWS_REGION,
      credentials: { accessKeyId: settings.AWS_ACCESS_KEY_ID, secretAccessKey: settings.AWS_SECRET_ACCESS_KEY },
    });
    const input = {
      EndpointName: settings.SAGEMAKER_ENDPOINT,
      InferenceComponentName: settings.SAGEMAKER_INFERENCE_COMPONENT,
      ContentType: 'application/json',
      Body: DESCRIBE,
    };
    await expect(client.send(new InvokeEndpointCommand(input))).rejects.toMatchObject({ name: 'ValidationError' });
    await until(() => log.includes('scale-out: 1 copy in service'), 'the scale-out');
    const out = await client.send(new InvokeEndpointCommand(input));
    expect(JSON.parse(Buffer.from(out.Body).toString('utf8')).description.info.name).toBe('tiny-clip');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The function's own lines come between: it drains before it exits.
    expect(log).toContain('\nSIGTERM: stopping the local SageMaker endpoint\n');
    expect(log).toMatch(/\nstopped\n$/);
    expect(alive(functionPid)).toBe(false);
  });

  it('names a bad setting, with the usage', async () => {
    const child = spawn(process.execPath, [builtEntry('functions', 'sagemaker-local', 'main.js'), '--idle-ms', 'soon'], {
      env: { ...process.env, SAGEMAKER_LOCAL_PORT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
    expect(log).toContain('--idle-ms must be an integer from 1 to 2147483647, got "soon"');
    expect(log).toContain('npm run sagemaker:local [-- options]');
  });
});
