import { spawnSync } from 'node:child_process';

import { builtEntry } from '../helpers/build';

/** The packages of `names` that loading these modules pulls in, measured in a fresh Node process on the built code. */
function packagesLoaded(modules: string[], names: string[]): string[] {
  const paths = modules.map((m) => builtEntry(...m.split('/')));
  const script = `${paths.map((p) => `require(${JSON.stringify(p)});`).join('')}
    const loaded = Object.keys(require.cache);
    process.stdout.write(JSON.stringify(${JSON.stringify(names)}.filter((name) => loaded.some((k) => k.includes('/node_modules/' + name + '/')))));`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as string[];
}

function loadsOnnxRuntime(...modules: string[]): boolean {
  return packagesLoaded(modules, ['onnxruntime-node']).length > 0;
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
    expect(packagesLoaded(['gateway/gateway.js', 'gateway/config.js'], [...optional, '@huggingface/hub'])).toEqual([]);
    // Made, each transport and the PostgreSQL store bring their own.
    const made = `const b = require(${JSON.stringify(builtEntry('gateway', 'backends', 'index.js'))});
      new b.LambdaTransport({ functionName: 'clip' });
      new b.SageMakerTransport({ endpointName: 'clip' });
      const s = require(${JSON.stringify(builtEntry('gateway', 'store', 'index.js'))});
      s.openPostgresStore({ url: 'postgres://nobody@127.0.0.1:1/none' }).then((store) => store.close());
      const loaded = Object.keys(require.cache);
      process.stdout.write(JSON.stringify(${JSON.stringify(optional)}.filter((n) => loaded.some((k) => k.includes('/node_modules/' + n + '/')))));`;
    const run = spawnSync(process.execPath, ['-e', made], { encoding: 'utf8', env: { ...process.env, AWS_REGION: 'us-east-1' } });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(optional);
  });
});
