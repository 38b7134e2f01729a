// What every layer of the gateway shares, for bench/ and tools/ (gateway code imports the file it
// needs): API keys, errors and their codes, the logger, the metrics, the clock and deadlines.
// bundle.ts, the static pages' router, is the console's and the explorer's alone.
export { ApiKeys, hashKey, newApiKey, SCOPES, type ApiKey, type Credentials, type Scope } from './auth';
export { sleep, systemClock, type Clock } from './clock';
export { deadlineOf, withDeadline, type RequestDeadline } from './deadline';
export { ErrorCode, GatewayError, InputError, toInputError } from './errors';
export { stderrLogger, type Logger } from './log';
export { GatewayMetrics } from './metrics';
