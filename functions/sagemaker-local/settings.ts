// `npm run sagemaker:local`'s settings: each from its flag, else its environment variable, else
// its default; every error names the flag or variable the user set and quotes what it said.
import { parseArgs } from 'node:util';

import { EnvReader, httpUrl, integer, nonEmpty, nonNegativeInt, timeoutMs, type Env, type Rule } from '../options';

export interface SageMakerLocalSettings {
  port: number;
  host: string;
  /** Forward to this adapter; undefined: start the function as a child process. */
  functionUrl?: string;
  endpointName: string;
  componentName: string;
  copies: number;
  wakeMs: number;
  startingMs: number;
  idleMs?: number;
  invocationTimeoutMs: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export const USAGE = `npm run sagemaker:local [-- options]

A local stand-in for an Amazon SageMaker endpoint with one inference component, speaking the
SageMaker Runtime InvokeEndpoint API in front of the CLIP function's HTTP adapter.

  --function-url URL   forward to this adapter (default: start node dist/functions/handlers/http.js)
  --copies N           copies at the start; 0 = scaled to zero (default 1)
  --wake-ms MS         from the first no-capacity failure to the scale-out (default 10000)
  --starting-ms MS     then the new copy starts, answering ModelNotReadyException (default 0)
  --idle-ms MS         scale in to zero after this long without invocations (default: never)
  --timeout-ms MS      how long the function has to answer (default 60000, as SageMaker)
  --endpoint NAME      the endpoint name (default clip)
  --component NAME     the inference component's name (default clip)

Environment: SAGEMAKER_LOCAL_PORT (9002), SAGEMAKER_LOCAL_HOST (127.0.0.1), and for the options
above SAGEMAKER_LOCAL_FUNCTION_URL, SAGEMAKER_LOCAL_COPIES, SAGEMAKER_LOCAL_WAKE_MS,
SAGEMAKER_LOCAL_STARTING_MS, SAGEMAKER_LOCAL_IDLE_MS, SAGEMAKER_LOCAL_TIMEOUT_MS, SAGEMAKER_ENDPOINT,
SAGEMAKER_INFERENCE_COMPONENT. Requests must be SigV4-signed for AWS_REGION (us-east-1) with
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (local / local), as the gateway started with
npm run start:sagemaker-local signs them. Faults: POST /_local/faults; counts: GET /_local/stats.
`;

/** Refused settings: the message is for the user, with the usage when it helps. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Each flag and the environment variable it stands in for. */
const FLAGS = {
  'function-url': 'SAGEMAKER_LOCAL_FUNCTION_URL',
  copies: 'SAGEMAKER_LOCAL_COPIES',
  'wake-ms': 'SAGEMAKER_LOCAL_WAKE_MS',
  'starting-ms': 'SAGEMAKER_LOCAL_STARTING_MS',
  'idle-ms': 'SAGEMAKER_LOCAL_IDLE_MS',
  'timeout-ms': 'SAGEMAKER_LOCAL_TIMEOUT_MS',
  endpoint: 'SAGEMAKER_ENDPOINT',
  component: 'SAGEMAKER_INFERENCE_COMPONENT',
} as const;

type Flag = keyof typeof FLAGS;

/** The settings from the command line and the environment, or 'help' for --help. */
export function readSettings(argv: string[], env: Env): SageMakerLocalSettings | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }]));
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    // Node's own sentences: "Unknown option '--copy'...", "Option '--copies <value>' argument missing".
    throw new UsageError(messageOf(error));
  }
  if (values.help) return 'help';
  const flags = new EnvReader(Object.fromEntries(Object.entries(values).map(([flag, value]) => [`--${flag}`, value as string])));
  const environment = new EnvReader(env);
  const read = <T>(flag: Flag, rule: Rule<T>): T | undefined =>
    flags.optional(`--${flag}`, rule) ?? environment.optional(FLAGS[flag], rule);
  try {
    const settings: SageMakerLocalSettings = {
      port: environment.get('SAGEMAKER_LOCAL_PORT', integer(0, 65535), 9002),
      host: environment.get('SAGEMAKER_LOCAL_HOST', nonEmpty, '127.0.0.1'),
      endpointName: read('endpoint', nonEmpty) ?? 'clip',
      componentName: read('component', nonEmpty) ?? 'clip',
      copies: read('copies', nonNegativeInt) ?? 1,
      wakeMs: read('wake-ms', timeoutMs) ?? 10_000,
      startingMs: read('starting-ms', nonNegativeInt) ?? 0,
      invocationTimeoutMs: read('timeout-ms', timeoutMs) ?? 60_000,
      region: environment.get('AWS_REGION', nonEmpty, 'us-east-1'),
      accessKeyId: environment.get('AWS_ACCESS_KEY_ID', nonEmpty, 'local'),
      secretAccessKey: environment.get('AWS_SECRET_ACCESS_KEY', nonEmpty, 'local'),
    };
    const functionUrl = read('function-url', httpUrl);
    const idleMs = read('idle-ms', timeoutMs);
    return { ...settings, ...(functionUrl === undefined ? {} : { functionUrl }), ...(idleMs === undefined ? {} : { idleMs }) };
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
}

/** An error's message, also for errors from another realm (a test runner's), which fail instanceof Error. */
const messageOf = (error: unknown) =>
  typeof (error as { message?: unknown })?.message === 'string' ? (error as { message: string }).message : String(error);

/** The command that points the gateway at the stand-in; the secret is named, not printed, unless it is the local default. */
export function gatewayCommand(settings: SageMakerLocalSettings, origin: string): string {
  const secret = settings.secretAccessKey === 'local' ? 'local' : '"$AWS_SECRET_ACCESS_KEY"';
  return (
    `INFERENCE_BACKEND=sagemaker SAGEMAKER_ENDPOINT=${settings.endpointName} SAGEMAKER_INFERENCE_COMPONENT=${settings.componentName} ` +
    `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=${origin} AWS_REGION=${settings.region} AWS_ACCESS_KEY_ID=${settings.accessKeyId} ` +
    `AWS_SECRET_ACCESS_KEY=${secret} SPILLOVER_BACKEND=local npm start`
  );
}
