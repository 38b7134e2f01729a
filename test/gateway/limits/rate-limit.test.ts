import { RateLimiter } from '../../../gateway/limits';

describe('RateLimiter', () => {
  let now = 0;
  const clock = () => now;
  const limits = {
    inputsPerSecond: 10,
    inputsBurst: 20,
    writesPerSecond: 2,
    writesBurst: 4,
    bulkWritesPerSecond: 100,
    bulkWritesBurst: 200,
    loopback: false,
  };
  beforeEach(() => {
    now = 0;
  });

  it('lets a burst through, then refuses with the exact wait, and refills at the rate', () => {
    const limiter = new RateLimiter(limits, clock);
    expect(limiter.take('a', 20, 0)).toEqual({ ok: true });
    const refused = limiter.take('a', 5, 0);
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    if (refused.ok) throw new Error('unreachable');
    expect(refused.message).toMatch(/inference inputs \(10 a second, bursts of 20; this request has 5\)/);
    now = 400; // 4 tokens: still short of 5
    expect(limiter.take('a', 5, 0).ok).toBe(false);
    now = 500;
    expect(limiter.take('a', 5, 0).ok).toBe(true);
    now = 30_000;
    expect(limiter.take('a', 20, 0).ok).toBe(true); // full again, never above the burst
    expect(limiter.take('a', 1, 0).ok).toBe(false);
  });

  it('serves one request larger than the burst from a full bucket, and makes the client wait it off', () => {
    const limiter = new RateLimiter(limits, clock);
    expect(limiter.take('a', 100, 0).ok).toBe(true);
    const refused = limiter.take('a', 1, 0);
    // 100 taken from 20: 80 in debt, plus 1 for this request: 8.1 s at 10 a second.
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: 9 });
    now = 8_100;
    expect(limiter.take('a', 1, 0).ok).toBe(true);
  });

  it('keeps every client and each bucket apart, and takes from neither when one refuses', () => {
    const limiter = new RateLimiter(limits, clock);
    expect(limiter.take('a', 0, 4).ok).toBe(true);
    const refused = limiter.take('a', 5, 1);
    expect(refused).toMatchObject({ ok: false });
    if (refused.ok) throw new Error('unreachable');
    expect(refused.message).toMatch(/writes \(2 a second, bursts of 4; this request has 1\)/);
    // The refused request's 5 inputs were not taken: the whole burst is still there.
    expect(limiter.take('a', 20, 0).ok).toBe(true);
    expect(limiter.take('b', 20, 4).ok).toBe(true);
  });

  it("holds bulk writes to their own bucket, apart from the client's interactive writes, and leaves their inputs to admission", () => {
    const limiter = new RateLimiter(limits, clock);
    expect(limiter.take('admin', 0, 4).ok).toBe(true);
    expect(limiter.take('admin', 0, 1).ok).toBe(false); // the interactive writes bucket is empty
    // 200 products with 300 images: the bulk bucket gives them, and the inputs bucket (20) is not asked.
    expect(limiter.take('admin', 300, 200, 'bulk').ok).toBe(true);
    const refused = limiter.take('admin', 0, 50, 'bulk');
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    if (refused.ok) throw new Error('unreachable');
    expect(refused.message).toMatch(/bulk writes \(100 a second, bursts of 200; this request has 50\)/);
    now = 500;
    expect(limiter.take('admin', 0, 50, 'bulk').ok).toBe(true);
    // Bulk writes took nothing of the inputs: the whole inputs burst is still there.
    expect(limiter.take('admin', 20, 0).ok).toBe(true);
    const off = new RateLimiter({ ...limits, bulkWritesPerSecond: 0 }, clock);
    for (let i = 0; i < 100; i++) expect(off.take('admin', 1000, 1000, 'bulk').ok).toBe(true);
  });

  it('is off at 0 per second', () => {
    const limiter = new RateLimiter({ ...limits, inputsPerSecond: 0, writesPerSecond: 0, bulkWritesPerSecond: 0 }, clock);
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 100; i++) expect(limiter.take('a', 1000, 1000).ok).toBe(true);
  });

  it('names a bad limit', () => {
    expect(() => new RateLimiter({ ...limits, inputsBurst: 0 })).toThrow(/inputsBurst/);
    expect(() => new RateLimiter({ ...limits, bulkWritesPerSecond: -1 })).toThrow(/bulkWritesPerSecond/);
  });
});
