import Module from 'node:module';

type ResolveFilename = (this: unknown, request: string, ...rest: unknown[]) => string;

/**
 * Makes every later require('onnxruntime-node') in this process load the package at `packageDir`
 * (the npm path's onnxruntime-node 1.29.0) instead of the project's own, so that the same CLIP
 * code runs on it. The project's compiled code names the package, and Node looks in the
 * project's node_modules before NODE_PATH, hence a resolution hook rather than an environment
 * variable. It must run before anything has loaded onnxruntime-node.
 */
export function useOnnxRuntimeFrom(packageDir: string): void {
  const loaded = Object.keys(require.cache).find((path) => /[\\/]onnxruntime-node[\\/]/.test(path));
  if (loaded !== undefined) throw new Error(`onnxruntime-node is already loaded (from ${loaded}); it cannot be swapped any more`);
  const entry = require.resolve(packageDir);
  const internals = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolve = internals._resolveFilename;
  internals._resolveFilename = function (request, ...rest) {
    return request === 'onnxruntime-node' ? entry : resolve.call(this, request, ...rest);
  };
}
