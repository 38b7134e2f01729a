import { PollingLoop, workerName } from '../../../gateway/common/polling';

/** A promise and its resolver. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Waits until `done` holds (a busy machine may take its time; 5 s is far past any step here). */
async function until(done: () => boolean): Promise<void> {
  for (const bound = Date.now() + 5_000; !done(); await new Promise((resolve) => setTimeout(resolve, 5)))
    if (Date.now() > bound) throw new Error('never happened');
}

describe('PollingLoop', () => {
  it('steps at once when started, then after the delay the step returns (an hour: no second step here)', async () => {
    let steps = 0;
    const loop = new PollingLoop(async () => (steps++, 3_600_000), 3_600_000);
    loop.start();
    loop.start(); // started twice: still one loop
    await until(() => steps > 0);
    await tick();
    expect(steps).toBe(1);
    await loop.stop();
    expect(loop.running).toBe(false);
  });

  it('steps again at once when woken during a step, once however often it was woken', async () => {
    const gates = [deferred(), deferred()];
    const entered: (() => void)[] = [];
    let steps = 0;
    const loop = new PollingLoop(async () => {
      const n = steps++;
      entered[n]?.();
      if (gates[n]) await gates[n]!.promise;
      return 3_600_000;
    }, 3_600_000);
    const firstEntered = new Promise<void>((resolve) => (entered[0] = resolve));
    const secondEntered = new Promise<void>((resolve) => (entered[1] = resolve));
    loop.start();
    await firstEntered;
    loop.wake();
    loop.wake();
    gates[0]!.resolve();
    await secondEntered;
    gates[1]!.resolve();
    await tick();
    expect(steps).toBe(2);
    // Woken while idle: a step at once, not after the hour.
    loop.wake();
    await until(() => steps === 3);
    await loop.stop();
  });

  it('waits on stop for the step in hand, and steps no more after it', async () => {
    const gate = deferred();
    let steps = 0;
    let finished = false;
    const loop = new PollingLoop(async () => {
      steps++;
      await gate.promise;
      finished = true;
      return 0;
    }, 0);
    loop.start();
    await until(() => steps === 1);
    const stopped = loop.stop();
    await tick();
    expect(finished).toBe(false);
    gate.resolve();
    await stopped;
    expect(finished).toBe(true);
    loop.wake(); // woken after stop: nothing runs
    await tick();
    expect(steps).toBe(1);
  });

  it('keeps looping after a step that throws, after idleMs', async () => {
    let steps = 0;
    const loop = new PollingLoop(async () => {
      steps++;
      if (steps === 1) throw new Error('the store went away');
      return 3_600_000;
    }, 0);
    loop.start();
    await until(() => steps === 2);
    await loop.stop();
  });
});

describe('workerName', () => {
  it('names the host and the process, and differs between two workers of one process', () => {
    const [a, b] = [workerName(), workerName()];
    expect(a).toMatch(new RegExp(`:${process.pid}:[0-9a-f]{8}$`));
    expect(a).not.toBe(b);
  });
});
