import { InvokeEndpointCommand, ModelNotReadyException, ValidationError } from '@aws-sdk/client-sagemaker-runtime';

import { NO_CAPACITY_MESSAGE } from '../../../functions/sagemaker-local/answers';
import type { FunctionProcess } from '../../../functions/sagemaker-local/function-process';
import { LocalSageMaker, type LocalSageMakerOptions } from '../../../functions/sagemaker-local/server';
import { ManualClock } from '../../helpers/clock';
import { COMPONENT, ENDPOINT, invokeInput, rejection, sageMakerClient, startFunction } from '../../helpers/sagemaker-local';

/**
 * Scale to zero as the gateway meets it through the SDK: at zero copies the exact no-capacity
 * ValidationError, a copy wakeMs after the failures (the alarm and the step policy), then the
 * real function's answers, and back to zero after idling. Time moves by hand.
 */
describe('LocalSageMaker: copies, scale-out from zero and scale-in', () => {
  let fn: FunctionProcess;
  let clock: ManualClock;
  let local: LocalSageMaker | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    fn = await startFunction();
  });
  afterAll(async () => {
    await fn.stop();
  });
  beforeEach(() => {
    clock = new ManualClock();
    lines.length = 0;
  });
  afterEach(async () => {
    await local?.close();
    expect(clock.pending).toEqual([]);
  });

  async function standIn(options: Partial<LocalSageMakerOptions>) {
    local = new LocalSageMaker({
      functionUrl: fn.url,
      endpointName: ENDPOINT,
      inferenceComponentName: COMPONENT,
      clock,
      log: (line) => lines.push(line),
      ...options,
    });
    const client = sageMakerClient(await local.listen());
    const call = () => client.send(new InvokeEndpointCommand(invokeInput()));
    const refusal = () => rejection(client, invokeInput());
    return { local, call, refusal };
  }

  it('at zero copies answers no-capacity, wakes wakeMs after the first failure, then serves', async () => {
    const { local, call, refusal } = await standIn({ copies: 0, wakeMs: 240_000 });
    expect(local.stats).toMatchObject({ copies: 0, state: 'cold' });
    for (let i = 0; i < 3; i++) {
      const error = await refusal();
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ message: NO_CAPACITY_MESSAGE, $metadata: expect.objectContaining({ httpStatusCode: 400 }) });
    }
    // One scale-out scheduled, however many failures the alarm saw.
    expect(clock.pending).toEqual([240_000]);
    expect(local.stats).toMatchObject({ copies: 0, state: 'waking', noCapacityFailures: 3, forwarded: 0, scaleOuts: 0 });

    await clock.advance(239_999);
    expect(await refusal()).toMatchObject({ message: NO_CAPACITY_MESSAGE });
    await clock.advance(1);
    expect(local.stats).toMatchObject({ copies: 1, state: 'in-service', scaleOuts: 1, noCapacityFailures: 4 });
    expect(lines).toEqual(['local sagemaker: scale-out: 1 copy in service']);

    const out = await call();
    expect(JSON.parse(Buffer.from(out.Body).toString('utf8')).description.info.name).toBe('tiny-clip');
    expect(local.stats).toMatchObject({ forwarded: 1, succeeded: 1, noCapacityFailures: 4 });
    expect(clock.pending).toEqual([]);
  });

  it('answers ModelNotReadyException while the new copy starts', async () => {
    const { local, call, refusal } = await standIn({ copies: 0, wakeMs: 1_000, startingMs: 5_000 });
    await refusal();
    await clock.advance(1_000);
    expect(local.state).toBe('starting');
    const error = await refusal();
    expect(error).toBeInstanceOf(ModelNotReadyException);
    expect(error).toMatchObject({ $metadata: expect.objectContaining({ httpStatusCode: 429 }) });
    expect(local.stats).toMatchObject({ notReady: 1, noCapacityFailures: 1, copies: 0 });
    await clock.advance(5_000);
    expect((await call()).$metadata.httpStatusCode).toBe(200);
  });

  it('scales in to zero idleMs after the last invocation, and wakes again', async () => {
    const { local, call, refusal } = await standIn({ copies: 1, wakeMs: 60_000, idleMs: 900_000 });
    await clock.advance(899_999);
    // An invocation restarts the idle period.
    await call();
    await clock.advance(899_999);
    expect(local.copies).toBe(1);
    await clock.advance(1);
    expect(local.stats).toMatchObject({ copies: 0, state: 'cold', scaleIns: 1 });
    expect(lines).toEqual(['local sagemaker: scale-in: idle for 900000 ms, 0 copies']);

    expect(await refusal()).toMatchObject({ message: NO_CAPACITY_MESSAGE });
    expect(clock.pending).toEqual([60_000]);
    await clock.advance(60_000);
    expect((await call()).$metadata.httpStatusCode).toBe(200);
    expect(local.stats).toMatchObject({ scaleOuts: 1, scaleIns: 1, noCapacityFailures: 1, succeeded: 2 });
  });

  it('setCopies(n) in code takes effect at once', async () => {
    const { local, call, refusal } = await standIn({ copies: 1 });
    local.setCopies(0);
    expect(await refusal()).toMatchObject({ message: NO_CAPACITY_MESSAGE });
    local.setCopies(3);
    expect(clock.pending).toEqual([]);
    expect((await call()).$metadata.httpStatusCode).toBe(200);
    expect(local.stats).toMatchObject({ copies: 3, scaleOuts: 0, noCapacityFailures: 1 });
  });
});
