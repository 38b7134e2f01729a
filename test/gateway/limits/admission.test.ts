import { Admission } from '../../../gateway/limits';

describe('Admission', () => {
  const limits = { maxImages: 10, maxTexts: 100, maxImageBytes: 1000 };

  it('admits requests while their reservations fit the bound, refuses the next, and admits again once released', () => {
    const admission = new Admission(limits);
    const first = admission.admit({ images: 6, texts: 0 });
    const second = admission.admit({ images: 4, texts: 50 });
    expect(first.ok && second.ok).toBe(true);
    expect(admission.load).toEqual({ images: 10, texts: 50 });
    expect(admission.overloaded).toBe(true);
    const refused = admission.admit({ images: 1, texts: 0 });
    expect(refused).toMatchObject({ ok: false, kind: 'images' });
    if (refused.ok) throw new Error('unreachable');
    expect(refused.message).toMatch(/overloaded: 10 images are waiting for the model and this request would add 1, over its bound of 10/);
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Texts have room of their own: a text-only request is not held up by the images.
    expect(admission.admit({ images: 0, texts: 50 }).ok).toBe(true);
    if (first.ok) {
      first.release();
      first.release(); // twice is harmless
    }
    expect(admission.load.images).toBe(4);
    expect(admission.admit({ images: 6, texts: 0 }).ok).toBe(true);
  });

  it('always admits a request on an idle gateway, however large', () => {
    const admission = new Admission(limits);
    const huge = admission.admit({ images: 256, texts: 0 });
    expect(huge.ok).toBe(true);
    expect(admission.admit({ images: 1, texts: 0 }).ok).toBe(false);
    if (huge.ok) huge.release();
    expect(admission.admit({ images: 1, texts: 0 }).ok).toBe(true);
  });

  it('makes Retry-After from how long inputs took, shared out over the backend concurrency', () => {
    const one = new Admission(limits, 1);
    const four = new Admission(limits, 4);
    for (const admission of [one, four]) {
      for (let i = 0; i < 50; i++) admission.observeBatch('images', 10, 5); // 0.5 s an image
      admission.admit({ images: 10, texts: 0 });
    }
    const retryOf = (admission: Admission) => {
      const refused = admission.admit({ images: 1, texts: 0 });
      return refused.ok ? 0 : refused.retryAfterSeconds;
    };
    expect(retryOf(one)).toBe(5); // 10 images × 0.5 s
    expect(retryOf(four)).toBe(2); // ceil(5 / 4)
  });

  it('holds image bytes up to the bound, always one image when none is held', () => {
    const admission = new Admission(limits);
    const big = admission.holdImageBytes(5000);
    expect(big).toBeDefined();
    expect(admission.holdImageBytes(1)).toBeUndefined();
    big!();
    const a = admission.holdImageBytes(600);
    expect(admission.holdImageBytes(400)).toBeDefined();
    expect(admission.holdImageBytes(1)).toBeUndefined();
    a!();
    expect(admission.imageBytesHeld).toBe(400);
  });

  it('names a bad limit', () => {
    expect(() => new Admission({ ...limits, maxImages: 0 })).toThrow(/maxImages/);
    expect(() => new Admission(limits, 0)).toThrow(/concurrency/);
  });
});
