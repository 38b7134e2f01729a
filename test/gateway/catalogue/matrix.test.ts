import { matrixProduct } from '../../../gateway/catalogue/matrix';

describe('matrixProduct', () => {
  it('multiplies row-major matrices of any shape through ONNX Runtime', async () => {
    // [[1, 2, 3], [4, 5, 6]] · [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]]
    expect(await matrixProduct(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, Float32Array.from([1, 0, 0, 1, 1, 1]), 3, 2)).toEqual(
      Float32Array.from([4, 5, 10, 11]),
    );
    const n = 37;
    const k = 19;
    const m = 5;
    const a = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: k * m }, (_, i) => Math.cos(i));
    const c = await matrixProduct(a, n, b, k, m);
    for (const [row, col] of [
      [0, 0],
      [36, 4],
      [17, 2],
    ]) {
      let expected = 0;
      for (let i = 0; i < k; i++) expected += a[row * k + i] * b[i * m + col];
      expect(c[row * m + col]).toBeCloseTo(expected, 4);
    }
    expect(await matrixProduct(new Float32Array(0), 0, b, k, m)).toEqual(new Float32Array(0));
  });

  it('refuses matrices whose sizes do not match their shapes', async () => {
    await expect(matrixProduct(new Float32Array(5), 2, new Float32Array(6), 3, 2)).rejects.toThrow(/a has 5 values for 2 × 3/);
  });
});
