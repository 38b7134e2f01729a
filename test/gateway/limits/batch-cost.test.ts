import { BatchCost, secondsFor } from '../../../gateway/limits/batch-cost';

describe('BatchCost', () => {
  it('has no time before a batch has been timed', () => {
    expect(new BatchCost().time).toBeUndefined();
  });

  it('fits a batch time with a fixed part and a part per input from batches of varied sizes', () => {
    const cost = new BatchCost();
    for (const size of [1, 16, 4, 16, 8, 16, 2]) cost.observe(size, 0.05 + 0.07 * size);
    expect(cost.time!.fixed).toBeCloseTo(0.05);
    expect(cost.time!.perInput).toBeCloseTo(0.07);
    expect(secondsFor(cost.time!, 40, 16)).toBeCloseTo(3 * 0.05 + 40 * 0.07);
  });

  it('takes all of the time as per input while every batch has had the same size', () => {
    const cost = new BatchCost();
    for (let i = 0; i < 5; i++) cost.observe(16, 1.6);
    expect(cost.time).toEqual({ fixed: 0, perInput: expect.closeTo(0.1) });
  });

  it('forgets old batches: a backend that became slower is seen within a few batches', () => {
    const cost = new BatchCost();
    for (let i = 0; i < 50; i++) cost.observe(8, 0.8);
    for (let i = 0; i < 10; i++) cost.observe(8, 3.2);
    expect(cost.time!.perInput).toBeGreaterThan(0.35);
  });

  it('clamps a fit that noise tilts below zero at either end', () => {
    const flat = new BatchCost();
    for (const [size, seconds] of [
      [1, 0.42],
      [4, 0.4],
      [2, 0.41],
      [4, 0.39],
    ])
      flat.observe(size, seconds);
    expect(flat.time!.perInput).toBe(0);
    expect(flat.time!.fixed).toBeCloseTo(0.405, 2);
    const steep = new BatchCost();
    for (const [size, seconds] of [
      [1, 0.05],
      [4, 0.4],
      [2, 0.1],
      [4, 0.41],
    ])
      steep.observe(size, seconds);
    expect(steep.time!.fixed).toBe(0);
    expect(steep.time!.perInput).toBeGreaterThan(0.09);
  });

  it('counts nothing for no inputs, and a partial batch as a whole one for its fixed part', () => {
    expect(secondsFor({ fixed: 1, perInput: 0.5 }, 0, 4)).toBe(0);
    expect(secondsFor({ fixed: 1, perInput: 0.5 }, 5, 4)).toBeCloseTo(2 + 2.5);
  });
});
