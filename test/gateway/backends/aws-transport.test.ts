import { LocalLambda } from '../../../functions/lambda-local/server';
import { CallError } from '../../../gateway/backends/call-failure';
import { LambdaTransport } from '../../../gateway/backends/lambda';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const DESCRIBE = { contentType: 'application/json', body: Buffer.from('{"v":1,"kind":"describe"}') };

/**
 * What every AWS transport gets from AwsTransport, through LambdaTransport and the real
 * @aws-sdk/client-lambda against the local Invoke endpoint (the function answers with its event).
 */
describe('AwsTransport', () => {
  let lambda: LocalLambda;
  let origin: string;
  const transports: LambdaTransport[] = [];

  beforeAll(async () => {
    lambda = new LocalLambda(async (event) => event);
    origin = await lambda.listen();
  });
  afterAll(async () => {
    transports.forEach((t) => t.close());
    await lambda.close();
  });
  beforeEach(() => lambda.clearFaults());

  function transport(client: { maxAttempts?: number } = {}): LambdaTransport {
    const made = new LambdaTransport({
      functionName: 'clip',
      client: { endpoint: origin, region: 'us-east-1', credentials, ...client },
      log: () => {},
    });
    transports.push(made);
    return made;
  }

  async function failureOf(call: Promise<unknown>): Promise<CallError['failure']> {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CallError);
    return (error as CallError).failure;
  }

  it('makes one attempt a call: retrying is the backend’s to decide', async () => {
    const t = transport();
    lambda.inject({ kind: 'status', status: 500 });
    const before = lambda.stats.invocations;
    const failure = await failureOf(t.call(DESCRIBE, new AbortController().signal, 1_000));
    expect(failure).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retry: true, unhealthy: true });
    expect(lambda.stats.invocations - before).toBe(1);
  });

  it("lets the caller's client options set the SDK's attempts", async () => {
    const t = transport({ maxAttempts: 2 });
    lambda.inject({ kind: 'status', status: 500 });
    const before = lambda.stats.invocations;
    const answer = await t.call(DESCRIBE, new AbortController().signal, 1_000);
    expect(JSON.parse(Buffer.from(answer.body).toString('utf8'))).toEqual({ v: 1, kind: 'describe' });
    expect(lambda.stats.invocations - before).toBe(2);
  });

  it("reads a call rejected after its signal was aborted as the deadline's, naming the timeout", async () => {
    const aborted = new AbortController();
    aborted.abort();
    const failure = await failureOf(transport().call(DESCRIBE, aborted.signal, 1_234));
    expect(failure).toEqual({
      code: 'BACKEND_TIMEOUT',
      message: 'The CLIP function did not answer within 1234 ms.',
      retry: false,
      unhealthy: true,
    });
  });

  it('names its target', () => {
    expect(transport().target).toBe('function clip');
  });
});
