// The fault phase's sub-phases: a baseline, then each fault followed by its recovery, round after
// round.
import type { RemoteSettings, SubPhaseSpec } from './types';

/**
 * The sub-phases, in order. A hang is a delay longer than REMOTE_TIMEOUT_MS (the stand-in then
 * runs the handler, as a slow function would, long after the gateway gave up). Throttling is
 * retried and is no sign of ill health (it must not open the circuit, so /readyz is shown, not
 * judged); a malformed answer and a 5xx count against the function, so the circuit opens.
 */
export function subPhaseSpecs(remote: RemoteSettings, rounds: number): SubPhaseSpec[] {
  const all: SubPhaseSpec[] = [{ name: 'baseline', what: 'no fault', allowed: [], readyz: 'always 200' }];
  for (let round = 1; round <= rounds; round++) {
    // The first round's names are plain; later rounds' carry their number.
    const suffix = round === 1 ? '' : ` #${round}`;
    all.push(...faultRound(remote).map((spec) => ({ ...spec, name: `${spec.name}${suffix}` })));
  }
  return all;
}

/** One round of faults, each followed by its recovery. */
export function faultRound(remote: RemoteSettings): SubPhaseSpec[] {
  const hangMs = remote.timeoutMs + 3000;
  const hangCodes = ['BACKEND_TIMEOUT', 'DEADLINE_EXCEEDED', 'BACKEND_UNAVAILABLE'];
  // After a fault, a request may still meet it (one the function took before the clear), or the
  // open circuit (BACKEND_UNAVAILABLE): the fault's codes, until the recovery bound.
  const after = (fault: string, allowed: string[]): SubPhaseSpec => ({
    name: `after ${fault}`,
    what: 'faults cleared; until every request succeeds again',
    allowed,
    readyz: 'back to 200',
    recovery: 'settle',
  });
  return [
    {
      name: 'hang',
      faults: [{ kind: 'delay', ms: hangMs }],
      what: `every invocation delayed ${hangMs} ms (> REMOTE_TIMEOUT_MS ${remote.timeoutMs})`,
      allowed: hangCodes,
      expectAny: ['BACKEND_TIMEOUT', 'DEADLINE_EXCEEDED'],
      readyz: 'sees 503',
      failFast: true,
    },
    after('hang', hangCodes),
    {
      name: 'throttle',
      faults: [{ kind: 'throttle' }],
      what: 'every invocation 429 TooManyRequestsException',
      allowed: ['BACKEND_UNAVAILABLE'],
      expectAny: ['BACKEND_UNAVAILABLE'],
      readyz: 'not judged',
    },
    after('throttle', ['BACKEND_UNAVAILABLE']),
    {
      name: 'malformed',
      faults: [{ kind: 'malformed' }],
      what: 'every invocation 200 with a body that is not JSON',
      allowed: ['INFERENCE_FAILED', 'BACKEND_UNAVAILABLE'],
      expectAny: ['INFERENCE_FAILED'],
      readyz: 'sees 503',
      failFast: true,
    },
    after('malformed', ['INFERENCE_FAILED', 'BACKEND_UNAVAILABLE']),
    {
      name: '5xx',
      faults: [
        { kind: 'status', status: 500, errorType: 'ServiceException' },
        { kind: 'status', status: 502, errorType: 'EC2UnexpectedException' },
      ],
      what: 'every invocation 500 ServiceException or 502 EC2UnexpectedException, alternately',
      allowed: ['BACKEND_UNAVAILABLE'],
      expectAny: ['BACKEND_UNAVAILABLE'],
      readyz: 'sees 503',
      failFast: true,
    },
    { name: 'recovery', what: 'faults cleared', allowed: ['BACKEND_UNAVAILABLE'], readyz: 'back to 200', recovery: 'full' },
  ];
}

/** The codes a failed answer may carry in a sub-phase: the fault's, and an explicit OVERLOADED refusal where there is a fault. */
export const allowedCodes = (spec: SubPhaseSpec) => new Set(spec.faults ? [...spec.allowed, 'OVERLOADED'] : spec.allowed);
