import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A worker's name in the claims it makes in a shared store: host, process and a random suffix. */
export function workerName(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * The loop of a worker that polls a shared store (the job runner, the shop's inbox): `step` runs
 * at once when started, then again after the delay it returns; a wake runs it at once, or as soon
 * as the step under way ends, so that work just recorded is not left for the next poll. One step
 * at a time; `stop` waits for the one in hand. A step that throws is run again after `idleMs`
 * (steps catch and log their own failures; this only keeps the loop alive). Its timer never keeps
 * the process alive: the host's server does.
 */
export class PollingLoop {
  private timer?: NodeJS.Timeout;
  private current?: Promise<void>;
  private stopped = true;
  private woken = false;

  constructor(
    private readonly step: () => Promise<number>,
    private readonly idleMs: number,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  wake(): void {
    if (this.current) this.woken = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.woken = false;
      this.current = this.step()
        .catch(() => this.idleMs)
        .then((next) => {
          this.current = undefined;
          this.schedule(this.woken ? 0 : next);
        });
    }, ms);
    this.timer.unref();
  }
}
