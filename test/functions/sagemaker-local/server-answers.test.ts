import { createServer } from 'node:net';

import {
  InternalDependencyException,
  InternalFailure,
  InvokeEndpointCommand,
  ModelError,
  ModelNotReadyException,
  SageMakerRuntimeServiceException,
  ServiceUnavailable,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';

import { MODEL_NOT_READY_MESSAGE, NO_CAPACITY_MESSAGE } from '../../../functions/sagemaker-local/answers';
import type { SageMakerFault } from '../../../functions/sagemaker-local/faults';
import type { FunctionProcess } from '../../../functions/sagemaker-local/function-process';
import { LocalSageMaker } from '../../../functions/sagemaker-local/server';
import { ManualClock, settled, until } from '../../helpers/clock';
import { COMPONENT, ENDPOINT, invokeInput, rejection, sageMakerClient, startFunction } from '../../helpers/sagemaker-local';

const LOG_STREAM_ARN = `arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/InferenceComponents/${COMPONENT}`;

/**
 * Each answer the stand-in gives, as the gateway's SDK sees it: the exception class, its name,
 * fault side, HTTP status and modelled fields, the things the gateway's tier decides on.
 */
describe('LocalSageMaker: every answer, as the SDK deserializes it', () => {
  let fn: FunctionProcess;
  let clock: ManualClock;
  let local: LocalSageMaker;
  let origin: string;

  beforeAll(async () => {
    fn = await startFunction();
  });
  afterAll(async () => {
    await fn.stop();
  });
  beforeEach(async () => {
    clock = new ManualClock();
    local = new LocalSageMaker({ functionUrl: fn.url, endpointName: ENDPOINT, inferenceComponentName: COMPONENT, clock });
    origin = await local.listen();
  });
  afterEach(async () => {
    await local.close();
    // Nothing the stand-in set on its clock outlives it.
    expect(clock.pending).toEqual([]);
  });

  /** The answer to one call made with `fault` queued, and what it cost. */
  async function answerTo(fault: SageMakerFault) {
    local.inject(fault);
    const before = local.stats;
    const error = await rejection(sageMakerClient(origin), invokeInput());
    const after = local.stats;
    expect(after.faults[fault.kind] - before.faults[fault.kind]).toBe(1);
    // An injected answer stands in for the service: the container is not called.
    expect(after.forwarded).toBe(before.forwarded);
    return { error, before, after };
  }

  it.each([
    { fault: { kind: 'no-capacity' }, Exception: ValidationError, status: 400, message: NO_CAPACITY_MESSAGE },
    { fault: { kind: 'not-ready' }, Exception: ModelNotReadyException, status: 429, message: MODEL_NOT_READY_MESSAGE },
    { fault: { kind: 'internal-failure' }, Exception: InternalFailure, status: 500, message: 'An internal failure occurred.' },
    {
      fault: { kind: 'service-unavailable' },
      Exception: ServiceUnavailable,
      status: 503,
      message: 'The service is unavailable. Try your call again.',
    },
    {
      fault: { kind: 'internal-dependency' },
      Exception: InternalDependencyException,
      status: 530,
      message: 'Your request caused an exception with an internal dependency. Contact customer support.',
    },
    {
      fault: { kind: 'validation', message: 'Endpoint clip-gpu is misconfigured (injected).' },
      Exception: ValidationError,
      status: 400,
      message: 'Endpoint clip-gpu is misconfigured (injected).',
    },
  ] as const)('$fault.kind answers $Exception.name, HTTP $status', async ({ fault, Exception, status, message }) => {
    const { error } = await answerTo(fault);
    expect(error).toBeInstanceOf(Exception);
    expect(error).toMatchObject({
      name: Exception.name,
      message,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: expect.objectContaining({ httpStatusCode: status }),
    });
  });

  it('counts a no-capacity answer as a NoCapacityInvocationFailure and a not-ready one apart', async () => {
    const noCapacity = await answerTo({ kind: 'no-capacity' });
    expect(noCapacity.after.noCapacityFailures - noCapacity.before.noCapacityFailures).toBe(1);
    const notReady = await answerTo({ kind: 'not-ready' });
    expect(notReady.after.notReady - notReady.before.notReady).toBe(1);
    expect(notReady.after.noCapacityFailures).toBe(notReady.before.noCapacityFailures);
  });

  it.each([
    [413, 'client'],
    [429, 'client'],
    [503, 'server'],
    [500, 'server'],
  ] as const)('a ModelError with OriginalStatusCode %i carries its message and log stream', async (status, side) => {
    const original = JSON.stringify({ message: `refused with ${status}` });
    const { error, before, after } = await answerTo({ kind: 'model-error', status, message: original });
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({
      name: 'ModelError',
      $fault: 'client',
      $metadata: expect.objectContaining({ httpStatusCode: 424 }),
      OriginalStatusCode: status,
      OriginalMessage: original,
      LogStreamArn: LOG_STREAM_ARN,
    });
    expect(error.message).toMatch(new RegExp(`^Received ${side} error \\(${status}\\) from primary with message "`));
    expect(after.modelErrors - before.modelErrors).toBe(1);
  });

  it('throttles as the service does: 400 ThrottlingException, outside the modelled errors', async () => {
    const { error } = await answerTo({ kind: 'throttle' });
    expect(error).toBeInstanceOf(SageMakerRuntimeServiceException);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
  });

  it('applies queued faults in order, then serves again', async () => {
    local.inject({ kind: 'service-unavailable' });
    local.inject({ kind: 'throttle' }, 2);
    const client = sageMakerClient(origin);
    const names = [];
    for (let i = 0; i < 3; i++) names.push((await rejection(client, invokeInput())).name);
    expect(names).toEqual(['ServiceUnavailable', 'ThrottlingException', 'ThrottlingException']);
    const out = await client.send(new InvokeEndpointCommand(invokeInput()));
    expect(out.$metadata.httpStatusCode).toBe(200);
  });

  it('delays the container by a delay fault within the invocation timeout, on its clock', async () => {
    local.inject({ kind: 'delay', ms: 500 });
    const call = sageMakerClient(origin).send(new InvokeEndpointCommand(invokeInput()));
    const done = settled(call);
    await until(() => clock.pending.includes(500), 'the delay to start');
    expect(clock.pending).toEqual([500, 60_000]);
    await clock.advance(499);
    expect(done()).toBe(false);
    expect(local.stats.forwarded).toBe(0);
    await clock.advance(1);
    expect((await call).$metadata.httpStatusCode).toBe(200);
    expect(local.stats.forwarded).toBe(1);
  });

  it("answers the service's timeout ModelError when the container takes longer than the invocation timeout", async () => {
    local.inject({ kind: 'delay', ms: 90_000 });
    const call = rejection(sageMakerClient(origin), invokeInput());
    await until(() => clock.pending.length === 2, 'the delay to start');
    await clock.advance(60_000);
    const error = await call;
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({
      OriginalStatusCode: 0,
      OriginalMessage:
        'Your invocation timed out while waiting for a response from container primary. ' +
        'Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again.',
      LogStreamArn: LOG_STREAM_ARN,
      $metadata: expect.objectContaining({ httpStatusCode: 424 }),
    });
    expect(error.message).toMatch(/^Received server error \(0\) from primary with message "Your invocation timed out/);
    expect(local.stats).toMatchObject({ forwarded: 0, modelErrors: 1, inFlight: 0 });
  });

  it("answers the service's ModelError when the container cannot be reached", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const nowhere = new LocalSageMaker({
      functionUrl: `http://127.0.0.1:${port}`,
      endpointName: ENDPOINT,
      inferenceComponentName: COMPONENT,
      clock,
    });
    try {
      const error = await rejection(sageMakerClient(await nowhere.listen()), invokeInput());
      expect(error).toBeInstanceOf(ModelError);
      expect(error).toMatchObject({ OriginalStatusCode: 0, LogStreamArn: LOG_STREAM_ARN });
      expect(error.OriginalMessage).toMatch(/^Amazon SageMaker could not get a response from the clip-gpu endpoint\. /);
      expect(nowhere.stats).toMatchObject({ forwarded: 1, modelErrors: 1, succeeded: 0 });
    } finally {
      await nowhere.close();
    }
  });

  it('ends a waiting call and cancels its timers on close()', async () => {
    local.inject({ kind: 'delay', ms: 30_000 });
    const call = settled(sageMakerClient(origin).send(new InvokeEndpointCommand(invokeInput())));
    await until(() => clock.pending.length === 2, 'the delay to start');
    await local.close();
    expect(clock.pending).toEqual([]);
    await until(call, 'the call to end');
  });
});
