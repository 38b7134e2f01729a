// The copy count of an inference component that scales to zero, and the two things that move it
// on SageMaker: a CloudWatch alarm on NoCapacityInvocationFailures firing a step scaling policy
// (+1 copy), since target tracking cannot scale out from zero; and scale-in once the component
// has been idle. Time comes from an injected clock, so tests move it by hand.
import type { Clock } from '../clock';
import { check, nonNegativeInt, timeoutMs } from '../options';

/**
 * `in-service`: copies > 0, calls are served. `cold`: zero copies and nothing scheduled.
 * `waking`: zero copies, a scale-out is coming (the alarm has seen failures). `starting`: the new
 * copy is being placed and its container started.
 */
export type CapacityState = 'in-service' | 'cold' | 'waking' | 'starting';

/** What capacity says to one call: serve it, or the answer the service gives instead. */
export type Admission = 'serve' | 'no-capacity' | 'not-ready';

export interface CopyScalerOptions {
  /** Copies at the start. Default 1. */
  copies?: number;
  /**
   * From the first no-capacity failure to the scale-out (the alarm's evaluation plus the step
   * policy's reaction; minutes on SageMaker). Default 10,000 ms.
   */
  wakeMs?: number;
  /** After the scale-out, how long the new copy starts, answering ModelNotReadyException. Default 0. */
  startingMs?: number;
  /** Scale in to zero after this long without invocations. Default: never. */
  idleMs?: number;
  clock: Clock;
  /** Told of every scale-out and scale-in, for the log. */
  onChange?: (line: string) => void;
}

export class CopyScaler {
  private count: number;
  private phase: 'steady' | 'waking' | 'starting' = 'steady';
  private timer: unknown;
  private idleTimer: unknown;
  private active = 0;
  private scaleOutCount = 0;
  private scaleInCount = 0;
  private readonly wakeMs: number;
  private readonly startingMs: number;
  private readonly idleMs: number | undefined;
  private readonly clock: Clock;
  private readonly onChange: (line: string) => void;

  constructor(options: CopyScalerOptions) {
    this.count = check('copies', options.copies ?? 1, nonNegativeInt);
    this.wakeMs = check('wakeMs', options.wakeMs ?? 10_000, timeoutMs);
    this.startingMs = check('startingMs', options.startingMs ?? 0, nonNegativeInt);
    this.idleMs = options.idleMs === undefined ? undefined : check('idleMs', options.idleMs, timeoutMs);
    this.clock = options.clock;
    this.onChange = options.onChange ?? (() => {});
    this.armIdle();
  }

  get copies(): number {
    return this.count;
  }

  get state(): CapacityState {
    if (this.count > 0) return 'in-service';
    return this.phase === 'steady' ? 'cold' : this.phase;
  }

  get scaleOuts(): number {
    return this.scaleOutCount;
  }

  get scaleIns(): number {
    return this.scaleInCount;
  }

  /** Called once per invocation; a served one must be followed by done(). */
  admit(): Admission {
    if (this.count > 0) {
      this.active++;
      this.disarmIdle();
      return 'serve';
    }
    if (this.phase === 'starting') return 'not-ready';
    if (this.phase === 'steady') {
      this.phase = 'waking';
      this.timer = this.clock.setTimeout(() => this.scaleOut(), this.wakeMs);
    }
    return 'no-capacity';
  }

  /** A served invocation ended: the idle period counts from the last one. */
  done(): void {
    this.active--;
    this.armIdle();
  }

  /** Sets the copy count now, as UpdateInferenceComponentRuntimeConfig would; cancels a pending scale-out. */
  setCopies(copies: number): void {
    check('copies', copies, nonNegativeInt);
    this.cancelScaling();
    this.count = copies;
    this.disarmIdle();
    this.armIdle();
  }

  /** Cancels every timer. */
  close(): void {
    this.cancelScaling();
    this.disarmIdle();
  }

  private scaleOut(): void {
    this.timer = undefined;
    if (this.startingMs > 0) {
      this.phase = 'starting';
      this.onChange(`scale-out: the alarm fired, a copy is starting (${this.startingMs} ms)`);
      this.timer = this.clock.setTimeout(() => this.inService(), this.startingMs);
    } else {
      this.inService();
    }
  }

  private inService(): void {
    this.timer = undefined;
    this.phase = 'steady';
    this.count++;
    this.scaleOutCount++;
    this.onChange(`scale-out: ${this.count} cop${this.count === 1 ? 'y' : 'ies'} in service`);
    this.armIdle();
  }

  private cancelScaling(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.phase = 'steady';
  }

  private armIdle(): void {
    if (this.idleMs === undefined || this.count === 0 || this.active > 0) return;
    this.disarmIdle();
    this.idleTimer = this.clock.setTimeout(() => {
      this.idleTimer = undefined;
      this.count = 0;
      this.scaleInCount++;
      this.onChange(`scale-in: idle for ${this.idleMs} ms, 0 copies`);
    }, this.idleMs);
  }

  private disarmIdle(): void {
    if (this.idleTimer !== undefined) this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
