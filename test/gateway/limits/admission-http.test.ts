import { handler, warm } from '../../../functions/handlers/lambda';
import { LocalLambda } from '../../../functions/lambda-local/server';
import { LambdaTransport, RemoteBackend } from '../../../gateway/backends';
import { startGateway, type RunningGateway } from '../../helpers/gateway';
import { drawShape, loadReference, seededRandom } from '../../helpers/tiny-clip';

/**
 * Admission by time, judged by counts only (never by how long anything took on this machine):
 * a burst the model can serve in time is served whole, and an overload is answered with data or
 * an explicit refusal, never a request that ran out of time after being let in.
 */

const CLASSIFY = `query($image: ImageInput!, $labels: [String!]!) { classify(images: [$image], labels: $labels) { labels { label score } } }`;
type Scores = { label: string; score: number }[];
interface Answer {
  status: number;
  retryAfter: string | null;
  codes: string[];
  scores?: Scores;
}

async function classify(origin: string, base64: string, labels: string[], headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: CLASSIFY, variables: { image: { base64 }, labels } }),
  });
  const body = (await response.json()) as {
    data?: { classify: ({ labels: Scores } | null)[] } | null;
    errors?: { extensions?: { code?: string } }[];
  };
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    codes: (body.errors ?? []).map((e) => String(e.extensions?.code)),
    scores: body.data?.classify[0]?.labels,
  };
}

function expectSameScores(actual: Scores | undefined, expected: Scores | undefined): void {
  expect(actual?.map((s) => s.label)).toEqual(expected?.map((s) => s.label));
  actual?.forEach((s, i) => expect(s.score).toBeCloseTo(expected![i].score, 4));
}

/** `count` distinct drawings of the reference's classes, in PNG, as base64. */
async function shapes(count: number, seed: number): Promise<{ base64: string }[]> {
  const reference = loadReference();
  const random = seededRandom(seed);
  const drawn: { base64: string }[] = [];
  for (let i = 0; i < count; i++) {
    drawn.push({ base64: (await drawShape(reference, reference.classes[i % reference.classes.length], random)).toString('base64') });
  }
  return drawn;
}

describe('admission by time, over HTTP', () => {
  const labels = loadReference().classes;

  it('serves 200 single-image requests sent at once to an idle gateway with the tiny CLIP: none refused, every answer as when sent alone', async () => {
    // No image cache: every request's image goes through the model.
    const gateway: RunningGateway = await startGateway({ imageCacheSize: 1 });
    try {
      const images = await shapes(200, 5);
      const alone: Answer[] = [];
      for (const image of images) alone.push(await classify(gateway.origin, image.base64, labels));
      expect(alone.every((answer) => answer.status === 200 && answer.codes.length === 0)).toBe(true);
      const burst = await Promise.all(images.map((image) => classify(gateway.origin, image.base64, labels)));
      expect(burst.filter((answer) => answer.status !== 200 || answer.codes.length > 0)).toEqual([]);
      burst.forEach((answer, i) => expectSameScores(answer.scores, alone[i].scores));
      // Before admission went by time, a fixed bound of 32 images refused most of such a burst.
      const shed = (await gateway.gateway.metrics.shed.get()).values.filter((v) => v.value > 0);
      expect(shed).toEqual([]);
    } finally {
      await gateway.stop();
    }
  });

  describe('well over capacity, on a function that takes 400 ms a batch', () => {
    let lambda: LocalLambda;
    let gateway: RunningGateway;

    beforeAll(async () => {
      lambda = new LocalLambda(handler);
      const endpoint = await lambda.listen();
      const backend = new RemoteBackend(
        new LambdaTransport({
          functionName: 'clip',
          client: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
          log: () => {},
        }),
        // One call at a time: the function's capacity is four images a batch, a batch in 400 ms (10 images a second).
        { maxInFlight: 1, readyCacheMs: 0 },
      );
      gateway = await startGateway({ imageCacheSize: 1, imageMaxBatchSize: 4 }, { backend });
    });
    afterAll(async () => {
      await gateway.stop();
      await lambda.close();
      await (await warm()).release();
    });

    it('answers every request with data or an explicit refusal with Retry-After, and nothing it admitted runs out of time', async () => {
      lambda.inject({ kind: 'delay', ms: 400 }, 1000); // every call
      const images = await shapes(300, 9);
      // A gateway that has served for a while knows what its backend's batches take: a few rounds
      // of concurrent requests teach it (before that it goes by a prior, made for CPU ViT-B/32).
      const learning = await shapes(24, 10);
      for (let round = 0; round < 3; round++) {
        await Promise.all(learning.slice(round * 8, round * 8 + 8).map((image) => classify(gateway.origin, image.base64, labels)));
      }
      const answers = await Promise.all(
        images.map((image) => classify(gateway.origin, image.base64, labels, { 'x-request-timeout-ms': '4000' })),
      );
      const served = answers.filter((answer) => answer.status === 200);
      const refused = answers.filter((answer) => answer.status === 503);
      expect(served.length + refused.length).toBe(300);
      expect(served.filter((answer) => answer.codes.length > 0 || answer.scores?.length !== labels.length)).toEqual([]);
      expect(refused.every((answer) => answer.codes.join() === 'OVERLOADED' && Number(answer.retryAfter) >= 1)).toBe(true);
      // About 40 fit in the deadline: at least half of them served, and the rest refused, not queued.
      expect(served.length).toBeGreaterThanOrEqual(20);
      expect(refused.length).toBeGreaterThanOrEqual(200);
      // Nothing admitted was dropped at its deadline or failed in the backend.
      const dropped = (await gateway.gateway.metrics.inputsDropped.get()).values.filter((v) => v.value > 0);
      expect(dropped).toEqual([]);
      lambda.clearFaults();
    });
  });
});
