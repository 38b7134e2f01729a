import type { Clock } from '../../functions/clock';

export { systemClock, type Clock } from '../../functions/clock';

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
