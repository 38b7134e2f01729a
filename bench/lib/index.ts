// What the benches share: the repository's root, statistics and formatting, a seeded random
// generator, generated photos, the gateway as a process of its own, what a process uses (/proc),
// HTTP load with the gateway's /metrics, and a piece of work's wall and CPU seconds.
export { startGatewayProcess, startLambdaLocalProcess, type GatewayProcessOptions, type RunningGateway } from './gateway-process';
export { makeJpegs } from './images';
export { load, metric, metrics, waitIdle, type LoadOptions, type LoadResult } from './load';
export { openFds, processCpuMs, processMemory } from './proc';
export { seeded } from './random';
export { ROOT } from './root';
export { fmt, fmtSpread, spread, type Spread } from './stats';
export { timed, type Timed } from './timed';
