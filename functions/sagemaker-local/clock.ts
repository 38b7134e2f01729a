/**
 * Time for the stand-in's scaling, delays and deadlines, injected so that tests move it by hand.
 * The same shape as the gateway's Clock (functions/ may not import gateway/), so one ManualClock
 * drives both.
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin (monotonic). */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
