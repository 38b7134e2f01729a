import { Admission, DEFAULT_INPUT_COST, type Demand } from '../../../gateway/limits';

const images = (n: number): Demand => ({ images: n, texts: 0, prompts: 0 });
const texts = (n: number): Demand => ({ images: 0, texts: n, prompts: 0 });

/** An admission whose costs are known exactly: 0.1 s an image, 0.01 s a text, batches of 4 images (a 0.4 s margin). */
function measured(options: { concurrency?: number; maxWaitMs?: number } = {}): Admission {
  const admission = new Admission(
    { maxImageBytes: 1000, maxWaitMs: options.maxWaitMs },
    { concurrency: options.concurrency, imageBatchSize: 4, requestTimeoutMs: 10_000, prior: { images: 0.1, texts: 0.01 } },
  );
  return admission;
}

describe('Admission', () => {
  it('admits while the work ahead plus its own fits the deadline less its margin, refuses the next, and admits again once released', () => {
    const admission = measured();
    // The budget of a 10 s deadline: 9 s (10% kept back) less one running batch (0.4 s) = 8.6 s, 86 images.
    const first = admission.admit(images(50));
    const second = admission.admit({ images: 34, texts: 15, prompts: 0 });
    expect(first.ok && second.ok).toBe(true);
    expect(admission.load).toEqual({ images: 84, texts: 15, prompts: 0 });
    expect(admission.queuedSeconds).toBeCloseTo(8.55);
    const refused = admission.admit(images(2));
    expect(refused.ok).toBe(false);
    if (refused.ok) throw new Error('unreachable');
    expect(refused.message).toBe(
      'The gateway is overloaded: the work admitted ahead of this request needs about 8.6 s of the model and this request about 0.2 s, more than the 10000 ms left before its deadline allow. Retry after the time in the Retry-After header.',
    );
    expect(refused.retryAfterSeconds).toBe(1);
    expect(admission.overloaded).toBe(true);
    if (first.ok) {
      first.release();
      first.release(); // twice is harmless
    }
    expect(admission.load.images).toBe(34);
    expect(admission.overloaded).toBe(false);
    expect(admission.admit(images(50)).ok).toBe(true);
  });

  it('judges each request by its own deadline: a short one is refused where a long one is admitted', () => {
    const admission = measured();
    admission.admit(images(10)); // 1 s ahead
    expect(admission.admit(images(1), 1000).ok).toBe(false); // 0.9 s less 0.4 s: not even the work ahead fits
    expect(admission.admit(images(1), 2000).ok).toBe(true); // 1.8 s less 0.4 s holds 1.1 s
    const refused = admission.admit(images(20), 2000);
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: 2 }); // 1.1 + 2 s against 1.4 s: 1.7 s over
  });

  it('counts texts and label prompts at their own cost, prompts only as often as the text cache misses', () => {
    const admission = measured();
    admission.admit(images(1));
    expect(admission.admit(texts(700)).ok).toBe(true); // 7 s
    expect(admission.queuedSeconds).toBeCloseTo(7.1);
    expect(admission.admit(texts(200)).ok).toBe(false);
    // Prompts cost a text each while nothing is cached...
    expect(admission.admit({ images: 0, texts: 0, prompts: 200 }).ok).toBe(false);
    // ...and next to nothing once the cache answers them.
    for (let i = 0; i < 500; i++) admission.observeTextLookup(true);
    expect(admission.cost.prompts).toBeLessThan(0.0001);
    expect(admission.admit({ images: 0, texts: 0, prompts: 200 }).ok).toBe(true);
  });

  it('always admits a request on an idle gateway, however large, and one that needs no inference', () => {
    const admission = measured();
    const huge = admission.admit(images(500));
    expect(huge.ok).toBe(true);
    expect(admission.admit(images(1)).ok).toBe(false);
    expect(admission.admit({ images: 0, texts: 0, prompts: 0 }).ok).toBe(true);
    if (huge.ok) huge.release();
    expect(admission.admit(images(1)).ok).toBe(true);
  });

  it('bounds the wait by maxWaitMs when set, naming ADMISSION_MAX_WAIT_MS', () => {
    const admission = measured({ maxWaitMs: 500 });
    admission.admit(images(6)); // 0.6 s ahead
    const refused = admission.admit(images(1));
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    expect(!refused.ok && refused.message).toMatch(
      /needs about 0\.6 s of the model, longer than its most, 500 ms \(ADMISSION_MAX_WAIT_MS\)/,
    );
  });

  it('learns the cost from batch times, per backend tier, and shares the work over the concurrency', () => {
    let tier = 'primary';
    const admission = new Admission({ maxImageBytes: 1000 }, { concurrency: 2, servingTier: () => tier });
    expect(admission.cost.images).toBeCloseTo(DEFAULT_INPUT_COST.images);
    for (let i = 0; i < 60; i++) admission.observeBatch('images', 10, 5); // 0.5 s an image on the primary
    expect(admission.cost.images).toBeCloseTo(0.5);
    admission.admit(images(10));
    expect(admission.queuedSeconds).toBeCloseTo(2.5); // 10 × 0.5 s over 2 batches at once
    tier = 'spillover';
    // A tier not timed yet starts from the prior, not from another tier's times.
    expect(admission.cost.images).toBeCloseTo(DEFAULT_INPUT_COST.images);
    // Its first batch replaces the prior: what was timed beats what was assumed.
    admission.observeBatch('images', 4, 4);
    expect(admission.cost.images).toBeCloseTo(1);
    tier = 'primary';
    expect(admission.cost.images).toBeCloseTo(0.5);
    admission.setPrior({ images: 0.2, texts: 0.02 });
    expect(admission.cost.images).toBeCloseTo(0.5); // what was measured stays
    tier = 'new';
    expect(admission.cost).toEqual({ images: 0.2, texts: 0.02, prompts: 0.02 });
  });

  it('holds image bytes up to the bound, always one image when none is held', () => {
    const admission = measured();
    const big = admission.holdImageBytes(5000);
    expect(big).toBeDefined();
    expect(admission.holdImageBytes(1)).toBeUndefined();
    expect(admission.hasRoomForImageBytes(1)).toBe(false);
    big!();
    const a = admission.holdImageBytes(600);
    expect(admission.hasRoomForImageBytes(400)).toBe(true);
    expect(admission.holdImageBytes(400)).toBeDefined();
    expect(admission.holdImageBytes(1)).toBeUndefined();
    a!();
    expect(admission.imageBytesHeld).toBe(400);
  });

  it('counts the queue in batches: a backend whose batch time is all round trip serves a full batch for the price of one input', () => {
    const admission = new Admission({ maxImageBytes: 1000 }, { imageBatchSize: 4, requestTimeoutMs: 4200 });
    for (const size of [1, 4, 2, 4, 3, 4]) admission.observeBatch('images', size, 0.4); // 0.4 s a call, whatever its size
    expect(admission.cost.images).toBeCloseTo(0.1); // a full batch of 4 in 0.4 s
    // The budget of 4.2 s: 3.78 s less one running batch (0.4 s) = 3.38 s, 8 batches, 32 images.
    expect(admission.admit(images(30)).ok).toBe(true);
    expect(admission.queuedSeconds).toBeCloseTo(3.2); // 8 batches, the last not full
    expect(admission.admit(images(2)).ok).toBe(true); // fills the last batch: no more time
    expect(admission.admit(images(1)).ok).toBe(false); // a ninth batch
  });

  it('names a bad limit or option', () => {
    expect(() => new Admission({ maxImageBytes: 0 })).toThrow(/maxImageBytes/);
    expect(() => new Admission({ maxImageBytes: 1, maxWaitMs: -1 })).toThrow(/maxWaitMs/);
    expect(() => new Admission({ maxImageBytes: 1 }, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new Admission({ maxImageBytes: 1 }).setPrior({ images: 0, texts: 1 })).toThrow(/prior\.images/);
  });
});
