import { createCipheriv } from 'node:crypto';

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

/**
 * `length` bytes of noise, the same for a seed on every run: the keystream of AES-128-CTR keyed by
 * the seed. For images that no compression shrinks, where drawing each byte from `seeded` took
 * seconds of CPU for a few megabytes.
 */
export function seededBytes(seed: number, length: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 12);
  const keystream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return keystream.update(Buffer.alloc(length));
}
