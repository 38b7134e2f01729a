import type { EmbedResult } from '../../../functions/clip';
import type { FunctionProcess } from '../../../functions/sagemaker-local/function-process';
import { LocalSageMaker } from '../../../functions/sagemaker-local/server';
import { RemoteBackend, SageMakerTransport, type RemoteBackendOptions } from '../../../gateway/backends';
import { cosine, loadReference } from '../../helpers/tiny-clip';
import { credentials, RecordingContainer, startFunction } from '../../helpers/sagemaker-local';

const ENDPOINT = 'clip-gpu';
const COMPONENT = 'clip-gpu-ic';
const reference = loadReference();
const TEXT = reference.texts[0];

/**
 * The SageMaker backend through the real @aws-sdk/client-sagemaker-runtime against the local
 * stand-in of the SageMaker Runtime API (functions/sagemaker-local), in front of the real function
 * process with the tiny CLIP: each answer of the service as the gateway must treat it.
 */
describe('RemoteBackend over SageMaker', () => {
  let fn: FunctionProcess;
  let sagemaker: LocalSageMaker;
  let origin: string;
  const logs: string[] = [];
  const backends: RemoteBackend[] = [];

  beforeAll(async () => {
    fn = await startFunction();
    sagemaker = new LocalSageMaker({ functionUrl: fn.url, endpointName: ENDPOINT, inferenceComponentName: COMPONENT });
    origin = await sagemaker.listen();
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await sagemaker.close();
    await fn.stop();
  });
  beforeEach(() => {
    sagemaker.clearFaults();
    sagemaker.setCopies(1);
    logs.length = 0;
  });

  function backend(options: Partial<RemoteBackendOptions> = {}, endpointName = ENDPOINT): RemoteBackend {
    const transport = new SageMakerTransport({
      endpointName,
      inferenceComponent: COMPONENT,
      client: { endpoint: origin, region: 'us-east-1', credentials },
      log: (line) => logs.push(line),
    });
    const made = new RemoteBackend(transport, {
      retryBaseMs: 0,
      retryMaxMs: 0,
      maxAttempts: 1,
      log: (line) => logs.push(line),
      ...options,
    });
    backends.push(made);
    return made;
  }

  const embedText = (b: RemoteBackend): Promise<EmbedResult[]> => b.embed({ kind: 'text', items: [TEXT.text] });

  it('describes the model and embeds in the binary protocol, signed, with the component named', async () => {
    const b = backend();
    expect((await b.start()).info.name).toBe('tiny-clip');
    expect(b.protocol).toBe(2);
    const calls = sagemaker.stats.calls;
    const [result] = await embedText(b);
    expect(result.ok && cosine(result.vector, TEXT.embedding)).toBeGreaterThanOrEqual(0.9999);
    // Refused calls (a wrong signature, no component header) would not have been forwarded.
    expect(sagemaker.stats).toMatchObject({ calls: calls + 1, refused: 0, validationErrors: 0 });
    expect(b.status().tiers[0]).toEqual({ role: 'primary', kind: 'sagemaker', state: 'warm', device: 'cpu' });
  });

  it('sends what the container is told: the v2 content type and the component header', async () => {
    const container = new RecordingContainer();
    const containerUrl = await container.listen();
    const recording = new LocalSageMaker({ functionUrl: containerUrl, endpointName: ENDPOINT, inferenceComponentName: COMPONENT });
    const recordingOrigin = await recording.listen();
    try {
      const transport = new SageMakerTransport({
        endpointName: ENDPOINT,
        inferenceComponent: COMPONENT,
        client: { endpoint: recordingOrigin, region: 'us-east-1', credentials },
        log: () => {},
      });
      const body = Buffer.from('frame');
      container.answer = { status: 200, headers: { 'content-type': 'application/vnd.clip-gateway.v2' } };
      const answer = await transport.call({ contentType: 'application/vnd.clip-gateway.v2', body }, new AbortController().signal, 5_000);
      expect(answer.contentType).toBe('application/vnd.clip-gateway.v2');
      expect(Buffer.from(answer.body)).toEqual(body);
      expect(container.seen).toHaveLength(1);
      expect(container.seen[0]).toMatchObject({ method: 'POST', url: '/invocations', body });
      expect(container.seen[0].headers['content-type']).toBe('application/vnd.clip-gateway.v2');
      expect(recording.stats).toMatchObject({ calls: 1, forwarded: 1, refused: 0 });
      transport.close();
    } finally {
      await recording.close();
      await container.close();
    }
  });

  describe('reads each answer of the service', () => {
    let b: RemoteBackend;
    beforeAll(async () => {
      b = backend({ maxAttempts: 2, circuit: { failureThreshold: 1, cooldownMs: 60_000 } });
      await b.start();
    });
    afterEach(() => b.breaker.success());

    it.each([
      ['no-capacity (scaled to zero)', { kind: 'no-capacity' as const }],
      ['ModelNotReadyException (copies starting)', { kind: 'not-ready' as const }],
    ])('%s: cold, not retried, the circuit closed and ready', async (_what, fault) => {
      sagemaker.inject(fault, 2);
      const calls = sagemaker.stats.calls;
      expect(await embedText(b)).toEqual([
        {
          ok: false,
          code: 'BACKEND_UNAVAILABLE',
          message: 'The CLIP function has no capacity now: it has scaled to zero and is starting, which takes minutes; try again later.',
        },
      ]);
      expect(sagemaker.stats.calls).toBe(calls + 1);
      expect(b.breaker.state).toBe('closed');
      await expect(b.ready()).resolves.toBe(true);
      expect(b.status().tiers[0].state).toBe('cold');
      // Readiness asked nothing of the endpoint: a probe is an invocation, and would keep it from scaling in.
      expect(sagemaker.stats.calls).toBe(calls + 1);
    });

    it('another ValidationError: misconfigured, named in the log, not retried', async () => {
      sagemaker.inject({ kind: 'validation', message: 'Endpoint clip-gpu of account 000000000000 not found.' }, 2);
      const calls = sagemaker.stats.calls;
      expect(await embedText(b)).toEqual([
        { ok: false, code: 'BACKEND_UNAVAILABLE', message: 'The CLIP function cannot be called; the gateway is misconfigured.' },
      ]);
      expect(sagemaker.stats.calls).toBe(calls + 1);
      expect(b.breaker.state).toBe('open');
      expect(logs.join('\n')).toMatch(
        /SageMaker refused the call to endpoint clip-gpu \(component clip-gpu-ic\): ValidationError: Endpoint clip-gpu of account 000000000000 not found\./,
      );
    });

    it('ModelError 413: the input is too large, nothing held against the function', async () => {
      sagemaker.inject({ kind: 'model-error', status: 413 });
      expect(await embedText(b)).toEqual([
        { ok: false, code: 'INPUT_TOO_LARGE', message: "The batch exceeds the CLIP function's payload limit." },
      ]);
      expect(b.breaker.state).toBe('closed');
    });

    it.each([429, 503])('ModelError %i: the container is busy, retried with backoff', async (status) => {
      sagemaker.inject({ kind: 'model-error', status });
      const calls = sagemaker.stats.calls;
      const [result] = await embedText(b);
      expect(result.ok).toBe(true);
      expect(sagemaker.stats.calls).toBe(calls + 2);
      expect(b.breaker.state).toBe('closed');
    });

    it('another ModelError: the function failed, its log stream in the log', async () => {
      sagemaker.inject({ kind: 'model-error', status: 500, message: 'CUDA error: an illegal memory access was encountered' }, 2);
      const calls = sagemaker.stats.calls;
      expect(await embedText(b)).toEqual([{ ok: false, code: 'INFERENCE_FAILED', message: 'The CLIP function failed on this batch.' }]);
      expect(sagemaker.stats.calls).toBe(calls + 1);
      expect(logs.join('\n')).toMatch(
        /answered 500: CUDA error: an illegal memory access was encountered \(log stream arn:aws:logs:us-east-1:000000000000:log-group:\/aws\/sagemaker\/InferenceComponents\/clip-gpu-ic/,
      );
      expect(b.breaker.state).toBe('open');
    });

    it.each([
      ['500 InternalFailure', { kind: 'internal-failure' as const }],
      ['503 ServiceUnavailable', { kind: 'service-unavailable' as const }],
      ['530 InternalDependencyException', { kind: 'internal-dependency' as const }],
      ['ThrottlingException', { kind: 'throttle' as const }],
    ])('%s: transient, retried with backoff', async (_what, fault) => {
      // A circuit that a single failure does not open, so that the retry is let through.
      const patient = backend({ maxAttempts: 2 });
      await patient.start();
      sagemaker.inject(fault);
      const calls = sagemaker.stats.calls;
      const [result] = await embedText(patient);
      expect(result.ok && cosine(result.vector, TEXT.embedding)).toBeGreaterThanOrEqual(0.9999);
      expect(sagemaker.stats.calls).toBe(calls + 2);
    });
  });

  it('cannot start against an endpoint that does not exist, and says which', async () => {
    await expect(backend({}, 'no-such-endpoint').start()).rejects.toThrow(
      /^The sagemaker backend at endpoint no-such-endpoint \(component clip-gpu-ic\) did not describe its model: The CLIP function cannot be called; the gateway is misconfigured\./,
    );
  });
});
