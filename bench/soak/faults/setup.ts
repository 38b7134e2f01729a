// The fault phase's gateway settings and the bounds that follow from them.
import { allocatorEnv, type Settings } from '../settings';
import type { FaultBounds, RemoteSettings } from './types';

/**
 * The gateway's environment: short remote timeouts and cooldown so that each failure shows within
 * seconds; --env may change them (the bounds are computed from what the gateway gets); the backend
 * variables themselves are not to be changed.
 */
export function faultGatewayEnv(settings: Settings, dataDir: string, lambdaOrigin: string): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    DATABASE_URL: '',
    DATABASE_PASSWORD: '',
    API_KEYS: '',
    REMOTE_TIMEOUT_MS: '2000',
    REMOTE_MAX_ATTEMPTS: '3',
    CIRCUIT_FAILURE_THRESHOLD: '5',
    CIRCUIT_COOLDOWN_MS: '3000',
    ...allocatorEnv(settings),
    ...settings.env,
    INFERENCE_BACKEND: 'lambda',
    LAMBDA_FUNCTION_NAME: 'clip',
    AWS_ENDPOINT_URL_LAMBDA: lambdaOrigin,
    // The SDK signs every request; the local endpoint ignores the signature, so any values do.
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
}

/** The remote-call settings the gateway runs with: `env`, else this process's environment, else the gateway's defaults. */
export function remoteSettings(env: Record<string, string>): RemoteSettings {
  const setting = (name: string, fallback: number) => {
    const raw = env[name] ?? process.env[name];
    return raw === undefined || raw.trim() === '' ? fallback : Number(raw);
  };
  // Fallbacks: the gateway's defaults (DEFAULT_REMOTE_CALL_OPTIONS), for a --env that blanks one.
  return {
    timeoutMs: setting('REMOTE_TIMEOUT_MS', 30_000),
    maxAttempts: setting('REMOTE_MAX_ATTEMPTS', 3),
    failureThreshold: setting('CIRCUIT_FAILURE_THRESHOLD', 5),
    cooldownMs: setting('CIRCUIT_COOLDOWN_MS', 10_000),
  };
}

/**
 * The answer bound's 5 s margin: the backoff between attempts (≤ 0.3 s over 3 attempts with the
 * gateway's 100 ms base), a wait for the bulkhead, decoding and batching. The recovery bound: the
 * circuit may have opened just before the clear (a cooldown), and its probe may have met a fault
 * taken just before it (a timeout and another cooldown), then 2 s to answer.
 */
export function faultBounds(remote: RemoteSettings): FaultBounds {
  return {
    answerMs: remote.timeoutMs * remote.maxAttempts + 5000,
    recoveryMs: 2 * remote.cooldownMs + remote.timeoutMs + 2000,
    fastFailP50Ms: 1000,
  };
}
