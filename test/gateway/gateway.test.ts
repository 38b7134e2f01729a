import { spawnSync } from 'node:child_process';

import { builtEntry } from '../helpers/build';

/** A script requiring these built modules (`gateway/gateway.js`, ...) and binding each to `m0`, `m1`, ... */
function requiring(...modules: string[]): string {
  return modules.map((m, i) => `const m${i} = require(${JSON.stringify(builtEntry(...m.split('/')))});`).join('\n');
}

/** The packages of `names` that running `script` pulls in, measured in a fresh Node process on the built code. */
function packagesLoaded(script: string, names: string[]): string[] {
  const report = `const loaded = Object.keys(require.cache);
    process.stdout.write(JSON.stringify(${JSON.stringify(names)}.filter((name) => loaded.some((k) => k.includes('/node_modules/' + name + '/')))));`;
  const run = spawnSync(process.execPath, ['-e', `${script}\n${report}`], {
    encoding: 'utf8',
    env: { ...process.env, AWS_REGION: 'us-east-1' },
  });
  if (run.status !== 0 || run.stderr !== '') throw new Error(run.stderr);
  return JSON.parse(run.stdout) as string[];
}

function loadsOnnxRuntime(...modules: string[]): boolean {
  return packagesLoaded(requiring(...modules), ['onnxruntime-node']).length > 0;
}

describe('what the gateway loads', () => {
  it('keeps ONNX Runtime out of a gateway whose CLIP runs elsewhere', () => {
    // The composition root, the config and the CLIP core's light entry: all a Lambda-mode gateway needs.
    expect(loadsOnnxRuntime('gateway/gateway.js', 'gateway/config.js', 'functions/clip/index.js', 'functions/protocol.js')).toBe(false);
  });

  it('loads it with the heavy entry, where the model runs', () => {
    expect(loadsOnnxRuntime('functions/clip/model.js')).toBe(true);
  });

  it('loads the AWS SDK clients, pg and the Hugging Face client only when a backend, a catalogue or a hub model needs them', () => {
    const optional = ['@aws-sdk/client-lambda', '@aws-sdk/client-sagemaker-runtime', 'pg'];
    expect(packagesLoaded(requiring('gateway/gateway.js', 'gateway/config.js'), [...optional, '@huggingface/hub'])).toEqual([]);
    // Made, each transport and the PostgreSQL store bring their own.
    const made = `${requiring('gateway/backends/index.js', 'gateway/store/index.js')}
      new m0.LambdaTransport({ functionName: 'clip' });
      new m0.SageMakerTransport({ endpointName: 'clip' });
      m1.openPostgresStore({ url: 'postgres://nobody@127.0.0.1:1/none' }).then((store) => store.close());`;
    expect(packagesLoaded(made, optional)).toEqual(optional);
  });
});
