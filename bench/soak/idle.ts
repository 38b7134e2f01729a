// The gateway idle, with no client connection open and nothing queued, before the soak and after
// it: the descriptors and sockets it holds then are compared.
import { openFds } from '../lib';
import { socketStates } from './kernel';
import { progress, sleep } from './progress';
import type { Sample } from './sampler';
import type { Session } from './session';

/** The idle baseline: waits for the gateway to go idle (bounded), then samples it. */
export async function idleBefore(session: Session): Promise<Sample> {
  const { run, settings, sampler } = session;
  const idle = await session.waitForIdle(settings.idleTimeoutSeconds * 1000);
  if (!idle.idle) progress('warning: the gateway did not go idle before the soak');
  await sleep(1000);
  const before = await sampler.take(-0.1, 'idle before');
  run.idleBefore = { fds: before.fds, sockets: before.sockets, rssMb: before.rssMb };
  return before;
}

/** Idle again, every client connection closed: descriptors should be back where they were. */
export async function idleAfter(session: Session, before: Sample, elapsedS: () => number): Promise<void> {
  const { run, sampler } = session;
  await session.waitForIdle(30_000);
  await sleep(2000);
  // Sockets a closing client leaves take a moment to go: up to 20 s for the count to come back
  // before it is judged. What is left then is broken down by TCP state.
  let after = await sampler.take(elapsedS(), 'idle after');
  for (let waited = 0; waited < 20 && after.sockets > before.sockets; waited += 5) {
    await sleep(5000);
    after = await sampler.take(elapsedS(), 'idle after');
  }
  run.idleSocketStates = {
    before: before.socketStates ?? {},
    after: socketStates(openFds(session.pid).socketInodes, Number(new URL(session.origin).port)),
  };
  run.idleAfter = { fds: after.fds, sockets: after.sockets, rssMb: after.rssMb };
}
