import { EnvReader, integer, nonEmpty, type Env } from '../options';

/** How the served function listens and stops, from the environment the platform gives it. */
export interface ServeSettings {
  /** Port for invocations and health: PORT (Cloud Run, RunPod, Modal, Azure), else SAGEMAKER_BIND_TO_PORT (SageMaker), else 8080. */
  port: number;
  /**
   * A second port that serves /ping, /readyz and /healthz too (PORT_HEALTH: RunPod's load-balancing
   * endpoints probe there); undefined when unset or the same as `port`. 0 asks for a free port of its own.
   */
  healthPort?: number;
  /** Interface to listen on (HOST). Default: all of them. */
  host?: string;
  /**
   * After SIGTERM, how long invocations in flight may finish before they are cut, in ms
   * (SHUTDOWN_GRACE_MS). Default 7500: Cloud Run kills 10 s after SIGTERM, and the process needs
   * a moment to exit.
   */
  shutdownGraceMs: number;
}

export const DEFAULT_PORT = 8080;
export const DEFAULT_SHUTDOWN_GRACE_MS = 7_500;

const port = integer(0, 65535);

/** Reads the settings; a bad value throws a TypeError naming the variable and quoting it. */
export function serveSettingsFromEnv(env: Env): ServeSettings {
  const read = new EnvReader(env);
  const main = read.optional('PORT', port) ?? read.optional('SAGEMAKER_BIND_TO_PORT', port) ?? DEFAULT_PORT;
  const health = read.optional('PORT_HEALTH', port);
  return {
    port: main,
    healthPort: health !== undefined && (health === 0 || health !== main) ? health : undefined,
    host: read.optional('HOST', nonEmpty),
    shutdownGraceMs: read.get('SHUTDOWN_GRACE_MS', integer(0, 60_000), DEFAULT_SHUTDOWN_GRACE_MS),
  };
}
