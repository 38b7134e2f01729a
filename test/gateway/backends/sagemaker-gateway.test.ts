import { ClipModel } from '../../../functions/clip/model';
import type { FunctionProcess } from '../../../functions/sagemaker-local/function-process';
import { LocalSageMaker } from '../../../functions/sagemaker-local/server';
import { configFromEnv } from '../../../gateway/config';
import { ManualClock, until } from '../../helpers/clock';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { cosine, loadReference, TINY_CLIP_DIR } from '../../helpers/tiny-clip';
import { startFunction } from '../../helpers/sagemaker-local';

const reference = loadReference();
const WAKE_INTERVAL_MS = 300;
const SPILL_AFTER_MS = 200;

const EMBED = `query ($inputs: [MediaInput!]!) { embed(inputs: $inputs) { vector } }`;
const MODEL = '{ model { backend device tiers { role backend state serving } } }';

type Model = { model: { backend: string; device: string; tiers: { role: string; backend: string; state: string; serving: boolean }[] } };

/**
 * The whole chain with a GPU tier that scales to zero, on one machine: the gateway's SageMaker
 * backend (the real AWS SDK, configured from the environment as a deployment is) against the
 * local SageMaker Runtime stand-in, starting at zero copies, in front of the function process;
 * CLIP in the gateway as the spillover.
 */
describe('a gateway on a SageMaker tier that scales to zero, with a local spillover', () => {
  let fn: FunctionProcess;
  let sagemaker: LocalSageMaker;
  /** The stand-in's time (its scale-out, its delays), moved by the test; the gateway runs on real time. */
  const standInClock = new ManualClock();
  let gw: RunningGateway;
  /** The same model in the test, for the vectors every answer must have. */
  let model: ClipModel;
  const saved = { ...process.env };

  beforeAll(async () => {
    fn = await startFunction();
    model = await ClipModel.load(TINY_CLIP_DIR, { log: () => {} });
    sagemaker = new LocalSageMaker({
      functionUrl: fn.url,
      endpointName: 'clip-gpu',
      inferenceComponentName: 'clip-ic',
      copies: 0,
      wakeMs: 4 * 60_000,
      clock: standInClock,
    });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: await sagemaker.listen(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const { backend } = configFromEnv({
      INFERENCE_BACKEND: 'sagemaker',
      SAGEMAKER_ENDPOINT: 'clip-gpu',
      SAGEMAKER_INFERENCE_COMPONENT: 'clip-ic',
      SPILLOVER_BACKEND: 'local',
      CLIP_MODEL_DIR: TINY_CLIP_DIR,
      LOCAL_WORKERS: '1',
      GPU_WAKE_INTERVAL_MS: String(WAKE_INTERVAL_MS),
      SPILL_AFTER_MS: String(SPILL_AFTER_MS),
      REMOTE_MAX_ATTEMPTS: '1',
    });
    gw = await startGateway({ backend });
  });
  afterAll(async () => {
    await gw?.stop();
    await sagemaker.close();
    await fn.stop();
    await model.release();
    process.env = saved;
  });

  const embedTexts = async (texts: string[]) => {
    const { data, errors } = await gw.graphql<{ embed: { vector: number[] }[] }>(EMBED, { inputs: texts.map((text) => ({ text })) });
    expect(errors).toBeUndefined();
    return data!.embed.map((e) => Float32Array.from(e.vector));
  };

  it('serves every request from the spillover while cold, wakes the GPU at most once per interval, and moves back when it answers', async () => {
    const start = await gw.graphql<Model>(MODEL);
    expect(start.data!.model).toEqual({
      backend: 'local',
      device: 'cpu',
      tiers: [
        { role: 'PRIMARY', backend: 'sagemaker', state: 'COLD', serving: false },
        { role: 'SPILLOVER', backend: 'local', state: 'WARM', serving: true },
      ],
    });
    const ready = await fetch(`${gw.origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', backend: 'local', tiers: [{ state: 'cold' }, { state: 'warm' }] });

    // Traffic while the GPU wakes: every answer correct, from the spillover. Texts no request has
    // sent before, so that the gateway's cache answers none of them.
    const startedAt = Date.now();
    let requests = 0;
    const request = async () => {
      const texts = reference.texts.slice(0, 4).map((t) => `${t.text}, number ${requests}`);
      const expected = await model.embedTexts(texts);
      (await embedTexts(texts)).forEach((vector, i) => {
        const want = expected[i];
        expect(want.ok && cosine(vector, want.vector)).toBeGreaterThanOrEqual(0.9999);
      });
      requests++;
    };
    // Until a few wake calls have been sent: each one a no-capacity failure that the stand-in's
    // alarm counts, as SageMaker's does.
    while (sagemaker.stats.noCapacityFailures < 4) {
      if (Date.now() - startedAt > 30_000) throw new Error(`no wake calls: ${JSON.stringify(sagemaker.stats)} ${gw.logs.join('\n')}`);
      await request();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const elapsed = Date.now() - startedAt;
    // The start's describe, then at most one wake call per interval: never a user batch.
    const wakeCalls = sagemaker.stats.noCapacityFailures - 1;
    expect(wakeCalls).toBeLessThanOrEqual(Math.floor(elapsed / WAKE_INTERVAL_MS) + 1);
    expect(sagemaker.stats.forwarded).toBe(0);
    expect(sagemaker.state).toBe('waking');

    // The alarm's scale-out lands: the next wake call finds a copy, and traffic moves back.
    await standInClock.advance(4 * 60_000);
    expect(sagemaker.stats).toMatchObject({ copies: 1, scaleOuts: 1 });
    while (gw.gateway.backendStatus().serving === 'spillover') {
      if (Date.now() - startedAt > 60_000) throw new Error(`never moved to the GPU tier: ${JSON.stringify(sagemaker.stats)}`);
      await request();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // On the GPU tier now, with the same vectors as the spillover gave.
    const succeeded = sagemaker.stats.succeeded;
    const [onPrimary] = await embedTexts([reference.texts[5].text]);
    expect(sagemaker.stats.succeeded).toBeGreaterThan(succeeded);
    expect(cosine(onPrimary, reference.texts[5].embedding)).toBeGreaterThanOrEqual(0.9999);
    const after = await gw.graphql<Model>(MODEL);
    expect(after.data!.model.backend).toBe('sagemaker');
    expect(after.data!.model.tiers.map((t) => [t.state, t.serving])).toEqual([
      ['WARM', true],
      ['WARM', false],
    ]);

    const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
    expect(metrics).toMatch(/clip_gateway_backend_spilled_inputs_total\{reason="cold"\} [1-9]/);
    expect(metrics).toMatch(/clip_gateway_backend_wake_calls_total\{outcome="ok"\} 1\b/);
    expect(metrics).toMatch(/clip_gateway_backend_tier_serving\{role="primary",kind="sagemaker"\} 1\b/);
    expect(metrics).toMatch(/clip_gateway_backend_primary_cold_seconds_total [0-9.]+/);
  });

  it('spills a call that hangs on a primary in doubt after SPILL_AFTER_MS, and answers once', async () => {
    await until(() => gw.gateway.backendStatus().serving === 'primary', 'the GPU tier to serve');
    // A failure puts the primary in doubt (unknown); the next call to it hangs.
    sagemaker.inject({ kind: 'internal-failure' });
    await embedTexts(['a red circle']);
    expect(gw.gateway.backendStatus().tiers[0].state).toBe('unknown');
    sagemaker.inject({ kind: 'delay', ms: 30_000 });
    const won = gw.gateway.backendStatus().counters!.hedgesWon;
    const [vector] = await embedTexts([reference.texts[1].text]);
    expect(cosine(vector, reference.texts[1].embedding)).toBeGreaterThanOrEqual(0.9999);
    expect(gw.gateway.backendStatus().counters!.hedgesWon).toBe(won + 1);
    // The held call was withdrawn by the gateway; the stand-in's container call ends with its clock.
    await standInClock.advance(30_000);
  });
});
