// Capacity: closed loop, `concurrency` in flight, the same mix; answers that succeed per second. A
// refused request's worker pauses 100 ms, as a client honouring a refusal would, rather than
// spinning on refusals.
import { fmt } from '../lib';
import { closeClient, newClient } from './processes';
import { progress, sleep } from './progress';
import type { Session } from './session';
import { increment, Tally } from './stats';

/** The soak's arrival rate: --rate, else rate-multiplier × the capacity measured here. */
export async function capacityPhase(session: Session): Promise<number> {
  const { run, settings } = session;
  let targetRate = settings.rate;
  if (settings.capacitySeconds > 0) {
    const closedLoop = async (seconds: number, tally: Tally) => {
      const client = newClient(session.origin, settings.timeoutMs);
      const end = performance.now() + seconds * 1000;
      let okInTime = 0;
      const okByKind: Record<string, number> = {};
      await Promise.all(
        Array.from({ length: settings.concurrency }, async () => {
          while (performance.now() < end) {
            const kind = session.workload.pick();
            const o = await session.sendMix(client, kind, tally);
            if (o.ok && performance.now() <= end) {
              okInTime++;
              increment(okByKind, kind);
            }
            if (!o.ok) await sleep(100);
          }
        }),
      );
      closeClient(client);
      return { okInTime, okByKind };
    };
    const warmUp = Math.min(10, Math.max(3, settings.capacitySeconds / 5));
    progress(`capacity: warming up for ${fmt(warmUp, 0)} s at ${settings.concurrency} in flight`);
    await closedLoop(warmUp, new Tally());
    await session.waitForIdle(60_000);
    progress(`capacity: ${settings.capacitySeconds} s closed loop at ${settings.concurrency} in flight`);
    const tally = new Tally();
    const result = await closedLoop(settings.capacitySeconds, tally);
    const okPerSecond = result.okInTime / settings.capacitySeconds;
    run.capacity = {
      seconds: settings.capacitySeconds,
      concurrency: settings.concurrency,
      okPerSecond,
      perKindOkPerSecond: Object.fromEntries(Object.entries(result.okByKind).map(([k, v]) => [k, v / settings.capacitySeconds])),
      tally: tally.summary(),
    };
    progress(`capacity: ${fmt(okPerSecond)} requests/s succeeded`);
    await session.sampler.take(-1, 'capacity');
    targetRate ??= okPerSecond * settings.rateMultiplier;
    if (!(targetRate > 0)) throw new Error('the capacity phase had no successful request: nothing to soak at (see the capacity table)');
  }
  if (targetRate === undefined) throw new Error('--capacity-seconds 0 needs --rate');
  return targetRate;
}
