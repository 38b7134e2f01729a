// The faults the stand-in can be told to answer the next invocations with, each one an answer
// the real service gives, and the check of faults that arrive as JSON over HTTP.
import { check, integer, oneOf, timeoutMs } from '../options';

export type SageMakerFault =
  /** 400 ValidationError "Inference Component has no capacity...", counted as a NoCapacityInvocationFailure. */
  | { kind: 'no-capacity' }
  /** 429 ModelNotReadyException, as while copies start. */
  | { kind: 'not-ready' }
  /** 424 ModelError as if the container had answered `status` (413 too large, 429/503 busy, 500 failed). */
  | { kind: 'model-error'; status: number; message?: string }
  /** 500 InternalFailure. */
  | { kind: 'internal-failure' }
  /** 503 ServiceUnavailable. */
  | { kind: 'service-unavailable' }
  /** 530 InternalDependencyException. */
  | { kind: 'internal-dependency' }
  /** 400 ThrottlingException. */
  | { kind: 'throttle' }
  /** The container takes `ms` longer; past the invocation timeout, the service's timeout ModelError. */
  | { kind: 'delay'; ms: number }
  /** Another 400 ValidationError: a misconfiguration (default: the missing component header's message). */
  | { kind: 'validation'; message?: string };

export type SageMakerFaultKind = SageMakerFault['kind'];

export const FAULT_KINDS: readonly SageMakerFaultKind[] = [
  'no-capacity',
  'not-ready',
  'model-error',
  'internal-failure',
  'service-unavailable',
  'internal-dependency',
  'throttle',
  'delay',
  'validation',
];

const optionalString = (name: string, value: unknown): string | undefined => {
  if (value !== undefined && typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${JSON.stringify(value)}`);
  return value;
};

/** A fault from JSON (`what` names it in errors), checked field by field. */
export function parseFault(value: unknown, what: string): SageMakerFault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object with a kind, got ${JSON.stringify(value)}`);
  }
  const fields = value as Record<string, unknown>;
  const kind = check(`${what}.kind`, fields.kind, oneOf(FAULT_KINDS));
  switch (kind) {
    case 'model-error':
      return {
        kind,
        status: check(`${what}.status`, fields.status, integer(100, 599)),
        ...(fields.message === undefined ? {} : { message: optionalString(`${what}.message`, fields.message) }),
      };
    case 'delay':
      return { kind, ms: check(`${what}.ms`, fields.ms, timeoutMs) };
    case 'validation':
      return { kind, ...(fields.message === undefined ? {} : { message: optionalString(`${what}.message`, fields.message) }) };
    default:
      return { kind };
  }
}

/** One fault or a list of them, from a request body. */
export function parseFaults(body: unknown): SageMakerFault[] {
  return Array.isArray(body) ? body.map((fault, i) => parseFault(fault, `fault #${i + 1}`)) : [parseFault(body, 'the fault')];
}
