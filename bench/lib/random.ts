/**
 * A small deterministic PRNG (mulberry32): the same seed draws the same numbers on every run, so
 * generated images and workloads are the same from one run to the next. The benches and the tests
 * (test/helpers/tiny-clip.ts) share this one.
 */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
