import { deflateSync } from 'node:zlib';

import { seeded, seededBytes } from '../../../bench/lib/random';

describe('seeded', () => {
  it('draws the same numbers for a seed on every run, in [0, 1), and others for another seed', () => {
    const draw = (seed: number) => Array.from({ length: 1000 }, seeded(seed));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    for (const value of draw(7)) expect(value >= 0 && value < 1).toBe(true);
    // mulberry32's first draw for seed 1: the generator is the published one, not a look-alike.
    expect(seeded(1)()).toBeCloseTo(0.6270739405881613, 15);
  });
});

describe('seededBytes', () => {
  it('gives the same bytes for a seed, other bytes for another seed, and a longer run extends a shorter one', () => {
    expect(seededBytes(42, 4096).equals(seededBytes(42, 4096))).toBe(true);
    expect(seededBytes(42, 4096).equals(seededBytes(43, 4096))).toBe(false);
    expect(seededBytes(42, 10_000).subarray(0, 4096).equals(seededBytes(42, 4096))).toBe(true);
  });

  it('is noise: every byte value about equally often, and no compression shrinks it', () => {
    const bytes = seededBytes(3, 256 * 1024);
    const counts = new Array<number>(256).fill(0);
    for (const byte of bytes) counts[byte]++;
    // 1,024 expected per value; a real keystream stays well within ±20%.
    expect(Math.min(...counts)).toBeGreaterThan(820);
    expect(Math.max(...counts)).toBeLessThan(1230);
    expect(deflateSync(bytes).length).toBeGreaterThanOrEqual(bytes.length);
  });
});
