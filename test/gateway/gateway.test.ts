import { spawnSync } from 'node:child_process';

import { builtEntry } from '../helpers/build';

/** Which native bindings a module pulls in, measured in a fresh Node process on the built code. */
function loadsOnnxRuntime(...modules: string[]): boolean {
  const paths = modules.map((m) => builtEntry(...m.split('/')));
  const script = `${paths.map((p) => `require(${JSON.stringify(p)});`).join('')}
    process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('onnxruntime'))));`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout === 'true';
}

describe('what the gateway loads', () => {
  it('keeps ONNX Runtime out of a gateway whose CLIP runs elsewhere', () => {
    // The composition root, the config and the CLIP core's light entry: all a Lambda-mode gateway needs.
    expect(loadsOnnxRuntime('gateway/gateway.js', 'gateway/config.js', 'functions/clip/index.js', 'functions/protocol.js')).toBe(false);
  });

  it('loads it with the heavy entry, where the model runs', () => {
    expect(loadsOnnxRuntime('functions/clip/model.js')).toBe(true);
  });
});
