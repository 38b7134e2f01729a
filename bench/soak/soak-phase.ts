// The soak: the gateway as its own process under open-loop load at about twice what it can serve,
// with the catalogue written to and tagging jobs running, then read back and compared idle.
import { burstPhase } from './burst';
import { checks } from './checks';
import { capacityPhase } from './capacity';
import { idleAfter, idleBefore } from './idle';
import { serveImages } from './images';
import { loadPhase } from './load-phase';
import { logCollector } from './log';
import { readBack } from './read-back';
import type { Run } from './run';
import { seed } from './seed';
import { startSoakGateway } from './session';

export async function soakPhase(run: Run): Promise<void> {
  const gatewayLog = logCollector();
  const { jpegs, imageOrigin } = await serveImages();
  const session = await startSoakGateway(run, gatewayLog.onLog);
  await seed(session, jpegs, imageOrigin);
  await burstPhase(session, jpegs);
  const targetRate = await capacityPhase(session);
  const before = await idleBefore(session);
  const elapsedS = await loadPhase(session, targetRate);
  await readBack(session);
  await idleAfter(session, before, elapsedS);
  run.log = gatewayLog.summary();
  run.checks = checks(run);
}
