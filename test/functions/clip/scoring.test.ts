import { dot, meanUnitVector, zeroShot } from '../../../functions/clip/scoring';

const f32 = (...values: number[]) => Float32Array.from(values);
const norm = (v: Float32Array) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));

describe('dot', () => {
  it('sums the products of the components', () => {
    expect(dot(f32(1, 2, 3), f32(4, 5, 6))).toBe(32);
    expect(dot(f32(1, 0), f32(0, 1))).toBe(0);
    expect(dot(f32(0.6, 0.8), f32(0.6, 0.8))).toBeCloseTo(1, 6);
    expect(dot(f32(1, -1), f32(-2, 3))).toBe(-5);
    expect(dot(f32(), f32())).toBe(0);
  });

  it('throws a RangeError when the lengths differ', () => {
    expect(() => dot(f32(1, 2, 3), f32(1, 2))).toThrow(new RangeError('vectors differ in length: 3 and 2'));
    expect(() => dot(f32(1, 2, 3), f32(1, 2))).toThrow(RangeError);
  });
});

describe('meanUnitVector', () => {
  it('averages unit vectors and makes the mean unit length', () => {
    const mean = meanUnitVector([f32(1, 0), f32(0, 1)]);
    expect(mean[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(mean[1]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('weighs every vector once: three prompts, two alike', () => {
    // (1,0,0) + (1,0,0) + (0,1,0) = (2,1,0); over √5.
    const mean = meanUnitVector([f32(1, 0, 0), f32(0, 1, 0), f32(1, 0, 0)]);
    expect(mean[0]).toBeCloseTo(2 / Math.sqrt(5), 6);
    expect(mean[1]).toBeCloseTo(1 / Math.sqrt(5), 6);
    expect(mean[2]).toBe(0);
  });

  it('returns a single vector as it is, and a new array', () => {
    const only = f32(0.6, 0.8);
    const mean = meanUnitVector([only]);
    expect(mean).not.toBe(only);
    expect(mean[0]).toBeCloseTo(0.6, 6);
    expect(mean[1]).toBeCloseTo(0.8, 6);
    expect(Array.from(only)).toEqual(Array.from(f32(0.6, 0.8)));
  });

  it('is unit length for any set of unit vectors that do not cancel out', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const unit = () => {
      const v = Float32Array.from({ length: 64 }, random);
      const n = norm(v);
      return v.map((x) => x / n);
    };
    for (const count of [1, 2, 5, 14]) {
      const vectors = Array.from({ length: count }, unit);
      const mean = meanUnitVector(vectors);
      expect(mean.length).toBe(64);
      expect(norm(mean)).toBeCloseTo(1, 5);
      // It points the way of the plain sum.
      const sum = new Float32Array(64);
      for (const v of vectors) v.forEach((x, i) => (sum[i] += x));
      expect(dot(mean, sum) / norm(sum)).toBeCloseTo(1, 5);
    }
  });

  it('throws a RangeError for an empty list', () => {
    expect(() => meanUnitVector([])).toThrow(new RangeError('no vectors to average'));
  });
});

describe('zeroShot', () => {
  it('scores by a softmax over logitScale × similarity', () => {
    // Similarities 1 and 0; logits 2 and 0; e² / (e² + 1) = 0.8807970779778824.
    const scores = zeroShot(f32(1, 0), [f32(1, 0), f32(0, 1)], 2);
    expect(scores.map((s) => s.index)).toEqual([0, 1]);
    expect(scores[0].similarity).toBe(1);
    expect(scores[1].similarity).toBe(0);
    expect(scores[0].score).toBeCloseTo(0.8807970779778824, 12);
    expect(scores[1].score).toBeCloseTo(0.1192029220221176, 12);
  });

  it('sorts best first, whatever the order of the labels', () => {
    const image = f32(0.6, 0.8);
    // Similarities: 0.6, 0.8, −0.6 and 0.6·0.8 + 0.8·0.6 = 0.96.
    const labels = [f32(1, 0), f32(0, 1), f32(-1, 0), f32(0.8, 0.6)];
    const scores = zeroShot(image, labels, 10);
    expect(scores.map((s) => s.index)).toEqual([3, 1, 0, 2]);
    const similarities = [0.6, 0.8, -0.6, 0.96];
    for (const s of scores) expect(s.similarity).toBeCloseTo(similarities[s.index], 6);
    // softmax(6, 8, −6, 9.6) by hand: e^(x − 9.6) / Σ.
    const exps = [Math.exp(-3.6), Math.exp(-1.6), Math.exp(-15.6), 1];
    const total = exps.reduce((a, b) => a + b, 0);
    for (const s of scores) expect(s.score).toBeCloseTo(exps[s.index] / total, 6);
    expect(scores.reduce((sum, s) => sum + s.score, 0)).toBeCloseTo(1, 12);
  });

  it('breaks ties by label index', () => {
    const scores = zeroShot(f32(1, 0), [f32(0, 1), f32(1, 0), f32(0, 1), f32(1, 0)], 100);
    expect(scores.map((s) => s.index)).toEqual([1, 3, 0, 2]);
    expect(scores[0].score).toBeCloseTo(0.5, 12);
    expect(scores[1].score).toBe(scores[0].score);
  });

  it('gives equal scores when logitScale is 0', () => {
    const scores = zeroShot(f32(1, 0), [f32(0, 1), f32(1, 0), f32(-1, 0)], 0);
    expect(scores.map((s) => s.index)).toEqual([0, 1, 2]);
    for (const s of scores) expect(s.score).toBeCloseTo(1 / 3, 12);
  });

  it('stays finite for large logits (no overflow in exp)', () => {
    const scores = zeroShot(f32(1, 0), [f32(0.5, 0), f32(1, 0)], 1000);
    expect(scores.map((s) => s.index)).toEqual([1, 0]);
    expect(scores[0].score).toBe(1);
    expect(scores[1].score).toBeCloseTo(Math.exp(-500), 300);
    expect(scores.every((s) => Number.isFinite(s.score))).toBe(true);
  });

  it('gives a single label all the score', () => {
    expect(zeroShot(f32(0, 1), [f32(1, 0)], 100)).toEqual([{ index: 0, similarity: 0, score: 1 }]);
  });

  it('throws a RangeError when a label differs in length from the image', () => {
    expect(() => zeroShot(f32(1, 0), [f32(1, 0), f32(1, 0, 0)], 1)).toThrow(new RangeError('vectors differ in length: 2 and 3'));
  });
});
