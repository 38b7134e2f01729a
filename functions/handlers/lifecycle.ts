import type { ServedModel } from './served-model';

/**
 * Where a served function is in its life, which is what its health routes report:
 * - `loading`: listening, the model not loaded yet (/ping 204, /readyz 503, invocations 503 + Retry-After);
 * - `ready`: serving (/ping 200, /readyz 200);
 * - `draining`: shutting down, finishing what is in flight, refusing the rest (503 everywhere);
 * - `broken`: the model failed to load or the device failed (503 everywhere); the process leaves.
 */
export type FunctionState = 'loading' | 'ready' | 'draining' | 'broken';

/**
 * The state shared by the function's HTTP servers (invocations, and a separate health port) and
 * the process around them, with the count of invocations in flight that a shutdown waits for.
 */
export class FunctionLifecycle {
  private current: FunctionState = 'loading';
  private served?: ServedModel;
  private why = '';
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private brokenListeners: ((reason: string) => void)[] = [];

  /** A lifecycle that is ready at once: for a model loaded before the server was made. */
  static serving(model: ServedModel): FunctionLifecycle {
    const lifecycle = new FunctionLifecycle();
    lifecycle.ready(model);
    return lifecycle;
  }

  get state(): FunctionState {
    return this.current;
  }

  /** The model once loaded; kept while draining or broken, for the invocations still in flight. */
  get model(): ServedModel | undefined {
    return this.served;
  }

  /** Why the function is broken or draining, for health answers and logs; empty otherwise. */
  get reason(): string {
    return this.why;
  }

  get inFlight(): number {
    return this.running;
  }

  /**
   * The model has loaded. False when the function stopped meanwhile (a SIGTERM during the load,
   * or broken): then the caller releases the model, which will never serve.
   */
  ready(model: ServedModel): boolean {
    if (this.current !== 'loading') return false;
    this.served = model;
    this.current = 'ready';
    return true;
  }

  /** Unrecoverable (the load failed, the device failed): health answers 503 from now on; listeners hear it once. */
  broken(reason: string): void {
    if (this.current === 'broken') return;
    this.current = 'broken';
    this.why = reason;
    for (const listener of this.brokenListeners.splice(0)) listener(reason);
  }

  /** Shutting down: no new invocations. A broken function stays broken (that is the truer answer). */
  drain(reason: string): void {
    if (this.current === 'broken' || this.current === 'draining') return;
    this.current = 'draining';
    this.why = reason;
  }

  onBroken(listener: (reason: string) => void): void {
    if (this.current === 'broken') listener(this.why);
    else this.brokenListeners.push(listener);
  }

  /** Counts `work` as one invocation in flight until it settles. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves once no invocation is in flight (at once if none is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
