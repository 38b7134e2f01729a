import { CopyScaler } from '../../../functions/sagemaker-local/copies';
import { ManualClock } from '../../helpers/clock';

/** The copy count as SageMaker's alarm, step policy and scale-in move it, on a clock moved by hand. */
describe('CopyScaler', () => {
  let clock: ManualClock;
  const lines: string[] = [];
  const scalers: CopyScaler[] = [];
  const scaler = (options: Partial<ConstructorParameters<typeof CopyScaler>[0]> = {}) => {
    const made = new CopyScaler({ clock, onChange: (line) => lines.push(line), ...options });
    scalers.push(made);
    return made;
  };

  beforeEach(() => {
    clock = new ManualClock();
    lines.length = 0;
  });
  afterEach(() => scalers.splice(0).forEach((s) => s.close()));

  it('serves at one copy by default and schedules nothing', () => {
    const s = scaler();
    expect([s.copies, s.state]).toEqual([1, 'in-service']);
    expect(s.admit()).toBe('serve');
    s.done();
    expect(clock.pending).toEqual([]);
  });

  it('at zero copies answers no-capacity, adds a copy wakeMs after the first failure, once', async () => {
    const s = scaler({ copies: 0, wakeMs: 5_000 });
    expect(s.state).toBe('cold');
    expect(clock.pending).toEqual([]);
    expect(s.admit()).toBe('no-capacity');
    expect(s.state).toBe('waking');
    expect(clock.pending).toEqual([5_000]);
    await clock.advance(2_000);
    // More failures while the alarm is pending add no second scale-out.
    expect(s.admit()).toBe('no-capacity');
    expect(clock.pending).toEqual([3_000]);
    await clock.advance(2_999);
    expect([s.copies, s.state, s.scaleOuts]).toEqual([0, 'waking', 0]);
    await clock.advance(1);
    expect([s.copies, s.state, s.scaleOuts]).toEqual([1, 'in-service', 1]);
    expect(lines).toEqual(['scale-out: 1 copy in service']);
    expect(s.admit()).toBe('serve');
  });

  it('answers not-ready while the new copy starts', async () => {
    const s = scaler({ copies: 0, wakeMs: 1_000, startingMs: 400 });
    expect(s.admit()).toBe('no-capacity');
    await clock.advance(1_000);
    expect([s.copies, s.state]).toEqual([0, 'starting']);
    expect(s.admit()).toBe('not-ready');
    expect(clock.pending).toEqual([400]);
    await clock.advance(400);
    expect([s.copies, s.state, s.scaleOuts]).toEqual([1, 'in-service', 1]);
    expect(lines).toEqual(['scale-out: the alarm fired, a copy is starting (400 ms)', 'scale-out: 1 copy in service']);
  });

  it('scales in to zero idleMs after the last invocation ended, never while one runs', async () => {
    const s = scaler({ copies: 1, idleMs: 30_000 });
    expect(clock.pending).toEqual([30_000]);
    await clock.advance(20_000);
    expect(s.admit()).toBe('serve');
    // Running: no idle timer at all, however long it takes.
    expect(clock.pending).toEqual([]);
    await clock.advance(100_000);
    expect(s.copies).toBe(1);
    s.done();
    expect(clock.pending).toEqual([30_000]);
    await clock.advance(29_999);
    expect(s.copies).toBe(1);
    await clock.advance(1);
    expect([s.copies, s.state, s.scaleIns]).toEqual([0, 'cold', 1]);
    expect(lines).toEqual(['scale-in: idle for 30000 ms, 0 copies']);
    // And wakes again as from the start.
    expect(s.admit()).toBe('no-capacity');
    expect(clock.pending).toEqual([10_000]);
  });

  it('setCopies takes effect at once and cancels a pending scale-out', async () => {
    const s = scaler({ copies: 0, wakeMs: 5_000, idleMs: 60_000 });
    s.admit();
    expect(clock.pending).toEqual([5_000]);
    s.setCopies(2);
    expect([s.copies, s.state]).toEqual([2, 'in-service']);
    expect(clock.pending).toEqual([60_000]);
    s.setCopies(0);
    expect([s.copies, s.state]).toEqual([0, 'cold']);
    expect(clock.pending).toEqual([]);
    expect(s.scaleOuts).toBe(0);
    expect(() => s.setCopies(-1)).toThrow('copies must be a non-negative integer, got -1');
  });

  it('close() cancels every timer', () => {
    const waking = scaler({ copies: 0, idleMs: 1_000 });
    waking.admit();
    scaler({ copies: 1, idleMs: 1_000 });
    expect(clock.pending).toEqual([1_000, 10_000]);
    scalers.forEach((s) => s.close());
    expect(clock.pending).toEqual([]);
  });

  it('names a bad option', () => {
    expect(() => scaler({ copies: 1.5 })).toThrow('copies must be a non-negative integer, got 1.5');
    expect(() => scaler({ wakeMs: 0 })).toThrow('wakeMs must be an integer from 1 to 2147483647, got 0');
    expect(() => scaler({ idleMs: -5 })).toThrow('idleMs must be an integer from 1 to 2147483647, got -5');
  });
});
