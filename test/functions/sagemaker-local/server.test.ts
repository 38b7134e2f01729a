import { randomBytes } from 'node:crypto';

import { InvokeEndpointCommand, ModelError, ValidationError } from '@aws-sdk/client-sagemaker-runtime';

import { decodeResults, encodeRequest, WIRE_V2_CONTENT_TYPE } from '../../../functions/protocol';
import { COMPONENT_HEADER_REQUIRED_MESSAGE, NO_CAPACITY_MESSAGE } from '../../../functions/sagemaker-local/answers';
import type { FunctionProcess } from '../../../functions/sagemaker-local/function-process';
import { LocalSageMaker, type LocalSageMakerOptions, type LocalSageMakerStats } from '../../../functions/sagemaker-local/server';
import { cosine, loadReference } from '../../helpers/tiny-clip';
import {
  COMPONENT,
  credentials,
  DESCRIBE,
  ENDPOINT,
  invokeInput,
  RecordingContainer,
  rejection,
  sageMakerClient,
  startFunction,
} from '../../helpers/sagemaker-local';

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing ' +
  'method. Consult the service documentation for details.';
const LOG_GROUP = `/aws/sagemaker/InferenceComponents/${COMPONENT}`;

/**
 * The stand-in as the gateway meets it: the real @aws-sdk/client-sagemaker-runtime signs and
 * sends InvokeEndpoint, the stand-in checks what arrived and forwards it to the real function.
 */
describe('LocalSageMaker: InvokeEndpoint through the real SDK', () => {
  let fn: FunctionProcess;
  const stands: LocalSageMaker[] = [];
  let local: LocalSageMaker;
  let origin: string;
  const arrived: { method?: string; url?: string; headers: Record<string, string | string[] | undefined> }[] = [];

  async function standIn(options: Partial<LocalSageMakerOptions> = {}): Promise<{ local: LocalSageMaker; origin: string }> {
    const made = new LocalSageMaker({ functionUrl: fn.url, endpointName: ENDPOINT, inferenceComponentName: COMPONENT, ...options });
    stands.push(made);
    return { local: made, origin: await made.listen() };
  }

  beforeAll(async () => {
    fn = await startFunction();
    ({ local, origin } = await standIn());
    local.server.on('request', (req) => arrived.push({ method: req.method, url: req.url, headers: req.headers }));
  });
  afterAll(async () => {
    await Promise.all(stands.map((s) => s.close()));
    await fn.stop();
  });
  beforeEach(() => {
    arrived.length = 0;
    local.clearFaults();
  });

  it("answers a signed call with the function's answer, the content type and the variant", async () => {
    const before = local.stats;
    const out = await sageMakerClient(origin).send(new InvokeEndpointCommand(invokeInput({ Accept: 'application/json' })));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.ContentType).toBe('application/json');
    expect(out.InvokedProductionVariant).toBe('AllTraffic');
    expect(JSON.parse(Buffer.from(out.Body).toString('utf8')).description.info.name).toBe('tiny-clip');

    expect(arrived).toHaveLength(1);
    const [{ method, url, headers }] = arrived;
    expect([method, url]).toEqual(['POST', `/endpoints/${ENDPOINT}/invocations`]);
    expect(headers['x-amzn-sagemaker-inference-component']).toBe(COMPONENT);
    expect(headers['content-type']).toBe('application/json');
    expect(headers.accept).toBe('application/json');
    const authorization = String(headers.authorization);
    expect(authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/sagemaker\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
    );
    const signed = /SignedHeaders=([^,]+)/.exec(authorization)![1].split(';');
    expect(signed).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'content-type', 'x-amzn-sagemaker-inference-component']));

    const after = local.stats;
    expect([after.calls - before.calls, after.forwarded - before.forwarded, after.succeeded - before.succeeded]).toEqual([1, 1, 1]);
    expect(after.refused).toBe(before.refused);
  });

  it('embeds through the function like the reference (cosine ≥ 0.9999)', async () => {
    const reference = loadReference();
    const texts = reference.texts.slice(0, 8);
    const out = await sageMakerClient(origin).send(
      new InvokeEndpointCommand(invokeInput({ Body: JSON.stringify(encodeRequest({ kind: 'text', items: texts.map((t) => t.text) })) })),
    );
    const results = decodeResults(JSON.parse(Buffer.from(out.Body).toString('utf8')), texts.length, 64);
    results.forEach((result, i) => expect(result.ok && cosine(result.vector, texts[i].embedding)).toBeGreaterThanOrEqual(0.9999));
  });

  it('passes the content type, Accept and custom attributes to the container, and its answer back byte for byte', async () => {
    const container = new RecordingContainer();
    const { origin: recordingOrigin } = await standIn({ functionUrl: await container.listen(), variantName: 'Blue' });
    try {
      const body = randomBytes(100_000);
      container.answer = {
        status: 200,
        headers: { 'content-type': WIRE_V2_CONTENT_TYPE, 'x-amzn-sagemaker-custom-attributes': 'served=1' },
      };
      const out = await sageMakerClient(recordingOrigin).send(
        new InvokeEndpointCommand(
          invokeInput({ Body: body, ContentType: WIRE_V2_CONTENT_TYPE, Accept: WIRE_V2_CONTENT_TYPE, CustomAttributes: 'trace=7' }),
        ),
      );
      expect(container.seen).toHaveLength(1);
      const [seen] = container.seen;
      expect([seen.method, seen.url]).toEqual(['POST', '/invocations']);
      expect(seen.headers['content-type']).toBe(WIRE_V2_CONTENT_TYPE);
      expect(seen.headers.accept).toBe(WIRE_V2_CONTENT_TYPE);
      expect(seen.headers['x-amzn-sagemaker-custom-attributes']).toBe('trace=7');
      // The service authenticates the caller; the container never sees the signature.
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.body.equals(body)).toBe(true);
      expect(Buffer.from(out.Body).equals(body)).toBe(true);
      expect(out.ContentType).toBe(WIRE_V2_CONTENT_TYPE);
      expect(out.CustomAttributes).toBe('served=1');
      expect(out.InvokedProductionVariant).toBe('Blue');

      // The container answers non-2xx: 424 ModelError carrying its status and body.
      container.answer = { status: 503, headers: { 'retry-after': '5' }, body: Buffer.from('still loading') };
      const error = await rejection(sageMakerClient(recordingOrigin), invokeInput());
      expect(error).toBeInstanceOf(ModelError);
      expect(error).toMatchObject({
        name: 'ModelError',
        $fault: 'client',
        $metadata: expect.objectContaining({ httpStatusCode: 424 }),
        OriginalStatusCode: 503,
        OriginalMessage: 'still loading',
        LogStreamArn: `arn:aws:logs:us-east-1:000000000000:log-group:${LOG_GROUP}`,
        message:
          'Received server error (503) from primary with message "still loading". See https://us-east-1.console.aws.amazon.com/cloudwatch/' +
          `home?region=us-east-1#logEventViewer:group=${LOG_GROUP} in account 000000000000 for more information.`,
      });
    } finally {
      await container.close();
    }
  });

  it('reports what the real function refuses as its ModelError', async () => {
    const error = await rejection(sageMakerClient(origin), invokeInput({ Body: 'not json' }));
    expect(error).toBeInstanceOf(ModelError);
    expect(error.OriginalStatusCode).toBe(400);
    expect(error.message).toMatch(/^Received client error \(400\) from primary with message "/);
    expect(error.message).toContain(String(error.OriginalMessage));
  });

  it('refuses calls signed wrongly or changed after signing, and forwards none of them', async () => {
    const before = local.stats;
    const cases: [string, Promise<Record<string, unknown>>][] = [];
    const wrongSecret = sageMakerClient(origin, { credentials: { ...credentials, secretAccessKey: 'guess' } });
    cases.push([MISMATCH, rejection(wrongSecret, invokeInput())]);

    // A byte of the body (same length, so the HTTP framing holds), then the component header,
    // changed after the SDK signed the request.
    type SignedRequest = { body: string | Uint8Array; headers: Record<string, string> };
    const tampers = [
      (request: SignedRequest) => {
        const body = Buffer.from(request.body);
        body[body.length - 3] ^= 0x20;
        request.body = body;
      },
      (request: SignedRequest) => (request.headers['x-amzn-sagemaker-inference-component'] = 'someone-else'),
    ];
    for (const tamper of tampers) {
      const client = sageMakerClient(origin);
      const middleware = (next: (args: { request: SignedRequest }) => Promise<unknown>) => (args: { request: SignedRequest }) => {
        tamper(args.request);
        return next(args);
      };
      client.middlewareStack.addRelativeTo(middleware as never, {
        relation: 'after',
        toMiddleware: 'httpSigningMiddleware',
        name: 'tamper',
      });
      cases.push([MISMATCH, rejection(client, invokeInput())]);
    }
    const otherRegion = sageMakerClient(origin, { region: 'eu-west-1' });
    cases.push(['Credential should be scoped to a valid region. ', rejection(otherRegion, invokeInput())]);

    for (const [message, refused] of cases) {
      expect(await refused).toMatchObject({
        name: 'InvalidSignatureException',
        $metadata: expect.objectContaining({ httpStatusCode: 403 }),
        message,
      });
    }
    const unknownKey = await rejection(
      sageMakerClient(origin, { credentials: { ...credentials, accessKeyId: 'AKIDSTRANGER' } }),
      invokeInput(),
    );
    expect(unknownKey).toMatchObject({
      name: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });

    const unsigned = await fetch(`${origin}/endpoints/${ENDPOINT}/invocations`, { method: 'POST', body: DESCRIBE });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await unsigned.json()).toEqual({ message: 'Missing Authentication Token' });

    const after = local.stats;
    expect(after.refused - before.refused).toBe(6);
    expect(after.forwarded).toBe(before.forwarded);
  });

  it('refuses a signature dated more than 15 minutes from its clock', async () => {
    const { origin: lateOrigin } = await standIn({ wallClock: () => Date.now() + 20 * 60_000 });
    const error = await rejection(sageMakerClient(lateOrigin), invokeInput());
    expect(error).toMatchObject({ name: 'InvalidSignatureException', $metadata: expect.objectContaining({ httpStatusCode: 403 }) });
    expect(error.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
  });

  it('answers ValidationError for another endpoint, another component, or no component header', async () => {
    const before = local.stats;
    const client = sageMakerClient(origin);
    const answers = [
      [invokeInput({ EndpointName: 'other' }), 'Endpoint other of account 000000000000 not found.'],
      [
        invokeInput({ InferenceComponentName: 'other' }),
        `Inference Component other for endpoint ${ENDPOINT} of account 000000000000 not found.`,
      ],
      [invokeInput({ InferenceComponentName: undefined }), COMPONENT_HEADER_REQUIRED_MESSAGE],
    ] as const;
    for (const [input, message] of answers) {
      const error = await rejection(client, input);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ message, $fault: 'client', $metadata: expect.objectContaining({ httpStatusCode: 400 }) });
      expect(error.message).not.toBe(NO_CAPACITY_MESSAGE);
    }
    const after = local.stats;
    expect(after.validationErrors - before.validationErrors).toBe(3);
    expect(after.forwarded).toBe(before.forwarded);
  });

  it('refuses a body over 6,291,456 bytes with 413 and takes one of exactly that size', async () => {
    const before = local.stats;
    const client = sageMakerClient(origin);
    const error = await rejection(client, invokeInput({ Body: Buffer.alloc(6_291_457, 0x20) }));
    // The front end's plain-text 413, which the SDK fails to parse as JSON: only the status says what happened.
    expect(error).toMatchObject({ name: 'SyntaxError', $metadata: expect.objectContaining({ httpStatusCode: 413 }) });
    const raw = await fetch(`${origin}/endpoints/${ENDPOINT}/invocations`, { method: 'POST', body: Buffer.alloc(6_291_457) });
    expect([raw.status, raw.headers.get('x-amzn-errortype'), await raw.text()]).toEqual([
      413,
      null,
      'HTTP content length exceeded 6291456 bytes.',
    ]);
    expect(local.stats.tooLarge - before.tooLarge).toBe(2);
    expect(local.stats.forwarded).toBe(before.forwarded);

    const padded = DESCRIBE + ' '.repeat(6_291_456 - DESCRIBE.length);
    const out = await client.send(new InvokeEndpointCommand(invokeInput({ Body: padded })));
    expect(JSON.parse(Buffer.from(out.Body).toString('utf8')).description.info.name).toBe('tiny-clip');
  });

  it('takes faults and copies over HTTP and reports its counts at GET /_local/stats', async () => {
    const post = (path: string, body: unknown) => fetch(`${origin}${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect(await (await post('/_local/faults', [{ kind: 'throttle' }, { kind: 'model-error', status: 429 }])).json()).toEqual({
      queued: 2,
    });
    expect(local.queuedFaults).toBe(2);
    const bad = await post('/_local/faults', { kind: 'model-error', status: 42 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ message: 'the fault.status must be an integer from 100 to 599, got 42' });
    const unknown = await post('/_local/faults', [{ kind: 'throttle' }, { kind: 'meltdown' }]);
    expect(((await unknown.json()) as { message: string }).message).toBe(
      'fault #2.kind must be one of no-capacity, not-ready, model-error, internal-failure, service-unavailable, ' +
        'internal-dependency, throttle, delay, validation, got "meltdown"',
    );
    expect(local.queuedFaults).toBe(2);
    expect(await (await fetch(`${origin}/_local/faults`, { method: 'DELETE' })).json()).toEqual({ queued: 0 });

    expect(await (await post('/_local/copies', { copies: 0 })).json()).toMatchObject({ copies: 0, state: 'cold' });
    const before = local.stats;
    expect(await rejection(sageMakerClient(origin), invokeInput())).toMatchObject({ message: NO_CAPACITY_MESSAGE });
    const refusedCopies = await post('/_local/copies', { copies: -1 });
    expect(await refusedCopies.json()).toEqual({ message: 'copies must be a non-negative integer, got -1' });
    expect(await (await post('/_local/copies', { copies: 1 })).json()).toMatchObject({ copies: 1, state: 'in-service' });

    const stats = (await (await fetch(`${origin}/_local/stats`)).json()) as LocalSageMakerStats;
    expect(stats).toEqual(local.stats);
    expect(stats.noCapacityFailures - before.noCapacityFailures).toBe(1);
    expect(stats.calls - before.calls).toBe(1);
  });

  it('answers UnknownOperationException for anything else', async () => {
    const other = await fetch(`${origin}/endpoints/${ENDPOINT}/async-invocations`, { method: 'POST', body: DESCRIBE });
    expect(other.status).toBe(404);
    expect(other.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});
