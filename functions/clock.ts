/**
 * Time, injected so that tests drive it by hand instead of waiting on the real clock: the
 * functions' stand-ins and the gateway (gateway/common/clock.ts) share it, so one ManualClock
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
