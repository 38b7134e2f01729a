import type { Clock } from '../../gateway/common/clock';

interface Timer {
  at: number;
  callback: () => void;
}

/**
 * A clock the test moves by hand: time stands still, and timers fire only in advance(), in the
 * order they fall due (ties in the order they were set), each with now() at its own due time.
 */
export class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  now = (): number => this.time;

  setTimeout = (callback: () => void, ms: number): number => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** How far ahead each pending timer is, soonest first. */
  get pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }

  /**
   * Moves time `ms` forward, firing every timer that falls due on the way, including those set by
   * earlier callbacks (and their promise continuations) within the same span.
   */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      const due = this.nextDue(target);
      if (!due) break;
      this.timers.delete(due.id);
      this.time = due.at;
      due.callback();
      await flushPromises();
    }
    this.time = target;
    await flushPromises();
  }

  private nextDue(until: number): { id: number; at: number; callback: () => void } | undefined {
    let next: { id: number; at: number; callback: () => void } | undefined;
    for (const [id, timer] of this.timers) {
      if (timer.at <= until && (!next || timer.at < next.at)) next = { id, ...timer };
    }
    return next;
  }
}

/** Lets pending promise continuations (and callbacks queued behind them) run. */
export const flushPromises = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Waits until `condition` holds, checking every millisecond of real time so that real I/O (a
 * socket, a child's answer) can make progress meanwhile. `limitMs` is a safety net against a
 * test that would otherwise hang, not a timing assertion.
 */
export async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`gave up after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Whether `promise` has settled, without waiting for it; call after flushPromises(). */
export function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}
