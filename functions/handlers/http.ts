// The HTTP adapter's entry: `node dist/functions/handlers/http.js` (or the image's `serve`) runs
// the function as a server; see serve.ts for its life and http-server.ts for its routes.
import { runFunctionProcess } from './serve';

export { createFunctionServer, createHealthServer, type FunctionServerOptions } from './http-server';
export { FunctionLifecycle, type FunctionState } from './lifecycle';
export type { ServedModel } from './served-model';
export { runFunctionProcess, type FunctionProcessOptions, type RunningFunction } from './serve';

if (require.main === module) void runFunctionProcess();
